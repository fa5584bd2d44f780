import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, envNameFor, loadConfig, requireSecretsFor, slackTransport } from '../../../src/config/load.js';

function tempFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kdebug-config-')), 'kdebug.yaml');
  writeFileSync(path, content);
  return path;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('the shipped file holds every setting and is valid on its own', () => {
    const config = loadConfig({ env: {} });
    expect(config.kubernetes.debugImage).toBe('nicolaka/netshoot');
    expect(config.kubernetes.defaultNamespace).toBe('default');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.slack.apiUrl).toBe('https://slack.com/api/');
    expect(config.secrets).toEqual({ botToken: undefined, signingSecret: undefined, appToken: undefined });
  });

  test('well-known and derived environment variables override the file', () => {
    const config = loadConfig({
      env: {
        REDIS_URL: 'redis://10.1.2.3:6380',
        PORT: '8080',
        SLACK_API_URL: 'http://127.0.0.1:9999/api/',
        KUBECONFIG: '/tmp/kc',
        KDEBUG_KUBERNETES_DEBUG_IMAGE: 'registry.local/netshoot:1',
        KDEBUG_QUEUE_CONCURRENCY: '7',
        SLACK_BOT_TOKEN: 'xoxb-1',
      },
    });
    expect(config.redis.url).toBe('redis://10.1.2.3:6380');
    expect(config.slack.port).toBe(8080);
    expect(config.slack.apiUrl).toBe('http://127.0.0.1:9999/api/');
    expect(config.kubernetes.kubeconfig).toBe('/tmp/kc');
    expect(config.kubernetes.debugImage).toBe('registry.local/netshoot:1');
    expect(config.queue.concurrency).toBe(7);
    expect(config.secrets.botToken).toBe('xoxb-1');
  });

  test('KDEBUG_CONFIG overlays a partial file', () => {
    const path = tempFile('kubernetes:\n  defaultNamespace: prod\n');
    const config = loadConfig({ env: { KDEBUG_CONFIG: path } });
    expect(config.kubernetes.defaultNamespace).toBe('prod');
    expect(config.kubernetes.debugImage).toBe('nicolaka/netshoot');
    expect(config.source).toBe(path);
  });

  test.each([
    [{ KDEBUG_QUEUE_CONCURRENCY: 'lots' }, /KDEBUG_QUEUE_CONCURRENCY="lots" is not a number/],
    [{ REDIS_URL: 'http://x' }, /invalid setting redis\.url \(from environment variable REDIS_URL\).*fix REDIS_URL/],
    [{ KDEBUG_KUBERNETES_IMAGE_PULL_POLICY: 'Sometimes' }, /kubernetes\.imagePullPolicy.*KDEBUG_KUBERNETES_IMAGE_PULL_POLICY/],
    [{ KDEBUG_KUBERNETES_DEFAULT_NAMESPACE: 'Prod_1' }, /kubernetes\.defaultNamespace.*Kubernetes namespace name/],
  ])('a bad environment value names the variable: %p', (env, pattern) => {
    const message = configError(() => loadConfig({ env }));
    expect(message).toMatch(pattern);
    expect(message).not.toContain('\n');
  });

  test('a bad file names the setting and the file', () => {
    const path = tempFile('queue:\n  concurrency: 0\n');
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: path } }))).toMatch(new RegExp(`invalid setting queue\\.concurrency \\(from ${path}\\).*KDEBUG_QUEUE_CONCURRENCY`));
  });

  test('an unknown setting is named', () => {
    const path = tempFile('kubernetes:\n  debugImg: x\n');
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: path } }))).toMatch(/unknown setting kubernetes\.debugImg/);
  });

  test('a missing or broken file says so', () => {
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: '/nonexistent/kdebug.yaml' } }))).toMatch(/cannot read config file \/nonexistent\/kdebug\.yaml: ENOENT/);
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: tempFile('slack: [unclosed') } }))).toMatch(/not valid YAML/);
  });

  test('envNameFor', () => {
    expect(envNameFor('kubernetes.debugImage')).toBe('KDEBUG_KUBERNETES_DEBUG_IMAGE');
    expect(envNameFor('redis.url')).toBe('REDIS_URL');
  });
});

