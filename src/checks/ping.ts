// The `ping` check: ICMP echo from inside the pod to one host, and one line on what came back.
//
// It declares no capability, so it runs as an unprivileged user with every capability dropped.
// iputils ping then uses an unprivileged ICMP socket, which works when the pod's network namespace
// allows it (net.ipv4.ping_group_range; containerd 2 and Docker allow every group by default).
// Where it does not, or where the image's ping carries a file capability the container may not
// have, ping cannot run at all: that is the `permission-denied` verdict, and `conn` still works.
//
// The host validation and a few formatting helpers here are shared with conn.ts and trace.ts.
import { isIPv4, isIPv6 } from 'node:net';
import { interpretSafely } from './guard.js';
import { DEFAULT_CHECK_SETTINGS, type CheckContext, type CheckDefinition, type Finding, type Step, type StepResult } from './types.js';

export interface PingArgs {
  host: string;
}

export type PingVerdict = 'ok' | 'packet-loss' | 'unreachable' | 'dns-failure' | 'permission-denied';

const USAGE = 'ping <target> <host>';
const STEP_ID = 'ping';
/** ping's -W: seconds to wait for a reply once everything is sent. A cluster answers in milliseconds. */
export const PING_WAIT_SECONDS = 2;

// ---------------------------------------------------------------------------------------------
// Hosts (shared by ping, conn and trace)

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
/** A part inet_aton() reads as a number: decimal, octal or hex. */
const NUMERIC_PART = /^(?:0x[0-9a-f]*|\d+)$/i;

/**
 * Why `host` is not a DNS name or IP literal we will hand to ping, nc or traceroute; undefined when
 * it is fine. Besides syntax this keeps out anything a tool could read as an option (a leading
 * `-`) and the short numeric forms (`10.1`, `0x7f.1`) that resolvers silently turn into addresses.
 */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty; give a DNS name or an IP address, e.g. `db.prod` or `10.0.0.5`';
  if (host.startsWith('-')) return `\`${host}\` starts with \`-\`, which no host name does`;
  if (host.includes('%')) return `\`${host}\`: interface zone ids (\`%…\`) are not supported`;
  if (isIPv4(host) || isIPv6(host)) return undefined;
  if (host.includes('://') || host.includes('/')) return `\`${host}\` looks like a URL; give just the host name, e.g. \`db.prod.svc.cluster.local\``;
  if (host.includes(':')) return `\`${host}\` is neither an IPv6 address nor a host name`;

  const bare = host.endsWith('.') ? host.slice(0, -1) : host;
  const labels = bare.split('.');
  if (labels.length <= 4 && labels.every((l) => NUMERIC_PART.test(l))) {
    return `\`${host}\` is not a valid IPv4 address; write all four parts, e.g. \`10.0.0.5\``;
  }
  if (bare.length > 253) return `\`${host.slice(0, 40)}…\` is longer than 253 characters`;
  for (const label of labels) {
    if (label === '') return `\`${host}\` has an empty label (two dots in a row, or a leading dot)`;
    if (label.length > 63) return `\`${host}\` has a label longer than 63 characters`;
    if (!LABEL.test(label)) {
      const bad = [...label].find((c) => !/[A-Za-z0-9_-]/.test(c)) ?? '';
      return `\`${host}\` contains \`${bad}\`; host names may only use letters, digits, \`-\`, \`_\` and dots`;
    }
    if (label.startsWith('-') || label.endsWith('-')) return `\`${host}\` has a label that starts or ends with \`-\``;
  }
  return undefined;
}

/** Trim, and accept `[fd00::1]` as `fd00::1` (brackets are how people write IPv6 next to ports). */
export function normalizeHost(text: string): string {
  const trimmed = String(text ?? '').trim();
  const bracketed = /^\[([^\]]*)\]$/.exec(trimmed);
  return bracketed && isIPv6(bracketed[1] ?? '') ? (bracketed[1] ?? '') : trimmed;
}

