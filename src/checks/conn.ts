// The `conn` check: can the pod open a TCP connection to host:port? One `nc -z` connect test,
// read back as open / refused / timed out / name did not resolve.
//
// Two netcats are read: netcat-openbsd (what nicolaka/netshoot ships, and what the fixtures were
// recorded from) and busybox's full nc. Busybox at a single -v prints nothing for a refused
// connection, so a silent exit 1 counts as refused; its other messages come from its source
// (networking/nc_bloaty.c) and are covered by unit tests, not recordings.
import { formatHostPort, hostProblem, normalizeHost, parsePort } from '../core/host.js';
import { firstLine } from '../core/text.js';
import { interpretSafely } from './guard.js';
import { describeFailure, describeHost, findStep, RESOLVER_FAILURE } from './output.js';
import { refusalWithUsage, type CheckDefinition, type FanoutTraits, type Finding, type Step, type StepResult, type VerdictTable } from './types.js';

export interface ConnArgs {
  host: string;
  port: number;
}

export type ConnVerdict = 'open' | 'connection-refused' | 'timeout' | 'dns-failure';

const VERDICTS: { readonly [V in ConnVerdict]: VerdictTable[string] } = {
  open: { class: 'good', severity: 0 },
  'connection-refused': { class: 'bad', severity: 85 },
  timeout: { class: 'bad', severity: 100 },
  'dns-failure': { class: 'bad', severity: 90 },
};

const USAGE = 'conn <target> <host> <port>';
const STEP_ID = 'nc';
/**
 * nc's -w: seconds to wait for the connection. Long enough for one SYN retransmission (Linux
 * resends after 1 s), short enough that a silently dropped connection does not stall the reply.
 */
export const CONN_TIMEOUT_SECONDS = 3;

export function ncArgv(host: string, port: number): string[] {
  // -z: connect and close without sending data; -v: say what happened (nc is silent otherwise).
  return ['nc', '-zv', '-w', String(CONN_TIMEOUT_SECONDS), host, String(port)];
}

// ---------------------------------------------------------------------------------------------
// Parsing nc's output

export type AttemptOutcome = 'refused' | 'timeout' | 'unreachable' | 'other';

export interface NcAttempt {
  /** The address tried, when nc printed it (a name resolving to several addresses gives one attempt each). */
  address?: string;
  outcome: AttemptOutcome;
  /** nc's own words: "Connection refused", "timed out: Operation now in progress", "No route to host". */
  reason: string;
}

export interface NcOutput {
  /** A connection succeeded (`Connection to … succeeded!`, busybox `… open`). */
  open: boolean;
  /** The address that accepted, when printed. */
  openAddress?: string;
  /** "tcp/postgresql": the service name openbsd nc looks up for the port. */
  service?: string;
  failures: NcAttempt[];
  dnsError?: string;
  /** This nc does not take our options (e.g. a minimal busybox nc without -z). */
  usageError?: string;
}

function outcomeOf(reason: string): AttemptOutcome {
  if (/refused/i.test(reason)) return 'refused';
  if (/timed out|timeout/i.test(reason)) return 'timeout';
  if (/No route to host|Network is unreachable|Host is unreachable/i.test(reason)) return 'unreachable';
  return 'other';
}

/** busybox prints "10.0.0.5:5432" or "[fd00::5]:5432"; keep the address. */
function stripPort(hostPort: string): string {
  const m = /^\[?(.*?)\]?:\d+$/.exec(hostPort);
  return m?.[1] ?? hostPort;
}

