// The `http` check: one GET with curl from inside the pod, body thrown away, and a verdict on what
// came back: the status, or why nothing did (name, connection, TLS, time), with a timing breakdown.
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { formatLatency } from '../core/duration.js';
import { formatHostPort, hostProblem, normalizeHost } from '../core/host.js';
import { clip as clipTo, firstLine as firstLineOf } from '../core/text.js';
import { numberFact, stringFact } from './fanout/facts.js';
import { interpretSafely } from './guard.js';
import {
  refusalWithUsage,
  settingsOf,
  stepSeconds,
  type CheckContext,
  type CheckDefinition,
  type FanoutTraits,
  type Finding,
  type Step,
  type StepResult,
  type VerdictTable,
} from './types.js';

export interface HttpArgs {
  /** Normalized (WHATWG) http or https URL without credentials or fragment. */
  url: string;
  /** CA bundle for `kdebug run --local` against private servers. */
  cacert?: string;
}

export type HttpVerdict = 'ok' | 'http-error' | 'connection-refused' | 'timeout' | 'dns-failure' | 'tls-error';

const VERDICTS: { readonly [V in HttpVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  'http-error': { class: 'bad', severity: 65 },
  'connection-refused': { class: 'bad', severity: 85 },
  timeout: { class: 'bad', severity: 100 },
  'dns-failure': { class: 'bad', severity: 90 },
  'tls-error': { class: 'bad', severity: 70 },
};

const settings = z.strictObject({
  /** curl's --max-time (seconds). */
  maxSeconds: z.number().int().min(1).max(600).default(10),
});

const USAGE = 'http <target> <url> [--cacert FILE]';
const STEP_ID = 'curl';
const MAX_URL_LENGTH = 2048;
/** Marks where curl's --write-out block starts, so nothing the server sent can pose as it. */
const WRITE_OUT_MARKER = '--- curl --write-out ---';
const WRITE_OUT_FIELDS = [
  'exitcode',
  'errormsg',
  'response_code',
  'http_version',
  'remote_ip',
  'remote_port',
  'time_namelookup',
  'time_connect',
  'time_appconnect',
  'time_pretransfer',
  'time_starttransfer',
  'time_total',
] as const;

// ---------------------------------------------------------------------------------------------
// Arguments (the host and --cacert checks are shared with the tls check)

/** Why `path` cannot be given to curl --cacert / openssl -CAfile, or undefined. */
export function cacertProblem(path: string): string | undefined {
  if (path.trim() === '') return '`--cacert` needs the path of a PEM file with the CA certificates to trust';
  if (path.startsWith('-')) return '`--cacert` must be a file path; it must not start with `-`';
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return '`--cacert` contains control characters';
  if (path.length > 4096) return '`--cacert` is longer than 4096 characters';
  return undefined;
}

function clip(text: string): string {
  return clipTo(text, 80);
}

/**
 * An http(s) URL as curl will get it. Without a scheme, http:// is assumed (as curl does). Any
 * user:pass@ part is refused without being repeated: such messages are posted to a channel.
 */
export function parseHttpUrl(text: string): { ok: true; url: URL } | { ok: false; message: string } {
  const raw = text.trim();
  if (raw === '') return { ok: false, message: 'Which URL? e.g. `http://web.prod.svc.cluster.local:8080/healthz`' };
  if (raw.startsWith('-')) return { ok: false, message: `\`${clip(raw)}\` starts with \`-\`; give a URL, e.g. \`http://web.prod/healthz\`` };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(withScheme)) {
    return {
      ok: false,
      message: 'That URL contains credentials (`user:password@`). kdebug never sends credentials, and keeps them out of messages: remove them (the URL is not repeated here)',
    };
  }
  const shown = clip(raw);
  if (raw.length > MAX_URL_LENGTH) return { ok: false, message: `The URL is longer than ${MAX_URL_LENGTH} characters` };
  if (/\s/.test(raw)) return { ok: false, message: `\`${shown}\` contains whitespace; percent-encode it (\`%20\`)` };
  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:]*):(\d+)(?:[/?#]|$)/i.exec(withScheme)?.[1];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) {
    return { ok: false, message: `\`${shown}\`: the port must be a number from 1 to 65535` };
  }
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { ok: false, message: `\`${shown}\` is not a valid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `\`${shown}\`: only http:// and https:// URLs can be checked` };
  }
  // WHATWG parsing never yields credentials here (refused above), but make it certain.
  if (url.username !== '' || url.password !== '') return { ok: false, message: 'That URL contains credentials; remove them' };
  const problem = hostProblem(normalizeHost(url.hostname));
  if (problem) return { ok: false, message: `${problem}` };
  url.hash = '';
  return { ok: true, url };
}