/** `db.prod (10.0.0.5)` when the host is a name that resolved, else just the host. */
export function describeHost(host: string, address: string | undefined): string {
  return address && address !== host ? `${host} (${address})` : host;
}

// ---------------------------------------------------------------------------------------------
// Small helpers for output and wording (shared)

/** Resolver failures as glibc, musl and busybox word them. */
export const RESOLVER_FAILURE =
  /Name or service not known|Temporary failure in name resolution|No address associated with hostname|Name does not resolve|Try again|Non-recoverable failure in name resolution|nodename nor servname provided|Name has no usable address/i;

/** The first non-empty line of `text`, trimmed and shortened for a headline. */
export function firstLine(text: string): string {
  const line = String(text ?? '').split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** 0.0456 → "0.046", 1.234 → "1.2", 123.4 → "123": enough digits to compare, no more. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms >= 100) return String(Math.round(ms));
  if (ms >= 1) return String(Math.round(ms * 10) / 10);
  return String(Number(ms.toPrecision(2)));
}

/** "2 echo requests", "1 echo request". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The step a check's interpret() reads: by id, or the only one given, and only if it looks like a result. */
export function findStep(results: unknown, id: string): StepResult | undefined {
  const list = Array.isArray(results) ? (results as unknown[]) : [];
  const valid = list.filter((r): r is StepResult => typeof r === 'object' && r !== null && typeof (r as StepResult).output === 'string');
  return valid.find((r) => r.id === id) ?? (valid.length === 1 ? valid[0] : undefined);
}

/** How a step that produced no usable result ended, for a headline: "did not finish in time", "exited with code 127: sh: ping: not found". */
export function describeFailure(tool: string, result: StepResult | undefined): string {
  if (!result) return `${tool} did not run`;
  if (result.exitCode === null) return `${tool} did not finish in time`;
  const said = firstLine(result.output);
  return `${tool} exited with code ${result.exitCode}${said ? `: ${said}` : ' and printed nothing'}`;
}

// ---------------------------------------------------------------------------------------------
// Steps

export function pingArgv(host: string, count: number): string[] {
  // -n: never look up names for reply addresses (no extra DNS traffic, no stalls on a dead resolver).
  return ['ping', '-n', '-c', String(count), '-W', String(PING_WAIT_SECONDS), host];
}

// ---------------------------------------------------------------------------------------------
// Parsing ping's output (iputils, and busybox where it differs)

export interface PingStats {
  transmitted: number;
  received: number;
  /** ICMP errors received instead of replies (iputils "+3 errors"). */
  errors: number;
  duplicates: number;
  /** As ping printed it. */
  lossPercent: number;
}

export interface PingOutput {
  /** From the PING line: the host as ping names it, and the address it pings. */
  host?: string;
  address?: string;
  /** Echo-reply lines seen, without duplicates; counts even when the summary was cut off. */
  replies: number;
  /** icmp_seq of each reply, as printed (iputils counts from 1, busybox from 0). */
  replySeqs: number[];
  /** "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable" lines. */
  icmpErrors: { from: string; message: string }[];
  stats?: PingStats;
  rtt?: { min: number; avg: number; max: number };
  /** Name resolution failed; the resolver's words, e.g. "Name or service not known". */
  dnsError?: string;
  /** ping could not get an ICMP socket, or could not be executed at all, for lack of privilege. */
  permissionError?: string;
  /** Other errors ping reported, e.g. "connect: Network is unreachable". */
  errors: string[];
}

const PERMISSION_PATTERNS = [
  // iputils: "ping: socket: Operation not permitted", older "ping: icmp open socket: ...".
  /\bsocket: (?:Operation not permitted|Permission denied)/i,
  /missing cap_net_raw/i,
  // busybox ping.
  /permission denied \(are you root\?\)/i,
  // The shell or runtime could not execute a ping that carries a file capability the container
  // lacks: "sh: 1: ping: Operation not permitted", "exec /usr/bin/ping: operation not permitted".
  /\bping: (?:Operation not permitted|Permission denied)\s*$/im,
];

