// The `triage` check: dns, ping, conn and (for a URL) tls and http against one host, in ONE debug
// container, with one verdict table. It adds no tool and no parser of its own: it composes the
// existing checks' parseArgs, steps and interpret, and ranks their verdicts on one scale.
//
// Steps of different parts share the container, so each part's step ids get a `<part>.` prefix
// (`dns.dig-1`, `conn.nc`); interpret() hands each part only its own results with the prefix
// stripped again, exactly as that check would have seen them when run alone. The finding's steps
// keep the prefixed ids (unique, and they say which part a step belongs to); the transcript shows
// each step's argv, so it reads like the parts run one after another.
import { formatHostPort, isIpAddress } from '../core/host.js';
import { clip as clipTo, plural } from '../core/text.js';
import { connCheck, type ConnArgs } from './conn.js';
import { addressSameness, dnsCheck, type DnsArgs } from './dns.js';
import { listFact, stringFact } from './fanout/facts.js';
import { httpCheck, type HttpArgs } from './http.js';
import { pingCheck, type PingArgs } from './ping.js';
import { tlsCheck, type TlsArgs } from './tls.js';
import { interpretSafely } from './guard.js';
import {
  refusalWithUsage,
  type ArgsResult,
  type CheckContext,
  type CheckDefinition,
  type FanoutTraits,
  type Finding,
  type Step,
  type StepResult,
  type VerdictClass,
  type VerdictTable,
} from './types.js';

export type TriagePart =
  { check: 'dns'; args: DnsArgs } | { check: 'ping'; args: PingArgs } | { check: 'conn'; args: ConnArgs } | { check: 'tls'; args: TlsArgs } | { check: 'http'; args: HttpArgs };

export type TriagePartName = TriagePart['check'];

export interface TriageArgs {
  /** The parts to run, in the order they run and are listed: dns, ping, conn, tls, http. */
  parts: TriagePart[];
  /** Parts left out on purpose, with the reason shown in the table (e.g. dns for an IP address). */
  skipped: { check: TriagePartName; reason: string }[];
  /** No host was given: the parts are dns of the default name only. */
  dnsOnly: boolean;
}

/** The checks triage is made of, in layer order (name, reachability, port, TLS, HTTP). */
export const TRIAGE_PART_CHECKS: { readonly [K in TriagePartName]: CheckDefinition<Extract<TriagePart, { check: K }>['args']> } = {
  dns: dnsCheck,
  ping: pingCheck,
  conn: connCheck,
  tls: tlsCheck,
  http: httpCheck,
};

const PART_ORDER: readonly TriagePartName[] = ['dns', 'ping', 'conn', 'tls', 'http'];

/**
 * Triage's vocabulary is its parts' vocabularies, ranked by the severity each check declares (one
 * scale for all checks, see VerdictSpec). The principle is "the root cause first": a failure lower
 * in the stack explains the failures above it, so it ranks higher. When several parts share the
 * worst verdict, the first in layer order (dns, ping, conn, tls, http) gives the headline.
 */
const VERDICTS: VerdictTable = Object.fromEntries(
  Object.values(TRIAGE_PART_CHECKS)
    .flatMap((check) => Object.entries(check.verdicts))
    .sort(([a, x], [b, y]) => y.severity - x.severity || a.localeCompare(b)),
);

/** A verdict missing from every part (a part's vocabulary grew past this table): the mildest error. */
const UNKNOWN = { class: 'bad', severity: 50 } as const;

/** Position on the one scale; higher is worse. */
export function triageSeverity(verdict: string): number {
  return (VERDICTS[verdict] ?? UNKNOWN).severity;
}

function classOf(verdict: string): VerdictClass {
  return (VERDICTS[verdict] ?? UNKNOWN).class;
}

/** "`timeout`; `servfail`, `refused`" …: the scale as help shows it, worst first, a group per class. */
function scaleText(verdictClass: VerdictClass): string {
  return Object.keys(VERDICTS)
    .filter((v) => classOf(v) === verdictClass)
    .map((v) => `\`${v}\``)
    .join(', ');
}

