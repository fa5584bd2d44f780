// The `tls` check: open a TLS connection from inside the pod with `openssl s_client`, read the
// certificates the server presents, and say in one line what is wrong with them, if anything.
//
// openssl does the trust decisions (chain, issuer, host name) through -verify_hostname / -verify_ip
// and its verify error lines. The dates are judged here, from the PEM blocks -showcerts prints,
// against the check's `now`, so "expires in 3 days" and the verdict always agree.
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { formatHostPort, isIpAddress, parseHostPort } from '../core/host.js';
import { clip as clipTo, firstLine as firstLineOf, plural } from '../core/text.js';
import { cacertOption } from './http.js';
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

export interface TlsArgs {
  /** DNS name (lower case, no trailing dot) or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** CA bundle for `kdebug run --local` against private servers. */
  cacert?: string;
  /** `--chain`: every certificate the server sent, in detail (not only the leaf's). */
  chain?: boolean;
}

export type TlsVerdict =
  | 'ok'
  | 'expiring-soon'
  | 'expired'
  | 'not-yet-valid'
  | 'hostname-mismatch'
  | 'self-signed'
  | 'untrusted-issuer'
  | 'handshake-failed'
  | 'connection-refused'
  | 'timeout'
  | 'dns-failure';

/**
 * The first four say why there is no certificate to look at, and exclude each other (a failed
 * handshake outranks any certificate it showed: the connection is unusable). Among certificate
 * problems, those that fail for every client are the most severe: a date outside the validity
 * window (the classic outage), then a name the certificate does not cover. Trust problems follow,
 * because they depend on the client's CA bundle, which may differ between this container and the
 * application. `expiring-soon` is a warning only. The headline names the worst and lists the rest.
 */
const VERDICTS: { readonly [V in TlsVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  'expiring-soon': { class: 'warning', severity: 28 },
  expired: { class: 'bad', severity: 79 },
  'not-yet-valid': { class: 'bad', severity: 78 },
  'hostname-mismatch': { class: 'bad', severity: 77 },
  'self-signed': { class: 'bad', severity: 76 },
  'untrusted-issuer': { class: 'bad', severity: 75 },
  'handshake-failed': { class: 'bad', severity: 80 },
  'connection-refused': { class: 'bad', severity: 85 },
  timeout: { class: 'bad', severity: 100 },
  'dns-failure': { class: 'bad', severity: 90 },
};

const settings = z.strictObject({
  /** A valid certificate that expires within this many days gets the verdict expiring-soon. */
  expiringSoonDays: z.number().int().min(0).max(365).default(14),
  /** Longest wait for the server: the `timeout` around s_client (seconds). */
  maxSeconds: z.number().int().min(1).max(600).default(10),
});

const USAGE = 'tls <target> <host[:port]> [--chain] [--cacert FILE]';
const STEP_ID = 'openssl';
const DEFAULT_PORT = 443;
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Exit codes of a command stopped by `timeout`: coreutils says 124; busybox's leaves the signal's 143 (137 after -k). */
const KILLED_EXITS = new Set([124, 137, 143]);
/** Names shown in a hostname-mismatch headline before "and N more". */
const HEADLINE_NAMES = 3;

// ---------------------------------------------------------------------------------------------
// Arguments

function clip(text: string): string {
  return clipTo(text, 80);
}

/** Parse `host`, `host:port`, `IPv4:port`, `IPv6`, `[IPv6]:port`, or an https:// URL (its host and port). */
export function parseTlsTarget(text: string): { ok: true; host: string; port: number } | { ok: false; message: string } {
  const example = 'e.g. `api.prod.svc.cluster.local`, `api.prod:8443` or `[fd00::5]:443`';
  const raw = String(text ?? '').trim();
  if (raw === '') return { ok: false, message: `Which host? ${example}` };
  if (raw.startsWith('-')) return { ok: false, message: `\`${clip(raw)}\` starts with \`-\`; give a host, ${example}` };

  let hostPort = raw;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  if (scheme) {
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw)) {
      return { ok: false, message: 'That URL contains credentials (`user:password@`); give just the host and port (the URL is not repeated here)' };
    }
    if (scheme[1]?.toLowerCase() !== 'https') return { ok: false, message: `The tls check takes a host[:port] or an https:// URL, ${example}` };
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, message: `\`${clip(raw)}\` is not a valid URL; give a host[:port], ${example}` };
    }
    hostPort = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  }
  const parsed = parseHostPort(hostPort);
  if (!parsed.ok) return { ok: false, message: `${parsed.message}; ${example}` };
  const host = isIpAddress(parsed.host) ? parsed.host : parsed.host.toLowerCase().replace(/\.$/, '');
  return { ok: true, host, port: parsed.port ?? DEFAULT_PORT };
}