const withUsage = refusalWithUsage(USAGE);

// ---------------------------------------------------------------------------------------------
// Steps

function maxSeconds(context: CheckContext | undefined): number {
  return stepSeconds(settingsOf(httpCheck, context).maxSeconds, context);
}

/**
 * `-q` ignores any ~/.curlrc; `--verbose` shows the address tried, the reason a connect failed,
 * the TLS session and the response headers; `--silent --show-error` drop the progress meter but
 * keep errors; `--globoff` stops `[]` and `{}` in the URL from being read as curl globs;
 * `--proto` keeps curl to http and https; `--write-out` adds the numbers (status, timings, exit
 * code) as key=value lines after a marker. No -L: a redirect is reported, not followed.
 */
export function curlArgv(args: HttpArgs, seconds: number): string[] {
  const writeOut = `\\n${WRITE_OUT_MARKER}\\n${WRITE_OUT_FIELDS.map((f) => `${f}=%{${f}}\\n`).join('')}`;
  return [
    'curl',
    '-q',
    '--verbose',
    '--silent',
    '--show-error',
    '--globoff',
    '--proto',
    '=http,https',
    '--max-time',
    String(seconds),
    '--output',
    '/dev/null',
    '--write-out',
    writeOut,
    ...(args.cacert !== undefined ? ['--cacert', args.cacert] : []),
    '--',
    args.url,
  ];
}

// ---------------------------------------------------------------------------------------------
// Parsing curl's output

export interface CurlOutput {
  /** curl's own exit code as it reported it (--write-out, else the `curl: (N)` line). */
  exitCode?: number;
  /** curl's error message, e.g. "Could not resolve host: web.prod". */
  error?: string;
  /** The last final status line, e.g. { version: "HTTP/1.1", code: 503, reason: "Service Unavailable" }. */
  status?: { version: string; code: number; reason?: string };
  /** Response headers of that status, names lower-cased; the last of a repeated header wins. */
  headers: Record<string, string>;
  remote?: { ip: string; port: number };
  /** Seconds from the start, as curl measures them; 0 means "did not get there". */
  times: Partial<Record<'namelookup' | 'connect' | 'appconnect' | 'pretransfer' | 'starttransfer' | 'total', number>>;
  /** `connect to 10.0.0.5 port 80 failed: Connection refused`, per address tried. */
  connectFailures: { ip: string; port: number; reason: string }[];
  /** The addresses curl tried, "10.0.0.5:80" / "[fd00::5]:80". */
  tried: string[];
  connected: boolean;
  tlsStarted: boolean;
  /** "TLSv1.3 / TLS_AES_256_GCM_SHA384". */
  tls?: string;
  requestSent: boolean;
}