describe('secrets per role', () => {
  const base = (env: Record<string, string>) => loadConfig({ env });

  test('the bot in HTTP mode needs the bot token and signing secret', () => {
    expect(configError(() => requireSecretsFor('bot', base({})))).toMatch(/SLACK_BOT_TOKEN is not set/);
    expect(configError(() => requireSecretsFor('bot', base({ SLACK_BOT_TOKEN: 'xoxb-1' })))).toMatch(/SLACK_SIGNING_SECRET is not set/);
    expect(() => requireSecretsFor('bot', base({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }))).not.toThrow();
  });

  test('an app token selects Socket Mode', () => {
    const config = base({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(slackTransport(config)).toBe('socket');
    expect(() => requireSecretsFor('all', config)).not.toThrow();
    expect(configError(() => requireSecretsFor('bot', base({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-wrong' })))).toMatch(/must be an app-level token/);
  });

  test('the worker needs at most the bot token, and none at all (the bot then delivers its answers)', () => {
    expect(() => requireSecretsFor('worker', base({ SLACK_BOT_TOKEN: 'xoxb-1' }))).not.toThrow();
    expect(configError(() => requireSecretsFor('worker', base({ SLACK_BOT_TOKEN: 'xoxp-user' })))).toMatch(/must be a bot token/);
    expect(() => requireSecretsFor('worker', base({}))).not.toThrow();
    expect(configError(() => requireSecretsFor('bot', base({})))).toMatch(/^SLACK_BOT_TOKEN is not set/);
  });
});

test("per-check deadlines apply when the command gives no --timeout: config, else the check's own, else the default", async () => {
  const { defaultTimeoutFor } = await import('../../../src/config/load.js');
  const { checks } = await import('../../../src/checks/index.js');
  const config = loadConfig({ env: {} });
  expect(defaultTimeoutFor(config, checks.get('capture')!)).toBe(120);
  expect(defaultTimeoutFor(config, checks.get('trace')!)).toBe(90);
  expect(defaultTimeoutFor(config, checks.get('dns')!)).toBe(60);
  const configured = loadConfig({ env: { KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30' } });
  expect(defaultTimeoutFor({ ...configured, jobs: { ...configured.jobs, checkTimeoutSeconds: { capture: 200 } } }, checks.get('capture')!)).toBe(200);
  expect(defaultTimeoutFor(configured, checks.get('dns')!)).toBe(30);
});

describe('defaults live in one place', () => {
  test('the shipped config/kdebug.yaml holds exactly the schema defaults', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const { DEFAULT_CONFIG_PATH } = await import('../../../src/config/load.js');
    const { configSchema } = await import('../../../src/config/schema.js');
    expect(parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8'))).toEqual(configSchema.parse({}));
  });

  test('a check setting has an environment variable named after its path', () => {
    const config = loadConfig({ env: { KDEBUG_CHECKS_CAPTURE_MAX_BYTES: '1048576', KDEBUG_CHECKS_TLS_EXPIRING_SOON_DAYS: '30' } });
    expect(config.checks).toMatchObject({ capture: { maxBytes: 1048576 }, tls: { expiringSoonDays: 30, maxSeconds: 10 } });
  });

  test('a setting from before checks owned their settings says where it moved', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = `${mkdtempSync(`${tmpdir()}/kdebug-config-`)}/old.yaml`;
    writeFileSync(file, 'checks:\n  captureMaxBytes: 1048576\n');
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: file } }))).toMatch(/checks\.captureMaxBytes moved.*checks\.capture\.maxBytes/);
  });

  test('a deadline for a check that does not exist is refused as an unknown setting', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = `${mkdtempSync(`${tmpdir()}/kdebug-config-`)}/typo.yaml`;
    writeFileSync(file, 'jobs:\n  checkTimeoutSeconds:\n    captrue: 180\n');
    expect(configError(() => loadConfig({ env: { KDEBUG_CONFIG: file } }))).toMatch(/unknown setting jobs\.checkTimeoutSeconds\.captrue in /);
  });
});