export function parsePingOutput(text: string): PingOutput {
  const out: PingOutput = { replies: 0, replySeqs: [], icmpErrors: [], errors: [] };
  const rtts: number[] = [];
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    // iputils "PING db (10.0.0.5) 56(84) bytes of data.", "PING ::1(::1) 56 data bytes"; busybox "PING h (a): 56 data bytes".
    const header = /^PING (\S+?) ?\(([^()\s]+)\)/.exec(line);
    if (header && out.address === undefined) {
      out.host = header[1];
      out.address = header[2];
      continue;
    }
    const reply = /^\d+ bytes from .*?\b(?:icmp_)?seq=(\d+)/.exec(line);
    if (reply) {
      if (/\(DUP!\)/.test(line)) continue;
      out.replies++;
      out.replySeqs.push(Number(reply[1]));
      const time = /\btime[=<]([\d.]+) ?ms/.exec(line);
      if (time) rtts.push(Number(time[1]));
      continue;
    }
    const icmpError = /^From (\S+?)(?: \([^)]*\))?:? icmp_seq=\d+ (.+)$/.exec(line);
    if (icmpError) {
      out.icmpErrors.push({ from: icmpError[1] ?? '', message: (icmpError[2] ?? '').trim() });
      continue;
    }
    const stats = /^(\d+) packets transmitted, (\d+) (?:packets )?received(.*?), ([\d.]+)% packet loss/.exec(line);
    if (stats) {
      const extra = stats[3] ?? '';
      out.stats = {
        transmitted: Number(stats[1]),
        received: Number(stats[2]),
        errors: Number(/\+?(\d+) errors?/.exec(extra)?.[1] ?? 0),
        duplicates: Number(/\+?(\d+) duplicates?/.exec(extra)?.[1] ?? 0),
        lossPercent: Number(stats[4]),
      };
      continue;
    }
    const rtt = /^(?:rtt|round-trip) min\/avg\/max(?:\/mdev)? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(line);
    if (rtt) {
      out.rtt = { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) };
      continue;
    }
    if (out.permissionError === undefined && PERMISSION_PATTERNS.some((p) => p.test(line))) {
      out.permissionError = line;
      continue;
    }
    // iputils "ping: db.invalid: Name or service not known"; busybox "ping: bad address 'db.invalid'".
    const busyboxDns = /^ping: bad address '([^']*)'/.exec(line);
    if (busyboxDns) {
      out.dnsError ??= 'bad address';
      continue;
    }
    const unknownHost = /^ping: unknown host\b/.exec(line);
    const resolver = /^ping: (.+): ([^:]+)$/.exec(line);
    if (unknownHost || (resolver && RESOLVER_FAILURE.test(resolver[2] ?? ''))) {
      out.dnsError ??= unknownHost ? 'unknown host' : (resolver?.[2] ?? '').trim();
      continue;
    }
    const error = /^ping: (.+)$/.exec(line);
    if (error && !/^socktype:/.test(error[1] ?? '')) out.errors.push((error[1] ?? '').trim());
  }
  // A summary cut off before the rtt line: rebuild it from the replies seen.
  if (!out.rtt && rtts.length > 0) {
    out.rtt = { min: rtts.reduce((a, b) => Math.min(a, b)), avg: rtts.reduce((a, b) => a + b, 0) / rtts.length, max: rtts.reduce((a, b) => Math.max(a, b)) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpretation

function percent(lost: number, sent: number): string {
  const p = (lost / sent) * 100;
  return `${Number.isInteger(p) ? p : Math.round(p * 10) / 10}%`;
}

/** "198.51.100.2: Destination Host Unreachable (×3)", one line per distinct error. */
function summarizeIcmpErrors(errors: PingOutput['icmpErrors']): string[] {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(`${e.from}: ${e.message}`, (counts.get(`${e.from}: ${e.message}`) ?? 0) + 1);
  return [...counts].map(([text, n]) => (n > 1 ? `${text} (×${n})` : text));
}

function interpret(args: PingArgs, result: StepResult | undefined): Finding {
  const host = typeof args?.host === 'string' && args.host !== '' ? args.host : '(no host)';
  const out = parsePingOutput(result?.output ?? '');
  const who = describeHost(host, out.address);
  const facts: Finding['facts'] = { host };
  if (out.address) facts.address = out.address;
  if (out.stats) {
    facts.transmitted = out.stats.transmitted;
    facts.received = out.stats.received;
    facts.lossPercent = out.stats.lossPercent;
    if (out.stats.duplicates > 0) facts.duplicates = out.stats.duplicates;
  }
  if (out.rtt) {
    facts.rttMinMs = out.rtt.min;
    facts.rttAvgMs = Math.round(out.rtt.avg * 1000) / 1000;
    facts.rttMaxMs = out.rtt.max;
  }
  if (out.icmpErrors.length > 0) facts.icmpErrors = summarizeIcmpErrors(out.icmpErrors);
  if (out.errors.length > 0) facts.errors = [...new Set(out.errors)];
  const finding = (verdict: PingVerdict, headline: string): Finding => ({ check: 'ping', verdict, headline, facts, steps: result ? [result] : [] });
  const avg = out.rtt ? `, avg ${formatMs(out.rtt.avg)} ms` : '';
  const cutOff = result?.exitCode === null ? ' (ping was stopped before it finished)' : '';

  // ping ran and printed its summary: the counts decide.
  const stats = out.stats;
  if (stats && stats.transmitted > 0) {
    const lost = Math.max(0, stats.transmitted - stats.received);
    if (lost === 0) return finding('ok', `${who}: ${stats.received}/${stats.transmitted} replies${avg}`);
    if (stats.received > 0) {
      return finding('packet-loss', `${percent(lost, stats.transmitted)} packet loss to ${who} (${lost} of ${stats.transmitted} lost)${avg}`);
    }
    return finding('unreachable', unreachableHeadline(who, stats.transmitted, out));
  }

  if (out.permissionError) {
    facts.error = out.permissionError;
    if (/ping: (?:Operation not permitted|Permission denied)\s*$/i.test(out.permissionError)) {
      return finding(
        'permission-denied',
        "ping could not run: the debug image's ping binary needs NET_RAW (a file capability), which the debug container does not get. Use an image whose ping works unprivileged, or test a TCP port with `conn`",
      );
    }
    if (/are you root/i.test(out.permissionError)) {
      return finding(
        'permission-denied',
        "ping could not run: the debug image's ping (busybox) only uses raw sockets, which need NET_RAW. Use an image with iputils ping, or test a TCP port with `conn`",
      );
    }
    return finding(
      'permission-denied',
      'ping is not allowed in this pod: unprivileged ICMP is off (sysctl net.ipv4.ping_group_range) and the debug container has no NET_RAW. Cluster admins can allow unprivileged ICMP; meanwhile test a TCP port with `conn`',
    );
  }
  if (out.dnsError) {
    return finding('dns-failure', `Could not resolve ${host}: ${out.dnsError} (run \`dns ${host}\` for the details)`);
  }

  // No summary: ping was cut off (deadline), or never got going.
  if (out.replies > 0) {
    const highest = out.replySeqs.reduce((a, b) => Math.max(a, b));
    const lowest = out.replySeqs.reduce((a, b) => Math.min(a, b));
    const sent = highest - Math.min(lowest, 1) + 1;
    const lost = Math.max(0, sent - out.replies);
    if (lost > 0) return finding('packet-loss', `${percent(lost, sent)} packet loss to ${who} (${lost} of the first ${sent} lost)${cutOff}`);
    return finding('ok', `${who}: ${out.replies} replies${avg}${cutOff}`);
  }
  if (out.errors.length > 0) {
    const error = out.errors[0] ?? '';
    const why = /Network is unreachable/i.test(error) ? ': the pod has no route to it' : '';
    return finding('unreachable', `ping ${who} failed: ${error}${why}`);
  }
  if (out.icmpErrors.length > 0) return finding('unreachable', unreachableHeadline(who, undefined, out) + cutOff);
  // Not a ping outcome at all (ping missing, killed before printing anything). "unreachable"
  // (no reply obtained) is the closest honest verdict; the headline says what really happened.
  return finding('unreachable', `No ping result for ${host}: ${describeFailure('ping', result)}`);
}

function unreachableHeadline(who: string, sent: number | undefined, out: PingOutput): string {
  const all = sent === undefined ? 'no echo request answered' : sent === 1 ? 'the echo request was lost' : `all ${sent} echo requests lost`;
  const first = out.icmpErrors[0];
  if (first) return `${who} is unreachable: ${first.from} reports ${first.message} (${all})`;
  // Silence. Plenty of networks drop ICMP, and Service ClusterIPs never answer ping at all.
  return `No reply from ${who}: ${all} (ICMP may simply be blocked: try \`conn\` to a port)`;
}

// ---------------------------------------------------------------------------------------------

function withUsage(message: string): { ok: false; message: string } {
  return { ok: false, message: `${message}\nUsage: \`/kdebug ${USAGE}\`` };
}

export const pingCheck: CheckDefinition<PingArgs> = {
  name: 'ping',
  summary: 'Ping a host from inside the pod: replies, packet loss and round-trip times',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Runs \`ping -n -c N -W ${PING_WAIT_SECONDS} <host>\` in the pod's network namespace (N is set by the installation, ${DEFAULT_CHECK_SETTINGS.pingCount} by default). The host is a DNS name, resolved with the pod's own resolver, or an IPv4/IPv6 address.`,
    '',
    'Verdicts:',
    '• `ok`: every echo request was answered',
    '• `packet-loss`: some were lost (the headline gives the percentage)',
    '• `unreachable`: none came back; either a router reported the host unreachable, or there was silence (many networks drop ICMP, and Service ClusterIPs never answer ping: use `conn` to test a port)',
    '• `dns-failure`: the host name did not resolve in the pod',
    '• `permission-denied`: the pod does not allow ping without privileges (net.ipv4.ping_group_range), so no ICMP could be sent; use `conn`',
    '',
    'Needs no capabilities: ping uses an unprivileged ICMP socket.',
    '',
    'Examples:',
    '• `/kdebug ping web-7f9c db.prod.svc.cluster.local`',
    '• `/kdebug ping deploy/web -n prod 10.0.0.5`',
  ].join('\n'),
  verdicts: ['ok', 'packet-loss', 'unreachable', 'dns-failure', 'permission-denied'],
  capabilities: [],
  options: [],

  parseArgs(positional, options) {
    const optionNames = Object.keys(options ?? {});
    if (optionNames.length > 0) return withUsage(`The ping check has no option \`--${optionNames[0]?.replace(/^-+/, '')}\`.`);
    const given = (positional ?? []).map((p) => String(p));
    if (given.length === 0) return withUsage('Which host? Give a DNS name or an IP address to ping, e.g. `db.prod.svc.cluster.local`.');
    if (given.length > 1) return withUsage(`ping takes one host (got ${given.length}: ${given.map((g) => `\`${g}\``).join(', ')}).`);
    const host = normalizeHost(given[0] ?? '');
    const problem = hostProblem(host);
    if (problem) return withUsage(`${problem}.`);
    return { ok: true, args: { host } };
  },

  steps(args, context?: CheckContext): Step[] {
    const count = (context ?? { settings: DEFAULT_CHECK_SETTINGS }).settings.pingCount;
    return [{ id: STEP_ID, argv: pingArgv(args.host, count) }];
  },

  interpret(args, results) {
    return interpretSafely({ check: 'ping', verdict: 'unreachable', tool: 'ping' }, results, () => interpret(args, findStep(results, STEP_ID)));
  },
};
