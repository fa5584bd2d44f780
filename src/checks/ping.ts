// The `ping` check: ICMP echo from inside the pod to one host, and one line on what came back.
//
// It declares no capability, so it runs as an unprivileged user with every capability dropped.
// iputils ping then uses an unprivileged ICMP socket, which works when the pod's network namespace
// allows it (net.ipv4.ping_group_range; containerd 2 and Docker allow every group by default).
// Where it does not, or where the image's ping carries a file capability the container may not
// have, ping cannot run at all: that is the `permission-denied` verdict, and `conn` still works.
//
import { z } from 'zod';
import { hostProblem, normalizeHost } from '../core/host.js';
import { numberFact } from './fanout/facts.js';
import { interpretSafely } from './guard.js';
import { describeFailure, describeHost, findStep, formatMs, RESOLVER_FAILURE } from './output.js';
import { refusalWithUsage, settingsOf, type CheckDefinition, type FanoutTraits, type Finding, type Step, type StepResult, type VerdictTable } from './types.js';

export interface PingArgs {
  host: string;
}

export type PingVerdict = 'ok' | 'packet-loss' | 'unreachable' | 'dns-failure' | 'permission-denied';

/** Silence to ping says little (ICMP is often filtered, ClusterIPs never answer): its failures are the mildest errors. */
const VERDICTS: { readonly [V in PingVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  'packet-loss': { class: 'warning', severity: 29 },
  unreachable: { class: 'bad', severity: 60 },
  'dns-failure': { class: 'bad', severity: 90 },
  'permission-denied': { class: 'bad', severity: 59 },
};

const DEFAULT_COUNT = 4;
const settings = z.strictObject({
  /** Echo requests sent. */
  count: z.number().int().min(1).max(100).default(DEFAULT_COUNT),
});

const USAGE = 'ping <target> <host>';
const STEP_ID = 'ping';
/** ping's -W: seconds to wait for a reply once everything is sent. A cluster answers in milliseconds. */
export const PING_WAIT_SECONDS = 2;

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
// On many pods (--all)

const fanout: FanoutTraits = {
  figure(finding) {
    const loss = numberFact(finding, 'lossPercent');
    const avg = numberFact(finding, 'rttAvgMs');
    if (loss === undefined) return finding.verdict;
    return avg !== undefined ? `${loss}% loss, ${formatMs(avg)} ms` : `${loss}% loss`;
  },
  latencyMs: (finding) => numberFact(finding, 'rttAvgMs'),
};

// ---------------------------------------------------------------------------------------------

const withUsage = refusalWithUsage(USAGE);

export const pingCheck: CheckDefinition<PingArgs, z.infer<typeof settings>> = {
  name: 'ping',
  summary: 'Ping a host from inside the pod: replies, packet loss and round-trip times',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Runs \`ping -n -c N -W ${PING_WAIT_SECONDS} <host>\` in the pod's network namespace (N is set by the installation, ${DEFAULT_COUNT} by default). The host is a DNS name, resolved with the pod's own resolver, or an IPv4/IPv6 address.`,
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
  verdicts: VERDICTS,
  capabilities: [],
  settings,
  fanout,
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

  steps(args, context): Step[] {
    const { count } = settingsOf(pingCheck, context);
    return [{ id: STEP_ID, argv: pingArgv(args.host, count) }];
  },

  interpret(args, results) {
    return interpretSafely({ check: 'ping', verdict: 'unreachable', tool: 'ping' }, results, () => interpret(args, findStep(results, STEP_ID)));
  },
};