export function parseNcOutput(text: string): NcOutput {
  const out: NcOutput = { open: false, failures: [] };
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    // openbsd: "Connection to db.prod (10.0.0.5) 5432 port [tcp/postgresql] succeeded!" (no "(addr)" for literals).
    const succeeded = /^Connection to (\S+)(?: \(([^)]+)\))? (\d+) port \[([^\]]*)\] succeeded!/.exec(line);
    if (succeeded) {
      out.open = true;
      out.openAddress = succeeded[2] ?? succeeded[1];
      if (succeeded[4] && !succeeded[4].endsWith('/*')) out.service = succeeded[4];
      continue;
    }
    // openbsd: "nc: connect to db.prod (10.0.0.5) port 5432 (tcp) failed: Connection refused" / "... timed out: Operation now in progress".
    const failed = /^nc: connect to (\S+)(?: \(([^)]+)\))? port \d+ \(\w+\) (failed|timed out): (.+)$/.exec(line);
    if (failed) {
      const reason = failed[3] === 'timed out' ? `timed out: ${failed[4]}` : (failed[4] ?? '');
      out.failures.push({ address: failed[2] ?? failed[1], outcome: failed[3] === 'timed out' ? 'timeout' : outcomeOf(reason), reason });
      continue;
    }
    // openbsd: 'nc: getaddrinfo for host "db.invalid" port 5432: Name or service not known' (older: "nc: getaddrinfo: ...").
    const getaddrinfo = /^nc: getaddrinfo(?: for host "[^"]*" port \S+)?: (.+)$/.exec(line);
    if (getaddrinfo) {
      out.dnsError ??= (getaddrinfo[1] ?? '').trim();
      continue;
    }
    // busybox: "nc: bad address 'db.invalid'".
    if (/^nc: bad address '/.test(line)) {
      out.dnsError ??= 'bad address';
      continue;
    }
    // busybox: "db.prod (10.0.0.5:5432) open".
    const bbOpen = /^(\S+) \(([^)]+)\) open$/.exec(line);
    if (bbOpen) {
      out.open = true;
      out.openAddress = stripPort(bbOpen[2] ?? '');
      continue;
    }
    // busybox: "nc: db.prod (10.0.0.5:5432): Connection timed out".
    const bbFailed = /^nc: (\S+) \(([^)]+)\): (.+)$/.exec(line);
    if (bbFailed) {
      const reason = (bbFailed[3] ?? '').trim();
      out.failures.push({ address: stripPort(bbFailed[2] ?? ''), outcome: outcomeOf(reason), reason });
      continue;
    }
    if (/invalid option|unrecognized option|unknown option|^usage: nc\b/i.test(line)) {
      out.usageError ??= line;
      continue;
    }
    // Any other resolver complaint, whatever the nc.
    if (/^nc: /.test(line) && RESOLVER_FAILURE.test(line)) out.dnsError ??= line.replace(/^nc: /, '');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpretation

function interpret(args: ConnArgs, result: StepResult | undefined): Finding {
  const host = typeof args?.host === 'string' && args.host !== '' ? args.host : '(no host)';
  const port = typeof args?.port === 'number' ? args.port : 0;
  const target = formatHostPort(host, port);
  const out = parseNcOutput(result?.output ?? '');
  const facts: Finding['facts'] = { host, port };
  if (out.service) facts.service = out.service;
  if (out.failures.length > 0) facts.attempts = out.failures.map((f) => (f.address ? `${f.address}: ${f.reason}` : f.reason));
  const finding = (verdict: ConnVerdict, headline: string): Finding => ({ check: 'conn', verdict, headline, facts, steps: result ? [result] : [] });

  if (out.open) {
    if (out.openAddress) facts.address = out.openAddress;
    const via = out.openAddress && out.openAddress !== host ? ` (${out.openAddress})` : '';
    return finding('open', `${target} accepted the connection${via}`);
  }
  if (out.dnsError) return finding('dns-failure', `Could not resolve ${host}: ${out.dnsError} (run \`dns ${host}\` for the details)`);

  if (out.failures.length > 0) {
    const addresses = [...new Set(out.failures.map((f) => f.address).filter((a): a is string => !!a && a !== host))];
    if (addresses.length > 0) facts.address = addresses.join(', ');
    const who = describeHost(target, addresses.join(', ') || undefined);
    if (out.failures.every((f) => f.outcome === 'refused')) {
      return finding('connection-refused', `${who} refused the connection: nothing listens on that port (or the Service has no ready endpoints)`);
    }
    // Everything else means no connection and no port to blame: the path or the host is the problem.
    const unreachable = out.failures.find((f) => f.outcome === 'unreachable');
    if (unreachable) return finding('timeout', `${who} is unreachable: ${unreachable.reason} (the host is gone, or a firewall rejects the connection)`);
    if (out.failures.some((f) => f.outcome === 'timeout')) {
      return finding('timeout', `${who}: no answer within ${CONN_TIMEOUT_SECONDS} s (packets are dropped on the way, e.g. by a NetworkPolicy, or the host is down)`);
    }
    return finding('timeout', `${who}: could not connect: ${out.failures[0]?.reason ?? ''}`);
  }

  if (out.usageError) {
    facts.error = out.usageError;
    return finding('timeout', `No connect test to ${target}: the debug image's nc does not support \`-z\` (${out.usageError}); it needs netcat-openbsd or a full busybox nc`);
  }
  if (result && result.exitCode === 1 && firstLine(result.output) === '') {
    // busybox nc reports everything but a refusal at one -v; openbsd nc always says something.
    return finding('connection-refused', `${target} refused the connection (nc exited 1 without a message, which is how busybox nc reports a refusal)`);
  }
  if (result && result.exitCode === 0) return finding('open', `${target} accepted the connection (nc exited 0)`);
  if (result && result.exitCode === null) return finding('timeout', `${target}: no connection before the deadline (nc did not finish)`);
  // Not an nc outcome (nc missing, crashed): "timeout" (no connection made) is the closest
  // verdict; the headline says what really happened.
  return finding('timeout', `No connect result for ${target}: ${describeFailure('nc', result)}`);
}