function nonNegative(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Read curl --verbose output plus our --write-out block. Tolerates anything; missing parts stay unset. */
export function parseCurlOutput(text: string): CurlOutput {
  const out: CurlOutput = { headers: {}, times: {}, connectFailures: [], tried: [], connected: false, tlsStarted: false, requestSent: false };
  const lines = String(text ?? '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\r$/, ''));
  const marker = lines.lastIndexOf(WRITE_OUT_MARKER);

  lines.forEach((line, i) => {
    if (marker >= 0 && i > marker) return;
    const trying = /^\*\s+Trying (\S+?)\.\.\.$/.exec(line);
    if (trying) out.tried.push(trying[1] ?? '');
    const failed = /^\* connect to (\S+) port (\d+) failed: (.+)$/.exec(line);
    if (failed) out.connectFailures.push({ ip: failed[1] ?? '', port: Number(failed[2]), reason: failed[3] ?? '' });
    if (/^\* Connected to /.test(line)) out.connected = true;
    if (/^\* TLSv[\d.]+ \(OUT\), TLS handshake, Client hello/.test(line)) out.tlsStarted = true;
    const tls = /^\* SSL connection using (\S+) \/ (\S+)/.exec(line);
    if (tls) out.tls = `${tls[1]} / ${tls[2]}`;
    if (/^> [A-Z]+ \S+ HTTP\/[\d.]+$/.test(line)) out.requestSent = true;
    const status = /^< (HTTP\/[\d.]+) (\d{3})(?: (.*))?$/.exec(line);
    if (status) {
      const code = Number(status[2]);
      // 1xx are interim answers (100 Continue); the final status follows.
      if (code >= 200) {
        out.status = { version: status[1] ?? '', code, ...(status[3]?.trim() ? { reason: status[3].trim() } : {}) };
        out.headers = {};
      }
    }
    const header = /^< ([A-Za-z0-9!#$%&'*+.^_`|~-]+):\s*(.*)$/.exec(line);
    if (header && out.status) out.headers[(header[1] ?? '').toLowerCase()] = (header[2] ?? '').trim();
    const error = /^curl: \((\d+)\) (.*)$/.exec(line);
    if (error) {
      out.exitCode = Number(error[1]);
      out.error = error[2];
    }
  });

  if (marker >= 0) {
    const fields = new Map<string, string>();
    for (const line of lines.slice(marker + 1)) {
      const kv = /^([a-z_]+)=(.*)$/.exec(line);
      if (kv) fields.set(kv[1] ?? '', kv[2] ?? '');
    }
    const exit = nonNegative(fields.get('exitcode'));
    if (exit !== undefined && Number.isInteger(exit)) out.exitCode = exit;
    const error = fields.get('errormsg');
    if (error) out.error = error;
    else if (exit === 0) delete out.error;
    const code = nonNegative(fields.get('response_code'));
    if (code !== undefined && code >= 200 && code <= 999 && out.status?.code !== code) {
      out.status = { version: httpVersion(fields.get('http_version')), code };
    }
    const ip = fields.get('remote_ip');
    const port = nonNegative(fields.get('remote_port'));
    if (ip && port) out.remote = { ip, port };
    for (const name of ['namelookup', 'connect', 'appconnect', 'pretransfer', 'starttransfer', 'total'] as const) {
      const seconds = nonNegative(fields.get(`time_${name}`));
      if (seconds !== undefined) out.times[name] = seconds;
    }
  }
  return out;
}

function httpVersion(text: string | undefined): string {
  return text && /^[\d.]+$/.test(text) && text !== '0' ? `HTTP/${text}` : 'HTTP';
}

// ---------------------------------------------------------------------------------------------
// Interpretation

/** curl exit codes (libcurl-errors(3)) grouped by what they mean for the verdict. */
const CONNECT_EXIT = 7;
const TIMEOUT_EXIT = 28;
const TLS_EXITS = new Set([35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98]);
const EMPTY_REPLY_EXIT = 52;
/** The server was reached but its answer was broken: reset, garbage, cut short. */
const BROKEN_ANSWER_EXITS = new Set([8, 16, 18, 55, 56, 61, 92, 95]);

/** Phase durations, each measured from the end of the previous phase. */
function timing(times: CurlOutput['times']): string | undefined {
  const { namelookup = 0, connect = 0, appconnect = 0, pretransfer = 0, starttransfer = 0, total = 0 } = times;
  if (total <= 0) return undefined;
  const parts: string[] = [];
  if (namelookup > 0) parts.push(`DNS ${formatLatency(namelookup * 1000)}`);
  if (connect > 0) parts.push(`connect ${formatLatency((connect - namelookup) * 1000)}`);
  if (appconnect > 0) parts.push(`TLS ${formatLatency((appconnect - connect) * 1000)}`);
  if (starttransfer > 0) parts.push(`first byte ${formatLatency((starttransfer - Math.max(pretransfer, appconnect, connect)) * 1000)}`);
  parts.push(`total ${formatLatency(total * 1000)}`);
  return parts.join(', ');
}

function statusText(status: NonNullable<CurlOutput['status']>): string {
  const reason = status.reason ?? STATUS_CODES[status.code];
  return reason ? `${status.code} ${reason}` : String(status.code);
}

/** The --max-time the step really ran with (its argv), else the setting. */
function secondsFromArgv(argv: unknown, fallback: number): number {
  if (!Array.isArray(argv)) return fallback;
  const i = argv.indexOf('--max-time');
  const value = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function firstLine(text: string): string {
  return firstLineOf(text, 80);
}

interface Target {
  url: string;
  host: string;
  port: string;
}

function targetOf(args: HttpArgs | undefined): Target {
  const url = typeof args?.url === 'string' ? args.url : '';
  try {
    const parsed = new URL(url);
    return { url, host: parsed.hostname, port: parsed.port || (parsed.protocol === 'https:' ? '443' : '80') };
  } catch {
    return { url, host: url || 'the server', port: '' };
  }
}

function where(target: Target): string {
  return target.port ? formatHostPort(target.host, target.port) : target.host;
}

/** Where a timed-out request got to, from the verbose lines. */
function timeoutStage(curl: CurlOutput): string {
  if (curl.status) return '';
  if (curl.requestSent) return 'connected and sent the request; no response';
  if (curl.tls) return 'TLS handshake done; the request was not sent';
  if (curl.tlsStarted) return 'connected, but the TLS handshake never completed';
  if (curl.connected) return 'connected, but nothing more happened';
  if (curl.tried.length > 0) return `the TCP connection to ${curl.tried.join(', ')} never completed`;
  return 'the name lookup or TCP connection never completed';
}

function classify(curl: CurlOutput, result: StepResult | undefined, target: Target, seconds: number): { verdict: HttpVerdict; headline: string } {
  const at = where(target);
  const status = curl.status;
  const took = curl.times.total ? ` in ${formatLatency(curl.times.total * 1000)}` : '';
  const exit = curl.exitCode ?? (result && result.exitCode !== null ? result.exitCode : undefined);

  // An error status is the answer, even if the body then broke off.
  if (status && status.code >= 400) return { verdict: 'http-error', headline: `${target.url} answered ${statusText(status)}${took}` };
  if (status && exit === 0) {
    const location = status.code >= 300 && status.code < 400 && curl.headers.location ? ` → ${clip(curl.headers.location)}` : '';
    return { verdict: 'ok', headline: `${target.url} answered ${statusText(status)}${took}${location}` };
  }

  const error = curl.error ? `: ${curl.error}` : '';
  if (exit === undefined) {
    // The step itself was stopped (job deadline, container killed) before curl gave up.
    if (status) return { verdict: 'timeout', headline: `${target.url} answered ${statusText(status)} but curl did not finish in time` };
    const stage = result && result.output.trim() !== '' ? timeoutStage(curl) : 'it printed nothing';
    return { verdict: 'timeout', headline: `no answer from ${at}: curl did not finish in time (${stage})` };
  }
  if (exit === 5) return { verdict: 'dns-failure', headline: `could not resolve the proxy${error}` };
  if (exit === 6) return { verdict: 'dns-failure', headline: `could not resolve ${target.host}` };
  if (exit === CONNECT_EXIT) {
    const failure = curl.connectFailures.at(-1);
    const ip = failure && failure.ip !== target.host.replace(/^\[|\]$/g, '') ? ` (${failure.ip})` : '';
    if (!failure || /refused/i.test(failure.reason)) return { verdict: 'connection-refused', headline: `connection refused by ${at}${ip}` };
    return { verdict: 'connection-refused', headline: `could not connect to ${at}${ip}: ${failure.reason}` };
  }
  if (exit === TIMEOUT_EXIT) {
    if (status) return { verdict: 'timeout', headline: `${target.url} answered ${statusText(status)} but the response did not finish within ${seconds} s` };
    return { verdict: 'timeout', headline: `no answer from ${at} within ${seconds} s (${timeoutStage(curl)})` };
  }
  if (TLS_EXITS.has(exit)) {
    // "OpenSSL/3.0.22: error:0A00010B:SSL routines::wrong version number" → "wrong version number".
    const reason = (curl.error ?? '').replace(/^OpenSSL\/[\w.]+: error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '');
    const plain = /wrong version number|packet length too long|http request/i.test(reason) ? ' (the port answered, but not with TLS: plain HTTP?)' : '';
    return { verdict: 'tls-error', headline: `TLS with ${at} failed${reason ? `: ${reason}` : ''}${plain}` };
  }
  if (exit === EMPTY_REPLY_EXIT)
    return { verdict: 'http-error', headline: `${at} closed the connection without an HTTP answer (curl: ${curl.error ?? 'Empty reply from server'})` };
  if (BROKEN_ANSWER_EXITS.has(exit)) {
    const partial = status ? ` after ${statusText(status)}` : '';
    return { verdict: 'http-error', headline: `${at} broke off the HTTP exchange${partial}${error || ` (curl exit code ${exit})`}` };
  }
  // Not a network outcome (curl missing, bad option, out of memory...). The vocabulary has no
  // "error"; as in the dns check, "timeout" (no answer obtained) is the closest honest fit.
  const said = curl.error ?? (result ? firstLine(result.output) : '');
  return { verdict: 'timeout', headline: `No HTTP answer from ${at}: curl exited with code ${exit}${said ? `: ${said}` : ''}` };
}

function interpret(args: HttpArgs, results: StepResult[], context: CheckContext | undefined): Finding {
  const result = results.find((r) => r && r.id === STEP_ID && typeof r.output === 'string');
  const curl = parseCurlOutput(result?.output ?? '');
  const target = targetOf(args);
  const seconds = secondsFromArgv(result?.argv, maxSeconds(context));
  const { verdict, headline } = classify(curl, result, target, seconds);

  const facts: Finding['facts'] = { url: target.url };
  if (curl.status) {
    facts.status = statusText(curl.status);
    facts.httpVersion = curl.status.version;
  }
  if (curl.remote) facts.remote = formatHostPort(curl.remote.ip, curl.remote.port);
  else if (curl.connectFailures.length > 0) facts.tried = curl.connectFailures.map((f) => `${formatHostPort(f.ip, f.port)}: ${f.reason}`);
  const breakdown = timing(curl.times);
  if (breakdown) facts.timing = breakdown;
  if (curl.times.total) facts.totalMs = Math.round(curl.times.total * 10_000) / 10;
  for (const [header, fact] of [
    ['server', 'server'],
    ['content-type', 'contentType'],
    ['location', 'location'],
  ] as const) {
    const value = curl.headers[header];
    if (value) facts[fact] = clip(value);
  }
  if (curl.tls) facts.tls = curl.tls;
  if (curl.exitCode !== undefined) facts.curlExit = curl.exitCode;
  if (curl.error && curl.exitCode !== 0) facts.error = curl.error;
  if (verdict === 'tls-error') facts.hint = `\`/kdebug tls <target> ${where(target)}\` shows the certificate and why it is not trusted`;
  return { check: 'http', verdict, headline, facts, steps: results };
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

/** The status fact ("503 Service Unavailable") and its code ("503"). */
function statusOf(finding: Finding): { status: string; code: string } | undefined {
  const status = stringFact(finding, 'status');
  const code = status !== undefined ? /^\d{3}\b/.exec(status)?.[0] : undefined;
  return status !== undefined && code !== undefined ? { status, code } : undefined;
}

const fanout: FanoutTraits = {
  figure(finding) {
    const status = statusOf(finding);
    const ms = numberFact(finding, 'totalMs');
    const took = ms !== undefined ? formatLatency(ms) : undefined;
    if (status) return took ? `${status.code} in ${took}` : status.code;
    return finding.verdict === 'timeout' && took ? `timeout after ${took}` : finding.verdict;
  },
  // The code, not its reason phrase: servers word the same status differently.
  sameness(finding) {
    const status = statusOf(finding);
    return status ? { key: status.code, verb: 'answers', value: status.status } : undefined;
  },
  latencyMs: (finding) => numberFact(finding, 'totalMs'),
};

// ---------------------------------------------------------------------------------------------

/** `--cacert FILE`, the one option of http and tls (and triage, which passes it on). */
export function cacertOption(check: string, options: Record<string, string> | undefined): { ok: true; cacert?: string } | { ok: false; message: string } {
  let cacert: string | undefined;
  for (const [key, value] of Object.entries(options ?? {})) {
    const option = key.replace(/^-+/, '');
    if (option !== 'cacert') return { ok: false, message: `The ${check} check has no option \`--${clip(option)}\`.` };
    const problem = cacertProblem(String(value ?? ''));
    if (problem) return { ok: false, message: `${problem}.` };
    cacert = String(value);
  }
  return { ok: true, ...(cacert !== undefined ? { cacert } : {}) };
}

export const httpCheck: CheckDefinition<HttpArgs, z.infer<typeof settings>> = {
  name: 'http',
  summary: 'Make an HTTP(S) request from inside the pod and say what answered, how, and how fast',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    'Runs one `curl` GET from inside the pod (body discarded, redirects reported but not followed), bounded by the configured time limit, and reports the status, selected headers and where the time went (DNS, connect, TLS, first byte). Without a scheme, `http://` is assumed. URLs with `user:password@` are refused.',
    '',
    'Verdicts:',
    '• `ok`: the server answered 2xx or 3xx',
    '• `http-error`: it answered 4xx/5xx, or broke off the exchange (empty reply, reset)',
    '• `connection-refused`: nothing accepted the connection (no listener on that port, or the address is unreachable)',
    '• `timeout`: no answer within the time limit (the headline says how far it got)',
    '• `dns-failure`: the host name did not resolve',
    '• `tls-error`: the TLS handshake or certificate check failed (`/kdebug tls` explains the certificate)',
    '',
    '`--cacert FILE` (only with `kdebug run --local`) trusts the CA certificates in FILE.',
    '',
    'Examples:',
    '• `/kdebug http web-7f9c http://payments.prod.svc.cluster.local:8080/healthz`',
    '• `/kdebug http deploy/web https://api.example.com/`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: [],
  settings,
  fanout,
  options: [{ name: 'cacert', valueName: 'FILE', description: 'Trust the CA certificates in this PEM file', localOnly: true }],

  parseArgs(positional, options) {
    const option = cacertOption('http', options);
    if (!option.ok) return withUsage(option.message);
    const { cacert } = option;
    const given = (positional ?? []).map((p) => String(p));
    if (given.length === 0) return withUsage('Which URL? e.g. `http://payments.prod.svc.cluster.local:8080/healthz`.');
    if (given.length > 1) return withUsage(`One URL per check (got ${given.length}).`);
    const parsed = parseHttpUrl(given[0] ?? '');
    if (!parsed.ok) return withUsage(`${parsed.message}.`);
    return { ok: true, args: { url: parsed.url.href, ...(cacert !== undefined ? { cacert } : {}) } };
  },

  steps(args, context): Step[] {
    return [{ id: STEP_ID, argv: curlArgv(args, maxSeconds(context)) }];
  },

  interpret(args, results, context) {
    return interpretSafely({ check: 'http', verdict: 'timeout', tool: 'curl' }, results, () => interpret(args, Array.isArray(results) ? results : [], context));
  },
};
