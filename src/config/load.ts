// Loads the configuration once at start-up: the defaults file, an optional override file
// (KDEBUG_CONFIG), then environment variables, over the schema's defaults. Nothing else in kdebug
// reads process.env.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CheckDefinition } from '../checks/types.js';
import { PACKAGE_ROOT } from './package-root.js';
import { configSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_PATH = join(PACKAGE_ROOT, 'config', 'kdebug.yaml');

/** A setting is wrong or missing: the message is one line naming it and saying how to fix it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment names people already know, for the settings that have them. */
const WELL_KNOWN_ENV: Record<string, string> = {
  'redis.url': 'REDIS_URL',
  'slack.port': 'PORT',
  'slack.apiUrl': 'SLACK_API_URL',
  'kubernetes.kubeconfig': 'KUBECONFIG',
  'log.level': 'LOG_LEVEL',
};

/** kubernetes.debugImage -> KDEBUG_KUBERNETES_DEBUG_IMAGE */
export function envNameFor(path: string): string {
  return (
    WELL_KNOWN_ENV[path] ??
    `KDEBUG_${path
      .replace(/\./g, '_')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase()}`
  );
}

/** Settings that moved to the check that owns them (0.1 → 0.2), with the sentence that says where. */
const MOVED_SETTINGS: Record<string, string> = Object.fromEntries(
  Object.entries({
    tlsExpiringSoonDays: 'checks.tls.expiringSoonDays',
    httpMaxSeconds: 'checks.http.maxSeconds (and checks.tls.maxSeconds for tls)',
    pingCount: 'checks.ping.count',
    traceMaxHops: 'checks.trace.maxHops',
    captureDefaultSeconds: 'checks.capture.defaultSeconds',
    captureMaxSeconds: 'checks.capture.maxSeconds',
    captureMaxPackets: 'checks.capture.maxPackets',
    captureMaxBytes: 'checks.capture.maxBytes',
  }).map(([old, now]) => [`checks.${old}`, `setting checks.${old} moved: each check owns its settings now; use ${now}`]),
);

type Tree = { [key: string]: unknown };
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function readYaml(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; set KDEBUG_CONFIG to a readable YAML file`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data == null) return {};
  if (!isTree(data)) throw new ConfigError(`config file ${path} must be a YAML mapping of sections (slack, redis, kubernetes, …)`);
  return data;
}

function overlay(base: Tree, top: Tree, origin: Map<string, string>, source: string, prefix = ''): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(top)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const current = out[key];
    if (isTree(current) && isTree(value)) out[key] = overlay(current, value, origin, source, path);
    else {
      out[key] = value;
      origin.set(path, source);
    }
  }
  return out;
}

function leafPaths(tree: Tree, prefix = ''): Array<[string, unknown]> {
  return Object.entries(tree).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return isTree(value) ? leafPaths(value, path) : [[path, value] as [string, unknown]];
  });
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) node = node[key] as Tree;
  node[keys[keys.length - 1]!] = value;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  defaultsPath?: string;
}

export function loadConfig({ env = process.env, defaultsPath = DEFAULT_CONFIG_PATH }: LoadOptions = {}): Config {
  const origin = new Map<string, string>();
  let merged = readYaml(defaultsPath);
  for (const [path] of leafPaths(merged)) origin.set(path, defaultsPath);
  const overridePath = env.KDEBUG_CONFIG;
  if (overridePath) merged = overlay(merged, readYaml(overridePath), origin, overridePath);

  // Environment overrides: every setting with a default has a variable; numbers are parsed.
  for (const [path, defaultValue] of leafPaths(configSchema.parse({}))) {
    const name = envNameFor(path);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = typeof defaultValue === 'number' ? Number(raw) : raw;
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a number; set ${name} to a number like ${String(defaultValue)}`);
    }
    setPath(merged, path, value);
    origin.set(path, `environment variable ${name}`);
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const where = path ? `${path}.` : '';
      const moved = issue.keys.map((k) => MOVED_SETTINGS[where + k]).find(Boolean);
      if (moved) throw new ConfigError(`${moved} (in ${overridePath ?? defaultsPath})`);
      throw new ConfigError(
        `unknown setting ${issue.keys.map((k) => where + k).join(', ')} in ${overridePath ?? defaultsPath}; remove it or check its spelling against ${defaultsPath}`,
      );
    }
    const from = origin.get(path) ?? overridePath ?? defaultsPath;
    const fix = from.startsWith('environment') ? `fix ${envNameFor(path)}` : `fix it in ${from} or set ${envNameFor(path)}`;
    throw new ConfigError(`invalid setting ${path || '(root)'} (from ${from}): ${issue.message}; ${fix}`);
  }
  return {
    ...parsed.data,
    secrets: {
      botToken: env.SLACK_BOT_TOKEN || undefined,
      signingSecret: env.SLACK_SIGNING_SECRET || undefined,
      appToken: env.SLACK_APP_TOKEN || undefined,
    },
    source: overridePath ?? defaultsPath,
  };
}

export type Role = 'bot' | 'worker' | 'all';

/** Socket Mode when an app token is there (or forced), HTTP otherwise. */
export function slackTransport(config: Config): 'socket' | 'http' {
  if (config.slack.mode === 'auto') return config.secrets.appToken ? 'socket' : 'http';
  return config.slack.mode;
}

/** The secrets each role needs; a missing one stops start-up with a line that says where to find it. */
export function requireSecretsFor(role: Role, config: Config): void {
  const { botToken, signingSecret, appToken } = config.secrets;
  // A worker may run without Slack credentials (another cluster's, say): the bot delivers its answers.
  if (role === 'worker' && !botToken) return;
  if (!botToken) {
    throw new ConfigError('SLACK_BOT_TOKEN is not set; set it to the Bot User OAuth Token (xoxb-…) from your Slack app\'s "OAuth & Permissions" page');
  }
  if (!botToken.startsWith('xoxb-')) throw new ConfigError('SLACK_BOT_TOKEN must be a bot token starting with "xoxb-"; copy the Bot User OAuth Token from "OAuth & Permissions"');
  if (role === 'worker') return;
  if (slackTransport(config) === 'socket') {
    if (!appToken)
      throw new ConfigError(
        'slack.mode is "socket" but SLACK_APP_TOKEN is not set; create an app-level token with connections:write under "Basic Information" and set SLACK_APP_TOKEN',
      );
    if (!appToken.startsWith('xapp-')) throw new ConfigError('SLACK_APP_TOKEN must be an app-level token starting with "xapp-" (Basic Information → App-Level Tokens)');
  } else if (!signingSecret) {
    throw new ConfigError(
      'SLACK_SIGNING_SECRET is not set (needed in HTTP mode); copy the Signing Secret from your Slack app\'s "Basic Information" page, or set SLACK_APP_TOKEN to use Socket Mode',
    );
  }
}

/**
 * A job's deadline when the command gives no --timeout: the config's for this check, else the
 * check's own default, else the installation's default.
 */
export function defaultTimeoutFor(config: Config, check: Pick<CheckDefinition, 'name' | 'defaultTimeoutSeconds'>): number {
  return config.jobs.checkTimeoutSeconds[check.name] ?? check.defaultTimeoutSeconds ?? config.jobs.defaultTimeoutSeconds;
}