// ---------------------------------------------------------------------------------------------
// Arguments

/** `db.prod:5432` or `[fd00::5]:5432` given as one word; undefined when it is not that shape. */
function splitHostPort(text: string): { host: string; port: string } | undefined {
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracketed) return { host: bracketed[1] ?? '', port: bracketed[2] ?? '' };
  const single = /^([^:]+):([^:]*)$/.exec(text);
  if (single) return { host: single[1] ?? '', port: single[2] ?? '' };
  return undefined;
}

const withUsage = refusalWithUsage(USAGE);

// nc prints no timing, so pods compare by verdict alone.
const fanout: FanoutTraits = {
  figure: (finding) => (finding.verdict === 'connection-refused' ? 'refused' : finding.verdict),
};

export const connCheck: CheckDefinition<ConnArgs> = {
  name: 'conn',
  summary: 'Test a TCP connection from inside the pod to host:port (open, refused, or dropped)',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Runs \`nc -zv -w ${CONN_TIMEOUT_SECONDS} <host> <port>\` in the pod's network namespace: it opens a TCP connection and closes it at once, sending no data. The host is a DNS name (resolved with the pod's own resolver) or an IPv4/IPv6 address; \`host:port\` in one word works too.`,
    '',
    'Verdicts:',
    '• `open`: the connection was accepted',
    '• `connection-refused`: the host answered but nothing listens on that port (for a Service: no ready endpoints)',
    `• \`timeout\`: no connection within ${CONN_TIMEOUT_SECONDS} s: packets are dropped (NetworkPolicy, firewall, security group) or the host is down; also used when the network reports the host unreachable`,
    '• `dns-failure`: the host name did not resolve in the pod',
    '',
    'Needs no capabilities.',
    '',
    'Examples:',
    '• `/kdebug conn web-7f9c db.prod.svc.cluster.local 5432`',
    '• `/kdebug conn deploy/web -n prod redis.cache:6379`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: [],
  fanout,
  options: [],

  parseArgs(positional, options) {
    const optionNames = Object.keys(options ?? {});
    if (optionNames.length > 0) return withUsage(`The conn check has no option \`--${optionNames[0]?.replace(/^-+/, '')}\`.`);
    const given = (positional ?? []).map((p) => String(p).trim());
    if (given.length === 0) return withUsage('Which host and port? e.g. `db.prod.svc.cluster.local 5432`.');
    if (given.length > 2) return withUsage(`conn takes a host and a port (got ${given.length} arguments: ${given.map((g) => `\`${g}\``).join(', ')}).`);

    let hostText = given[0] ?? '';
    let portText = given[1];
    if (portText === undefined) {
      const split = splitHostPort(hostText);
      if (!split || split.port === '') {
        const shown = split?.host ?? hostText;
        return withUsage(`Which port on \`${shown}\`? e.g. \`${shown} 443\`.`);
      }
      hostText = split.host;
      portText = split.port;
    }
    const host = normalizeHost(hostText);
    const problem = hostProblem(host);
    if (problem) return withUsage(`${problem}.`);
    const port = parsePort(portText);
    if (port === undefined) return withUsage(`\`${portText}\` is not a port: give a number from 1 to 65535.`);
    return { ok: true, args: { host, port } };
  },

  steps(args): Step[] {
    return [{ id: STEP_ID, argv: ncArgv(args.host, args.port) }];
  },

  interpret(args, results) {
    return interpretSafely({ check: 'conn', verdict: 'timeout', tool: 'nc' }, results, () => interpret(args, findStep(results, STEP_ID)));
  },
};