const USAGE = 'triage <target> [host|host:port|url] [--server IP[:PORT]] [--cacert FILE]';
const DEFAULT_CONN_PORT = 443;
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Facts of each part worth repeating in the triage reply, prefixed with the part's name. */
const KEY_FACTS: { readonly [K in TriagePartName]: readonly string[] } = {
  dns: ['queried', 'answers', 'server', 'serverErrors', 'resolvConf'],
  ping: ['address', 'lossPercent', 'rttAvgMs', 'icmpErrors', 'errors', 'error'],
  conn: ['address', 'service', 'attempts', 'error'],
  tls: ['subject', 'sans', 'issuer', 'notAfter', 'daysLeft', 'protocol', 'verifyErrors', 'problems', 'error'],
  http: ['status', 'remote', 'timing', 'location', 'tried', 'error'],
};

// ---------------------------------------------------------------------------------------------
// Arguments

const withUsage = refusalWithUsage(USAGE);

/** A part's refusal, with its own usage line replaced by triage's. */
function refusal(result: { ok: false; message: string }): { ok: false; message: string } {
  return withUsage(result.message.replace(/\n?Usage: `[^`]*`\s*$/, ''));
}

function clip(text: string): string {
  return clipTo(text, 80);
}

function parseTriage(positional: string[], options: Record<string, string>): ArgsResult<TriageArgs> {
  let server: string | undefined;
  let cacert: string | undefined;
  for (const [key, value] of Object.entries(options ?? {})) {
    const option = key.replace(/^-+/, '');
    if (option === 'server') server = String(value ?? '');
    else if (option === 'cacert') cacert = String(value ?? '');
    else return withUsage(`The triage check has no option \`--${clip(option)}\`.`);
  }
  const serverOption: Record<string, string> = server !== undefined ? { server } : {};
  const cacertOption: Record<string, string> = cacert !== undefined ? { cacert } : {};

  const given = (positional ?? []).map((p) => String(p).trim());
  if (given.length > 1) {
    return withUsage(`triage takes one host, host:port or URL (got ${given.length}: ${given.map((g) => `\`${clip(g)}\``).join(', ')}).`);
  }

  // No host: DNS of the default name only.
  const word = given[0];
  if (word === undefined) {
    if (cacert !== undefined) return withUsage('`--cacert` is for an https:// URL (the tls and http parts); give one, e.g. `https://api.prod.svc.cluster.local/`.');
    const dns = dnsCheck.parseArgs([], serverOption);
    if (!dns.ok) return refusal(dns);
    return { ok: true, args: { parts: [{ check: 'dns', args: dns.args }], skipped: [], dnsOnly: true } };
  }

  // The host and port to test, and for a URL the http (and tls) parts.
  let host: string;
  let port: number;
  let http: HttpArgs | undefined;
  let tls: TlsArgs | undefined;
  const scheme = SCHEME.exec(word)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme !== 'http' && scheme !== 'https') return withUsage(`\`${clip(word)}\`: triage takes http:// and https:// URLs, a host, or host:port.`);
    const parsedHttp = httpCheck.parseArgs([word], cacertOption);
    if (!parsedHttp.ok) return refusal(parsedHttp);
    http = parsedHttp.args;
    const url = new URL(http.url);
    host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    port = url.port !== '' ? Number(url.port) : scheme === 'https' ? 443 : 80;
    const conn = connCheck.parseArgs([host, String(port)], {});
    if (!conn.ok) return refusal(conn);
    host = conn.args.host;
    if (scheme === 'https') {
      const parsedTls = tlsCheck.parseArgs([formatHostPort(host, port)], cacertOption);
      if (!parsedTls.ok) return refusal(parsedTls);
      tls = parsedTls.args;
    }
  } else {
    if (cacert !== undefined) return withUsage('`--cacert` is for an https:// URL (the tls and http parts); a host or host:port gets no TLS check.');
    const hasPort = /^\[[^\]]*\]:/.test(word) || /^[^:]*:[^:]*$/.test(word);
    if (hasPort && word.endsWith(':')) {
      const bare = word.slice(0, -1);
      return withUsage(`\`${clip(word)}\` has no port after the colon: give e.g. \`${clip(bare)}:8080\`, or just \`${clip(bare)}\` for port ${DEFAULT_CONN_PORT}.`);
    }
    const conn = connCheck.parseArgs(hasPort ? [word] : [word, String(DEFAULT_CONN_PORT)], {});
    if (!conn.ok) return refusal(conn);
    host = conn.args.host;
    port = conn.args.port;
  }

  const ping = pingCheck.parseArgs([host], {});
  if (!ping.ok) return refusal(ping);

  const parts: TriagePart[] = [];
  const skipped: TriageArgs['skipped'] = [];
  if (isIpAddress(host)) {
    if (server !== undefined) return withUsage(`\`--server\` is for the DNS lookup, and \`${clip(host)}\` is an IP address: there is nothing to look up.`);
    skipped.push({ check: 'dns', reason: `${host} is an IP address: nothing to look up` });
  } else {
    const dns = dnsCheck.parseArgs([host], serverOption);
    if (!dns.ok) return refusal(dns);
    parts.push({ check: 'dns', args: dns.args });
  }
  parts.push({ check: 'ping', args: ping.args });
  parts.push({ check: 'conn', args: { host, port } });
  if (tls) parts.push({ check: 'tls', args: tls });
  if (http) parts.push({ check: 'http', args: http });
  return { ok: true, args: { parts, skipped, dnsOnly: false } };
}