const withUsage = refusalWithUsage(USAGE);

// ---------------------------------------------------------------------------------------------
// Steps

/** Whole seconds: `timeout` in busybox takes no fractions. */
function boundSeconds(context: CheckContext | undefined): number {
  return stepSeconds(settingsOf(tlsCheck, context).maxSeconds, context);
}

/**
 * `timeout` bounds the whole run (s_client has no time limit of its own); `-servername` sends SNI
 * and `-verify_hostname` checks the certificate against the name, while an IP address is sent no
 * SNI (it is not allowed there) and is checked with `-verify_ip`. `-showcerts` prints every
 * certificate the server sent; `-state` logs handshake progress to stderr unbuffered, which is all
 * that survives when `timeout` kills s_client. s_client exits when stdin is at EOF, so the step
 * must run with stdin closed (/dev/null).
 */
export function opensslArgv(args: TlsArgs, seconds: number): string[] {
  const names = isIpAddress(args.host) ? ['-noservername', '-verify_ip', args.host] : ['-servername', args.host, '-verify_hostname', args.host];
  return [
    'timeout',
    String(seconds),
    'openssl',
    's_client',
    '-connect',
    formatHostPort(args.host, args.port),
    ...names,
    '-showcerts',
    '-state',
    ...(args.cacert !== undefined ? ['-CAfile', args.cacert] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Parsing s_client's output

export interface OpensslError {
  library: string;
  func: string;
  reason: string;
  /** What follows file:line, e.g. "Name or service not known" after the generic "system lib". */
  data?: string;
}

export interface VerifyError {
  /** 0 is the server's own certificate, 1 its issuer, and so on up the verified chain. */
  depth: number;
  /** openssl's one-line subject of the certificate at that depth, e.g. "CN = api.prod". */
  subject?: string;
  code: number;
  text: string;
}

export interface SClientOutput {
  /** TCP connected: CONNECTED(…) or any handshake state line. */
  connected: boolean;
  /** The ClientHello went out. */
  clientHelloSent: boolean;
  /** The server answered the ClientHello. */
  serverHelloSeen: boolean;
  /** `…:error:…:lib:func:reason:…` lines, e.g. { func: "BIO_connect", reason: "Connection refused" }. */
  errors: OpensslError[];
  /** `connect:errno=111`, `write:errno=104`... */
  errnos: { op: string; errno: number }[];
  /** PEM blocks, in the order the server sent them. */
  certificates: string[];
  /** openssl's own summary of each certificate sent: " 0 s:CN = …" / "   i:CN = …". */
  chain: { index: number; subject: string; issuer?: string }[];
  verifyErrors: VerifyError[];
  verifyReturn?: { code: number; text: string };
  /** From "New, TLSv1.3, Cipher is …"; unset when the handshake did not complete. */
  protocol?: string;
  cipher?: string;
  /** "Cipher is (NONE)": the handshake did not complete. */
  noCipher: boolean;
  noPeerCertificate: boolean;
}

const PEM = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/** Read `openssl s_client -showcerts -state` output. Tolerates anything; missing parts stay unset. */
export function parseSClientOutput(text: string): SClientOutput {
  const out: SClientOutput = {
    connected: false,
    clientHelloSent: false,
    serverHelloSeen: false,
    errors: [],
    errnos: [],
    certificates: [],
    chain: [],
    verifyErrors: [],
    noCipher: false,
    noPeerCertificate: false,
  };
  const source = String(text ?? '');
  out.certificates = source.match(PEM) ?? [];

  let depth: { depth: number; subject: string } | undefined;
  for (const line of source.split(/\r?\n/)) {
    if (/^CONNECTED\(/.test(line)) out.connected = true;
    const state = /^SSL_connect:(.*)$/.exec(line)?.[1];
    if (state !== undefined) {
      out.connected = true;
      if (/write client hello/i.test(state)) out.clientHelloSent = true;
      if (/read server hello/i.test(state)) out.serverHelloSeen = true;
    }
    // 40B7…:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:117:calling connect()
    const error = /^[0-9A-Fa-f]+:error:[0-9A-Fa-f]+:([^:]*):([^:]*):([^:]*)(?::[^:]*:\d+:(.*))?/.exec(line);
    if (error) {
      const entry: OpensslError = { library: error[1] ?? '', func: error[2] ?? '', reason: error[3] ?? '' };
      if (error[4]?.trim()) entry.data = error[4].trim();
      out.errors.push(entry);
    }
    const errno = /^(\w+):errno=(\d+)/.exec(line);
    if (errno) out.errnos.push({ op: errno[1] ?? '', errno: Number(errno[2]) });

    const at = /^depth=(\d+) (.*)$/.exec(line);
    if (at) depth = { depth: Number(at[1]), subject: (at[2] ?? '').trim() };
    const verify = /^verify error:num=(\d+):(.*)$/.exec(line);
    if (verify) {
      const entry: VerifyError = { depth: depth?.depth ?? 0, code: Number(verify[1]), text: (verify[2] ?? '').trim() };
      if (depth?.subject) entry.subject = depth.subject;
      // The verify callback runs more than once per certificate; keep each problem once.
      if (!out.verifyErrors.some((e) => e.depth === entry.depth && e.code === entry.code)) out.verifyErrors.push(entry);
    }
    const ret = /^\s*Verify return code: (\d+) \((.*)\)\s*$/.exec(line);
    if (ret && !out.verifyReturn) out.verifyReturn = { code: Number(ret[1]), text: ret[2] ?? '' };

    const subject = /^\s*(\d+) s:(.*)$/.exec(line);
    if (subject) out.chain.push({ index: Number(subject[1]), subject: (subject[2] ?? '').trim() });
    const issuer = /^\s+i:(.*)$/.exec(line);
    const last = out.chain.at(-1);
    if (issuer && last && last.issuer === undefined) last.issuer = (issuer[1] ?? '').trim();

    const session = /^New, (\(NONE\)|[\w.]+), Cipher is (\S+)/.exec(line);
    if (session) {
      if (session[2] === '(NONE)') out.noCipher = true;
      else {
        out.protocol = session[1];
        out.cipher = session[2];
      }
    }
    if (/^no peer certificate available/.test(line)) out.noPeerCertificate = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpretation

interface Certificate {
  subject: string;
  issuer: string;
  /** "DNS:api.prod", "IP Address:10.0.0.5". */
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

/** Node prints distinguished names one attribute per line; one line reads better. */
function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

function readCertificate(pem: string): Certificate | undefined {
  try {
    const x = new X509Certificate(pem);
    const sans = (x.subjectAltName ?? '').split(/, (?=[A-Za-z][A-Za-z ]*:)/).filter(Boolean);
    return { subject: oneLine(x.subject), issuer: oneLine(x.issuer), sans, notBefore: x.validFromDate, notAfter: x.validToDate, fingerprint256: x.fingerprint256 };
  } catch {
    return undefined;
  }
}

function isoSeconds(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'unknown' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoDay(date: Date): string {
  return isoSeconds(date).slice(0, 10);
}

/** "3 days", "1 day", "5 hours", "12 minutes". */
function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= DAY) return plural(Math.trunc(abs / DAY), 'day');
  if (abs >= HOUR) return plural(Math.trunc(abs / HOUR), 'hour');
  if (abs >= 60_000) return plural(Math.trunc(abs / 60_000), 'minute');
  return 'less than a minute';
}

/** The names a certificate is for: its SANs without the type, else its CN. */
function certNames(cert: Certificate): string {
  const names = cert.sans.map((s) => s.replace(/^[^:]*:/, '')).filter(Boolean);
  if (names.length === 0) return /(?:^|, )CN=([^,]*)/.exec(cert.subject)?.[1] ?? cert.subject;
  const more = names.length - HEADLINE_NAMES;
  return more > 0 ? `${names.slice(0, HEADLINE_NAMES).join(', ')} and ${more} more` : names.join(', ');
}

/** What is wrong with the certificate, worst first, each with its headline. */
function certificateProblems(
  host: string,
  at: string,
  leaf: Certificate | undefined,
  sclient: SClientOutput,
  now: Date,
  soonDays: number,
): { verdict: TlsVerdict; headline: string }[] {
  const problems: { verdict: TlsVerdict; headline: string }[] = [];
  const subjectOf = (e: VerifyError) => e.subject ?? `the certificate at depth ${e.depth}`;

  if (leaf && !Number.isNaN(leaf.notAfter.getTime()) && !Number.isNaN(leaf.notBefore.getTime())) {
    const left = leaf.notAfter.getTime() - now.getTime();
    if (left <= 0) problems.push({ verdict: 'expired', headline: `certificate for ${host} expired ${span(left)} ago (notAfter ${isoDay(leaf.notAfter)})` });
    const early = leaf.notBefore.getTime() - now.getTime();
    if (early > 0) problems.push({ verdict: 'not-yet-valid', headline: `certificate for ${host} is not valid for another ${span(early)} (notBefore ${isoDay(leaf.notBefore)})` });
    if (left > 0 && early <= 0 && left < soonDays * DAY) {
      problems.push({ verdict: 'expiring-soon', headline: `certificate for ${host} expires in ${span(left)} (notAfter ${isoDay(leaf.notAfter)})` });
    }
  }
  // Without verify error lines (an unusual build or cut output) the return code still says something.
  const verifyErrors =
    sclient.verifyErrors.length > 0 || !sclient.verifyReturn || sclient.verifyReturn.code === 0
      ? sclient.verifyErrors
      : [{ depth: 0, code: sclient.verifyReturn.code, text: sclient.verifyReturn.text }];
  for (const e of verifyErrors) {
    // The leaf's own dates were judged above against `now`; openssl's opinion only counts without it.
    const dateError = e.code === 9 || e.code === 10;
    if (dateError && e.depth === 0 && leaf) continue;
    if (e.code === 10)
      problems.push({ verdict: 'expired', headline: e.depth === 0 ? `certificate for ${host} has expired` : `certificate chain of ${host}: ${subjectOf(e)} has expired` });
    else if (e.code === 9)
      problems.push({
        verdict: 'not-yet-valid',
        headline: e.depth === 0 ? `certificate for ${host} is not valid yet` : `certificate chain of ${host}: ${subjectOf(e)} is not valid yet`,
      });
    else if (e.code === 62 || e.code === 64) {
      const names = leaf ? certNames(leaf) : (e.subject ?? 'another name');
      problems.push({ verdict: 'hostname-mismatch', headline: `${at} presented a certificate for ${names}, not ${host}` });
    } else if (e.code === 18) {
      problems.push({ verdict: 'self-signed', headline: `${at} presented a self-signed certificate (${leaf?.subject ?? e.subject ?? 'no subject'})` });
    } else if (e.code === 19) {
      problems.push({ verdict: 'untrusted-issuer', headline: `certificate chain of ${host} ends in ${subjectOf(e)}, a self-signed root that is not trusted here` });
    } else if (e.code === 2 || e.code === 20 || e.code === 21) {
      const issuer = leaf?.issuer ?? 'an unknown issuer';
      const alone = sclient.certificates.length === 1 ? ' (the server sent no intermediate certificate; a missing intermediate looks the same)' : '';
      problems.push({ verdict: 'untrusted-issuer', headline: `certificate for ${host} is issued by ${issuer}, which is not trusted here${alone}` });
    } else {
      // Bad signature, unusable CA, wrong purpose, revoked...: not trusted, for the reason openssl gives.
      problems.push({ verdict: 'untrusted-issuer', headline: `certificate for ${host} failed verification: ${e.text} (${subjectOf(e)})` });
    }
  }
  const rank = (v: TlsVerdict) => VERDICTS[v].severity;
  // Worst first; a stable sort keeps openssl's order within a verdict; one entry per verdict is enough.
  return problems.sort((a, b) => rank(b.verdict) - rank(a.verdict)).filter((p, i, all) => all.findIndex((q) => q.verdict === p.verdict) === i);
}

const PROBLEM_WORDS: Record<TlsVerdict, string> = {
  expired: 'expired',
  'not-yet-valid': 'not yet valid',
  'hostname-mismatch': 'wrong name',
  'self-signed': 'self-signed',
  'untrusted-issuer': 'untrusted issuer',
  'expiring-soon': 'expiring soon',
  ok: 'ok',
  'handshake-failed': 'handshake failed',
  'connection-refused': 'connection refused',
  timeout: 'timeout',
  'dns-failure': 'DNS failure',
};

/** A reason for a failed handshake, in words, with a hint for the classic mistakes. */
function handshakeReason(sclient: SClientOutput): string {
  const ssl = sclient.errors.find((e) => /SSL routines/i.test(e.library));
  if (ssl) {
    if (/wrong version number|packet length too long|http request/i.test(ssl.reason)) return `${ssl.reason} (the port answered, but not with TLS: plain HTTP?)`;
    if (/unexpected eof/i.test(ssl.reason)) return `${ssl.reason} (the server closed the connection)`;
    return ssl.reason;
  }
  const reset = sclient.errnos.find((e) => e.errno === 104);
  if (reset) return 'connection reset by the server';
  const other = sclient.errors[0];
  return other ? other.reason : 'no certificate was received';
}

function firstLine(text: string): string {
  return firstLineOf(text, 80);
}

/** Why there is no certificate to judge: name, connection, time or handshake. */
function connectionProblem(sclient: SClientOutput, result: StepResult | undefined, host: string, at: string, seconds: number): { verdict: TlsVerdict; headline: string } {
  const lookup = sclient.errors.find((e) => /BIO_lookup|getaddrinfo/i.test(e.func));
  // The reason is a generic "system lib"; getaddrinfo's own words follow as data.
  if (lookup) return { verdict: 'dns-failure', headline: `could not resolve ${host} (${lookup.data ?? lookup.reason})` };
  const connect = sclient.errors.find((e) => /system library/i.test(e.library) && /connect/i.test(e.func));
  const connectErrno = sclient.errnos.find((e) => e.op === 'connect' && e.errno !== 0);
  if (connect || connectErrno) {
    const reason = connect?.reason ?? `errno ${connectErrno?.errno}`;
    if (/refused/i.test(reason) || connectErrno?.errno === 111) return { verdict: 'connection-refused', headline: `connection refused by ${at}` };
    return { verdict: 'connection-refused', headline: `could not connect to ${at}: ${reason}` };
  }
  const killed = !result || result.exitCode === null || KILLED_EXITS.has(result.exitCode);
  if (killed && !sclient.noCipher) {
    const stage = sclient.serverHelloSeen
      ? 'the handshake started but never finished'
      : sclient.clientHelloSent
        ? 'connected, but no reply to the TLS ClientHello'
        : 'the name lookup or TCP connect never completed';
    return { verdict: 'timeout', headline: `no answer from ${at} within ${seconds} s (${stage})` };
  }
  if (sclient.connected || sclient.errors.length > 0 || sclient.noCipher) {
    return { verdict: 'handshake-failed', headline: `TLS handshake with ${at} failed: ${handshakeReason(sclient)}` };
  }
  // Not a TLS outcome at all (openssl missing, bad option...). As in the dns check, "timeout"
  // (no answer obtained) is the closest honest fit in the vocabulary.
  const said = firstLine(result?.output ?? '');
  return { verdict: 'timeout', headline: `No TLS answer from ${at}: openssl exited with code ${result?.exitCode}${said ? `: ${said}` : ' and printed nothing'}` };
}

function secondsFromArgv(argv: unknown, fallback: number): number {
  const value = Array.isArray(argv) && argv[0] === 'timeout' ? Number(argv[1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function interpret(args: TlsArgs, results: StepResult[], context: CheckContext | undefined): Finding {
  const host = typeof args?.host === 'string' && args.host !== '' ? args.host : 'the server';
  const port = typeof args?.port === 'number' ? args.port : DEFAULT_PORT;
  const at = formatHostPort(host, port);
  const now = context?.now instanceof Date && !Number.isNaN(context.now.getTime()) ? context.now : new Date();
  const soonDays = settingsOf(tlsCheck, context).expiringSoonDays;
  const result = results.find((r) => r && r.id === STEP_ID && typeof r.output === 'string');
  const sclient = parseSClientOutput(result?.output ?? '');
  const certs = sclient.certificates.map(readCertificate);
  const leaf = certs[0];

  let verdict: TlsVerdict;
  let headline: string;
  let problems: TlsVerdict[] = [];
  const handshakeDone = sclient.certificates.length > 0 && !sclient.noCipher;
  if (!handshakeDone) {
    ({ verdict, headline } = connectionProblem(sclient, result, host, at, secondsFromArgv(result?.argv, boundSeconds(context))));
  } else {
    const found = certificateProblems(host, at, leaf, sclient, now, soonDays);
    problems = found.map((p) => p.verdict);
    const worst = found[0];
    if (worst) {
      verdict = worst.verdict;
      headline = worst.headline;
      const rest = found.slice(1).map((p) => PROBLEM_WORDS[p.verdict]);
      if (rest.length > 0) headline += `; also ${rest.join(', ')}`;
    } else if (leaf) {
      verdict = 'ok';
      headline = `certificate for ${host} is valid for another ${span(leaf.notAfter.getTime() - now.getTime())} (notAfter ${isoDay(leaf.notAfter)}), issued by ${leaf.issuer}`;
    } else {
      verdict = 'ok';
      headline = `${at} completed the TLS handshake and openssl verified its certificate`;
    }
  }

  const facts: Finding['facts'] = {};
  if (leaf) {
    facts.subject = leaf.subject;
    facts.sans = leaf.sans;
    facts.issuer = leaf.issuer;
    facts.notBefore = isoSeconds(leaf.notBefore);
    facts.notAfter = isoSeconds(leaf.notAfter);
    facts.daysLeft = Math.trunc((leaf.notAfter.getTime() - now.getTime()) / DAY);
    facts.fingerprintSha256 = leaf.fingerprint256;
  }
  if (certs.length > 0 && args.chain) {
    facts.chain = certs.map((c, i) =>
      c
        ? `${i} ${c.subject} ← ${c.issuer} · valid ${isoSeconds(c.notBefore)} to ${isoSeconds(c.notAfter)}${c.sans.length ? ` · ${c.sans.join(', ')}` : ''} · SHA-256 ${c.fingerprint256}`
        : `${i} (unreadable certificate)`,
    );
  } else if (certs.length > 0) {
    facts.chain = certs.map((c, i) => (c ? `${i} ${c.subject} ← ${c.issuer} (until ${isoDay(c.notAfter)})` : `${i} (unreadable certificate)`));
  } else if (sclient.chain.length > 0) {
    facts.chain = sclient.chain.map((c) => `${c.index} ${c.subject}${c.issuer ? ` ← ${c.issuer}` : ''}`);
  }
  if (sclient.protocol) facts.protocol = sclient.protocol;
  if (sclient.cipher) facts.cipher = sclient.cipher;
  if (sclient.verifyReturn && handshakeDone) facts.verifyResult = `${sclient.verifyReturn.code} (${sclient.verifyReturn.text})`;
  if (sclient.verifyErrors.length > 0) facts.verifyErrors = sclient.verifyErrors.map((e) => `depth ${e.depth}${e.subject ? ` ${e.subject}` : ''}: ${e.code} ${e.text}`);
  if (problems.length > 1) facts.problems = problems;
  // Also after a completed handshake: a server demanding a client certificate says so only later.
  if (sclient.errors.length > 0) {
    facts.error = [...new Set(sclient.errors.map((e) => `${e.func}: ${e.reason}${e.data ? ` (${e.data})` : ''}`))].join('; ');
  }
  return { check: 'tls', verdict, headline, facts, steps: results };
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

/** "CN=api.prod" out of a one-line subject, else the subject. */
function commonName(subject: string): string {
  return /(?:^|, )(CN=[^,]*)/.exec(subject)?.[1] ?? subject;
}

const fanout: FanoutTraits = {
  figure(finding) {
    const days = numberFact(finding, 'daysLeft');
    const subject = stringFact(finding, 'subject');
    if (days !== undefined && (finding.verdict === 'ok' || finding.verdict === 'expiring-soon')) return days >= 1 ? `expires in ${days} d` : 'expires in < 1 d';
    if (days !== undefined && finding.verdict === 'expired') return days <= -1 ? `expired ${-days} d ago` : 'expired < 1 d ago';
    return subject ? `${finding.verdict}: ${commonName(subject)}` : finding.verdict;
  },
  // A pod behind another proxy (or an old secret) is served another certificate.
  sameness(finding) {
    const fingerprint = stringFact(finding, 'fingerprintSha256');
    if (fingerprint === undefined) return undefined;
    const subject = stringFact(finding, 'subject');
    const short = `(${fingerprint.slice(0, 11)}…)`;
    return { key: fingerprint, verb: 'serves certificate', value: subject ? `${clipTo(commonName(subject), 25)} ${short}` : short };
  },
};

// ---------------------------------------------------------------------------------------------

export const tlsCheck: CheckDefinition<TlsArgs, z.infer<typeof settings>> = {
  name: 'tls',
  summary: 'Connect with TLS from inside the pod and check the certificate: dates, name, issuer, chain',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Runs \`openssl s_client -showcerts\` from inside the pod (port ${DEFAULT_PORT} unless given; SNI and host-name verification for the name given), and reports the certificate's subject, names, issuer, validity, the chain the server sent, the protocol and cipher, and openssl's verify result.`,
    '',
    'Verdicts, worst first when several apply:',
    '• `dns-failure`, `connection-refused`, `timeout`: no TLS connection (name, port or network)',
    '• `handshake-failed`: connected, but no TLS session (not a TLS port, no common protocol or cipher)',
    '• `expired` / `not-yet-valid`: the certificate is outside its validity dates',
    '• `hostname-mismatch`: the certificate does not cover the name (or IP) asked for',
    '• `self-signed`: the certificate signed itself (a default or placeholder certificate?)',
    '• `untrusted-issuer`: issued by a CA this container does not trust, or the server did not send its intermediate',
    '• `expiring-soon`: valid, but expires within the configured number of days',
    '• `ok`: valid, trusted, and not expiring soon',
    '',
    '`--chain` lists every certificate the server sent in detail (names, dates, fingerprint), not only the leaf.',
    '`--cacert FILE` (only with `kdebug run --local`) trusts the CA certificates in FILE.',
    '',
    'Examples:',
    '• `/kdebug tls web-7f9c api.prod.svc.cluster.local`',
    '• `/kdebug tls deploy/web payments.prod:8443`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: [],
  settings,
  fanout,
  options: [
    { name: 'cacert', valueName: 'FILE', description: 'Trust the CA certificates in this PEM file', localOnly: true },
    { name: 'chain', valueName: '', description: 'Every certificate the server sent, in detail', switch: true },
  ],

  parseArgs(positional, options) {
    const { chain, ...rest } = options ?? {};
    if (chain !== undefined && chain !== 'yes') return withUsage('`--chain` takes no value.');
    const option = cacertOption('tls', rest);
    if (!option.ok) return withUsage(option.message);
    const { cacert } = option;
    const given = (positional ?? []).map((p) => String(p));
    if (given.length === 0) return withUsage('Which host? e.g. `api.prod.svc.cluster.local` or `api.prod:8443`.');
    if (given.length > 1) return withUsage(`One host per check (got ${given.length}).`);
    const parsed = parseTlsTarget(given[0] ?? '');
    if (!parsed.ok) return withUsage(`${parsed.message}.`);
    return { ok: true, args: { host: parsed.host, port: parsed.port, ...(cacert !== undefined ? { cacert } : {}), ...(chain ? { chain: true } : {}) } };
  },

  steps(args, context): Step[] {
    return [{ id: STEP_ID, argv: opensslArgv(args, boundSeconds(context)) }];
  },

  interpret(args, results, context) {
    return interpretSafely({ check: 'tls', verdict: 'timeout', tool: 'openssl' }, results, () => interpret(args, Array.isArray(results) ? results : [], context));
  },
};