// ---------------------------------------------------------------------------------------------
// Steps

function prefixOf(check: TriagePartName): string {
  return `${check}.`;
}

function partSteps(part: TriagePart, context: CheckContext | undefined): Step[] {
  // A switch keeps each part's args typed with its own check.
  switch (part.check) {
    case 'dns':
      return dnsCheck.steps(part.args, context);
    case 'ping':
      return pingCheck.steps(part.args, context);
    case 'conn':
      return connCheck.steps(part.args, context);
    case 'tls':
      return tlsCheck.steps(part.args, context);
    case 'http':
      return httpCheck.steps(part.args, context);
  }
}

function partInterpret(part: TriagePart, results: StepResult[], context: CheckContext | undefined): Finding {
  switch (part.check) {
    case 'dns':
      return dnsCheck.interpret(part.args, results, context);
    case 'ping':
      return pingCheck.interpret(part.args, results, context);
    case 'conn':
      return connCheck.interpret(part.args, results, context);
    case 'tls':
      return tlsCheck.interpret(part.args, results, context);
    case 'http':
      return httpCheck.interpret(part.args, results, context);
  }
}

// ---------------------------------------------------------------------------------------------
// Interpretation

function isStepResult(r: unknown): r is StepResult {
  if (typeof r !== 'object' || r === null) return false;
  const s = r as StepResult;
  return typeof s.id === 'string' && typeof s.output === 'string' && Array.isArray(s.argv) && s.argv.every((a) => typeof a === 'string');
}

function validParts(args: TriageArgs | undefined): TriagePart[] {
  const parts = Array.isArray(args?.parts) ? args.parts : [];
  return parts.filter((p): p is TriagePart => typeof p === 'object' && p !== null && PART_ORDER.includes(p.check) && typeof p.args === 'object' && p.args !== null);
}

interface PartOutcome {
  check: TriagePartName;
  finding: Finding;
}

/** "conn connection-refused, http connection-refused". */
function listProblems(outcomes: PartOutcome[]): string {
  return outcomes.map((o) => `${o.check} ${o.finding.verdict}`).join(', ');
}

function interpret(args: TriageArgs, rawResults: unknown, context: CheckContext | undefined): Finding {
  const results = (Array.isArray(rawResults) ? (rawResults as unknown[]) : []).filter(isStepResult);
  const parts = validParts(args);
  if (parts.length === 0) {
    return { check: 'triage', verdict: 'timeout', headline: 'Nothing was checked: the triage arguments name no part to run', facts: {}, steps: results };
  }

  const outcomes: PartOutcome[] = parts.map((part) => {
    const prefix = prefixOf(part.check);
    const own = results.filter((r) => r.id.startsWith(prefix)).map((r) => ({ ...r, id: r.id.slice(prefix.length) }));
    return { check: part.check, finding: partInterpret(part, own, context) };
  });

  // Worst verdict; ties go to the earlier part (layer order), which is the likelier root cause.
  let worst = outcomes[0]!;
  for (const o of outcomes) if (triageSeverity(o.finding.verdict) > triageSeverity(worst.finding.verdict)) worst = o;
  const problems = outcomes.filter((o) => classOf(o.finding.verdict) !== 'good');
  // All good is `ok`, also when conn (`open`) is the only part that could say so.
  const verdict = problems.length === 0 ? 'ok' : worst.finding.verdict;

  let headline: string;
  if (problems.length === 0) {
    // The most specific part (the last: http, else conn, else dns) sums it up best.
    const last = outcomes.at(-1)!;
    headline =
      args?.dnsOnly === true
        ? `${last.check} ok (no host given, so only DNS was checked): ${last.finding.headline}`
        : `all ${outcomes.length} check${outcomes.length === 1 ? '' : 's'} ok: ${last.finding.headline}`;
  } else {
    headline = `${worst.check}: ${worst.finding.headline}`;
    const conn = outcomes.find((o) => o.check === 'conn');
    // Silence to ping while the port answers is the usual ClusterIP / filtered-ICMP picture.
    if (worst.check === 'ping' && verdict === 'unreachable' && conn?.finding.verdict === 'open') {
      const c = conn.finding.facts;
      const at = typeof c.host === 'string' && typeof c.port === 'number' ? ` to ${formatHostPort(c.host, c.port)}` : '';
      headline += `; but conn${at} is open, so the host is up (ICMP is likely filtered)`;
    }
    const others = problems.filter((o) => o !== worst);
    if (others.length > 0) headline += `; also ${listProblems(others)}`;
    if (args?.dnsOnly === true) headline += ' (no host given, so only DNS was checked)';
  }

  // The verdict table first, then each part's key facts.
  const facts: Finding['facts'] = {};
  const rows = new Map<TriagePartName, string>();
  for (const o of outcomes) rows.set(o.check, `${o.finding.verdict} — ${o.finding.headline}`);
  for (const s of Array.isArray(args?.skipped) ? args.skipped : []) {
    if (s && PART_ORDER.includes(s.check) && !rows.has(s.check)) rows.set(s.check, `skipped — ${s.reason}`);
  }
  for (const name of PART_ORDER) {
    const row = rows.get(name);
    if (row !== undefined) facts[name] = row;
  }
  if (args?.dnsOnly === true) {
    facts.scope = 'no host given: only DNS of the default name; give a host, host:port or http(s) URL to test ping, conn, tls and http too';
  }
  for (const o of outcomes) {
    for (const key of KEY_FACTS[o.check]) {
      const value = o.finding.facts?.[key];
      if (value !== undefined) facts[`${o.check}.${key}`] = value;
    }
  }
  return { check: 'triage', verdict, headline, facts, steps: results };
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

const fanout: FanoutTraits = {
  // The worst part, from the verdict table ("conn: connection-refused — …", "dns: skipped — …").
  figure(finding) {
    const rows = PART_ORDER.flatMap((part) => {
      const verdict = stringFact(finding, part)?.split(' — ')[0];
      return verdict !== undefined && verdict !== 'skipped' ? [{ part, verdict }] : [];
    });
    if (classOf(finding.verdict) === 'good' && rows.length > 0) return `${plural(rows.length, 'part')} ok`;
    const worst = rows.find((row) => row.verdict === finding.verdict);
    return worst ? `${worst.part}: ${worst.verdict}` : finding.verdict;
  },
  sameness: (finding) => addressSameness(listFact(finding, 'dns.answers')),
};

// ---------------------------------------------------------------------------------------------

export const triageCheck: CheckDefinition<TriageArgs> = {
  name: 'triage',
  summary: 'dns, ping, conn, and for a URL tls and http, in one go: one verdict table, the worst part decides',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    'Runs the other checks one after another in one debug container and answers with one table, a row per check. What runs depends on the argument:',
    `• nothing: \`dns\` of the default name (kubernetes.default.svc.cluster.local) only: is the pod's DNS working at all`,
    `• \`host\`: \`dns host\`, \`ping host\`, \`conn host ${DEFAULT_CONN_PORT}\``,
    '• `host:port` (`[IPv6]:port`): `dns host`, `ping host`, `conn host port`',
    '• `http://host[:port]/path`: `dns host`, `ping host`, `conn host port` (80 unless given), `http URL`',
    '• `https://host[:port]/path`: `dns host`, `ping host`, `conn host port` (443 unless given), `tls host:port`, `http URL`',
    "For an IP address the dns row says skipped: there is nothing to look up. `--server` goes to the dns part only (the other tools use the pod's own resolver); `--cacert` (only with `kdebug run --local`) goes to the tls and http parts, so it needs an https:// or http:// URL.",
    '',
    'The verdict is the worst verdict of the parts, on one scale, worst first:',
    `• errors: ${scaleText('bad')}`,
    `• warnings: ${scaleText('warning')}`,
    `• \`ok\` when every part is good (${scaleText('good')})`,
    "A failure lower in the stack comes first because it explains the ones above it; ping's `unreachable` and `permission-denied` are the mildest errors (ICMP is often filtered, Service ClusterIPs never answer ping).",
    "Between parts with the same verdict the first of dns, ping, conn, tls, http decides. The headline is that part's headline, prefixed with its name; `/kdebug help <check>` explains each part's verdicts.",
    '',
    "Needs no capabilities (the union of its parts'). The parts run one after another, each within its own limit (dig 2 s, ping about the echo count + 2 s, nc 3 s, openssl and curl the configured HTTP limit each, never past the job's deadline).",
    "With everything failing slowly an https triage takes about half a minute before the pod's own start-up: keep `--timeout` above that.",
    '',
    'Examples:',
    '• `/kdebug triage web-7f9c`',
    '• `/kdebug triage deploy/web -n prod db.prod.svc.cluster.local:5432`',
    '• `/kdebug triage deploy/web -n prod https://payments.prod.svc.cluster.local:8443/healthz`',
  ].join('\n'),
  verdicts: VERDICTS,
  defaultTimeoutSeconds: 90,
  fanout,
  capabilities: [...new Set(Object.values(TRIAGE_PART_CHECKS).flatMap((c) => [...c.capabilities]))].sort(),
  options: [
    { name: 'server', valueName: 'IP[:PORT]', description: "dns part: ask this DNS server instead of the pod's nameservers" },
    { name: 'cacert', valueName: 'FILE', description: 'tls and http parts: trust the CA certificates in this PEM file', localOnly: true },
  ],

  parseArgs(positional, options) {
    try {
      return parseTriage(positional, options);
    } catch (err) {
      return withUsage(`Could not read the arguments: ${err instanceof Error ? err.message : String(err)}.`);
    }
  },

  steps(args, context): Step[] {
    return validParts(args).flatMap((part) => partSteps(part, context).map((step) => ({ ...step, id: `${prefixOf(part.check)}${step.id}` })));
  },

  interpret(args, results, context) {
    return interpretSafely({ check: 'triage', verdict: 'timeout', tool: 'its tools' }, results, () => interpret(args, results, context));
  },
};
