// The `trace` check: traceroute from inside the pod, and where the path stops if it does not arrive.
//
// Two traceroutes are read: Dmitry Butskoy's (Debian's `traceroute` package) and busybox's, which
// is the `traceroute` in nicolaka/netshoot (Alpine). Their output formats are nearly the same.
// They differ in privilege: Butskoy's default UDP probes read the ICMP replies through IP_RECVERR
// and need nothing, but busybox receives them on a raw ICMP socket and fails without NET_RAW
// ("traceroute: socket: Operation not permitted", recorded in test/fixtures/trace). Since the
// default debug image ships busybox, the check declares NET_RAW.
//
// Bounded: at most `traceMaxHops` hops, one probe per hop, TRACE_WAIT_SECONDS per probe. Busybox
// probes one hop at a time, so a path that goes silent costs up to hops × TRACE_WAIT_SECONDS;
// Butskoy sends up to 16 probes at once and finishes within a few waits.
import { isIP } from 'node:net';
import { z } from 'zod';
import { hostProblem, normalizeHost } from '../core/host.js';
import { plural } from '../core/text.js';
import { interpretSafely } from './guard.js';
import { describeFailure, describeHost, findStep, formatMs, RESOLVER_FAILURE } from './output.js';
import { numberFact, stringFact } from './fanout/facts.js';
import { refusalWithUsage, settingsOf, type CheckDefinition, type FanoutTraits, type Finding, type Step, type StepResult, type VerdictTable } from './types.js';

export interface TraceArgs {
  host: string;
}

export type TraceVerdict = 'ok' | 'incomplete' | 'dns-failure';

const VERDICTS: { readonly [V in TraceVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  incomplete: { class: 'warning', severity: 27 },
  'dns-failure': { class: 'bad', severity: 90 },
};

const DEFAULT_MAX_HOPS = 20;
const settings = z.strictObject({
  /** Most hops probed. */
  maxHops: z.number().int().min(1).max(64).default(DEFAULT_MAX_HOPS),
});

const USAGE = 'trace <target> <host>';
const STEP_ID = 'traceroute';
/** traceroute's -w: seconds to wait for each probe's answer. */
export const TRACE_WAIT_SECONDS = 2;

export function tracerouteArgv(host: string, maxHops: number): string[] {
  // -n: no reverse lookups of hop addresses (slow, and more DNS traffic); -q 1: one probe per hop.
  return ['traceroute', '-n', '-m', String(maxHops), '-w', String(TRACE_WAIT_SECONDS), '-q', '1', host];
}

// ---------------------------------------------------------------------------------------------
// Parsing traceroute's output

export interface TraceHop {
  hop: number;
  /** The first address that answered at this hop; undefined when every probe went unanswered (`*`). */
  address?: string;
  rttMs?: number;
  /** traceroute's flag for an ICMP error instead of "time exceeded", e.g. "!H" (host unreachable). */
  annotation?: string;
}

export interface TracerouteOutput {
  /** From the header "traceroute to HOST (ADDRESS), N hops max". */
  host?: string;
  address?: string;
  maxHops?: number;
  hops: TraceHop[];
  dnsError?: string;
  /** traceroute could not open its socket, e.g. busybox without NET_RAW. */
  permissionError?: string;
  /** Other errors, e.g. "connect: Network is unreachable". */
  errors: string[];
}

/** What traceroute's `!X` flags mean, for a headline. */
const ANNOTATIONS: Record<string, string> = {
  '!H': 'host unreachable',
  '!N': 'network unreachable',
  '!P': 'protocol unreachable',
  '!S': 'source route failed',
  '!F': 'fragmentation needed',
  '!X': 'communication administratively prohibited',
  '!V': 'host precedence violation',
  '!C': 'precedence cut-off',
};

function describeAnnotation(annotation: string): string {
  const known = ANNOTATIONS[annotation.slice(0, 2)];
  return known ?? `ICMP error ${annotation}`;
}

function parseHop(hop: number, rest: string): TraceHop {
  const result: TraceHop = { hop };
  for (const token of rest.trim().split(/\s+/)) {
    const bare = token.replace(/^\((.*)\)$/, '$1');
    if (result.address === undefined && isIP(bare)) result.address = bare;
    else if (/^!/.test(token)) result.annotation ??= token;
  }
  const rtt = /([\d.]+) ms/.exec(rest);
  if (rtt && result.address !== undefined) result.rttMs = Number(rtt[1]);
  return result;
}

export function parseTracerouteOutput(text: string): TracerouteOutput {
  const out: TracerouteOutput = { hops: [], errors: [] };
  const lines = String(text ?? '').split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const header = /^traceroute6? to (\S+) \(([^)]+)\), (\d+) hops max/.exec(line);
    if (header) {
      out.host = header[1];
      out.address = header[2];
      out.maxHops = Number(header[3]);
      continue;
    }
    const hop = /^(\d+)\s+(.*)$/.exec(line);
    if (hop) {
      out.hops.push(parseHop(Number(hop[1]), hop[2] ?? ''));
      continue;
    }
    // Butskoy: "db.invalid: Name or service not known" then 'Cannot handle "host" cmdline arg ...'.
    if (/^Cannot handle "host" cmdline arg/.test(line)) {
      const previous = /^\S+: (.+)$/.exec(lines[i - 1]?.trim() ?? '');
      out.dnsError ??= previous?.[1] ?? 'the name did not resolve';
      continue;
    }
    if (/^traceroute: bad address '/.test(line)) {
      out.dnsError ??= 'bad address';
      continue;
    }
    if (/socket: (?:Operation not permitted|Permission denied)|not have enough privileges/i.test(line)) {
      out.permissionError ??= line;
      continue;
    }
    const resolver = /^(?:traceroute: )?\S+: (.+)$/.exec(line);
    if (resolver && RESOLVER_FAILURE.test(resolver[1] ?? '') && !/^(?:connect|send|recv)/.test(line)) {
      out.dnsError ??= (resolver[1] ?? '').trim();
      continue;
    }
    out.errors.push(line);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpretation

/** " 1  192.0.2.2  0.146 ms" style lines for the facts, with a trailing run of silent hops collapsed. */
function hopLines(hops: TraceHop[]): string[] {
  const lines: string[] = [];
  let i = 0;
  while (i < hops.length) {
    const hop = hops[i];
    if (!hop) break;
    if (hop.address === undefined) {
      let j = i;
      while (j + 1 < hops.length && hops[j + 1]?.address === undefined) j++;
      const last = hops[j]?.hop ?? hop.hop;
      lines.push(last === hop.hop ? `${hop.hop}  *` : `${hop.hop}–${last}  *`);
      i = j + 1;
      continue;
    }
    const rtt = hop.rttMs !== undefined ? `  ${formatMs(hop.rttMs)} ms` : '';
    lines.push(`${hop.hop}  ${hop.address}${rtt}${hop.annotation ? `  ${hop.annotation}` : ''}`);
    i++;
  }
  return lines;
}

function interpret(args: TraceArgs, result: StepResult | undefined, maxHops: number): Finding {
  const host = typeof args?.host === 'string' && args.host !== '' ? args.host : '(no host)';
  const out = parseTracerouteOutput(result?.output ?? '');
  const destination = out.address ?? (isIP(host) ? host : undefined);
  const who = describeHost(host, destination);
  const facts: Finding['facts'] = { host };
  if (destination) facts.address = destination;
  facts.maxHops = out.maxHops ?? maxHops;
  if (out.hops.length > 0) facts.hops = hopLines(out.hops);
  if (out.errors.length > 0) facts.errors = out.errors.slice(0, 5);
  const finding = (verdict: TraceVerdict, headline: string): Finding => ({ check: 'trace', verdict, headline, facts, steps: result ? [result] : [] });
  const stopped = result?.exitCode === null ? ' (traceroute was stopped before it finished)' : '';

  const arrival = destination !== undefined ? out.hops.find((h) => h.address === destination) : undefined;
  if (arrival) {
    facts.hopCount = arrival.hop;
    const silent = out.hops.filter((h) => h.hop < arrival.hop && h.address === undefined).length;
    const rtt = arrival.rttMs !== undefined ? `, ${formatMs(arrival.rttMs)} ms` : '';
    const quiet = silent > 0 ? ` (${plural(silent, 'hop')} on the way did not answer)` : '';
    return finding('ok', `${who} reached in ${plural(arrival.hop, 'hop')}${rtt}${quiet}`);
  }

  if (out.hops.length > 0) {
    const answered = out.hops.filter((h) => h.address !== undefined);
    const last = answered.at(-1);
    const probed = out.hops.at(-1)?.hop ?? out.hops.length;
    if (!last) {
      return finding('incomplete', `No hop answered on the route to ${who} (${plural(probed, 'hop')} probed)${stopped}`);
    }
    facts.lastHop = `${last.hop} ${last.address}`;
    if (last.annotation) {
      return finding('incomplete', `route to ${who} stops at hop ${last.hop}: ${last.address} reports ${describeAnnotation(last.annotation)}${stopped}`);
    }
    const after = probed > last.hop + 1 ? `; nothing answered from hop ${last.hop + 1} to ${probed}` : probed > last.hop ? `; nothing answered at hop ${probed}` : '';
    return finding('incomplete', `route to ${who} stops after hop ${last.hop} (${last.address})${after}${stopped}`);
  }

  if (out.dnsError) return finding('dns-failure', `Could not resolve ${host}: ${out.dnsError} (run \`dns ${host}\` for the details)`);
  if (out.permissionError) {
    facts.error = out.permissionError;
    return finding('incomplete', `traceroute could not run: ${out.permissionError.replace(/^traceroute: /, '')} (this traceroute needs the NET_RAW capability)`);
  }
  const error = out.errors[0];
  if (error) {
    const why = /Network is unreachable/i.test(error) ? ': the pod has no route to it' : '';
    return finding('incomplete', `traceroute to ${who} failed: ${error.replace(/^traceroute: /, '')}${why}`);
  }
  // Not a traceroute outcome (traceroute missing, killed before printing). "incomplete" is the
  // closest verdict; the headline says what really happened.
  return finding('incomplete', `No trace to ${host}: ${describeFailure('traceroute', result)}`);
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

const fanout: FanoutTraits = {
  figure(finding) {
    const hops = numberFact(finding, 'hopCount');
    if (hops !== undefined) return plural(hops, 'hop');
    const last = /^(\d+) (\S+)$/.exec(stringFact(finding, 'lastHop') ?? '');
    return last ? `last hop ${last[1]} (${last[2]})` : finding.verdict;
  },
};

// ---------------------------------------------------------------------------------------------

const withUsage = refusalWithUsage(USAGE);

export const traceCheck: CheckDefinition<TraceArgs, z.infer<typeof settings>> = {
  name: 'trace',
  summary: 'Traceroute from inside the pod: does the path reach the host, and where does it stop',
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Runs \`traceroute -n -m N -w ${TRACE_WAIT_SECONDS} -q 1 <host>\` in the pod's network namespace: one UDP probe per hop, at most N hops (set by the installation, ${DEFAULT_MAX_HOPS} by default), ${TRACE_WAIT_SECONDS} s per probe. The host is a DNS name (resolved with the pod's own resolver) or an IPv4/IPv6 address.`,
    '',
    'Verdicts:',
    '• `ok`: the destination answered (the headline gives the hop count)',
    '• `incomplete`: it did not; the headline names the last hop that answered, and what it reported if it sent an error',
    '• `dns-failure`: the host name did not resolve in the pod',
    'Silent hops (`*`) are normal for routers that do not answer probes; only the end of the path matters.',
    '',
    "Needs `NET_RAW`: the debug image's busybox traceroute reads replies on a raw ICMP socket.",
    '',
    'Examples:',
    '• `/kdebug trace web-7f9c 10.0.12.7`',
    '• `/kdebug trace deploy/web -n prod db.prod.svc.cluster.local`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: ['NET_RAW'],
  settings,
  defaultTimeoutSeconds: 90,
  fanout,
  options: [],

  parseArgs(positional, options) {
    const optionNames = Object.keys(options ?? {});
    if (optionNames.length > 0) return withUsage(`The trace check has no option \`--${optionNames[0]?.replace(/^-+/, '')}\`.`);
    const given = (positional ?? []).map((p) => String(p));
    if (given.length === 0) return withUsage('Which host? Give a DNS name or an IP address to trace, e.g. `10.0.12.7`.');
    if (given.length > 1) return withUsage(`trace takes one host (got ${given.length}: ${given.map((g) => `\`${g}\``).join(', ')}).`);
    const host = normalizeHost(given[0] ?? '');
    const problem = hostProblem(host);
    if (problem) return withUsage(`${problem}.`);
    return { ok: true, args: { host } };
  },

  liveProgress(_args, { output }) {
    const { hops } = parseTracerouteOutput(output ?? '');
    const last = hops.at(-1);
    return hops.length ? `tracing: ${plural(hops.length, 'hop')} so far, the last ${last?.address ?? '* (no answer)'}` : 'tracing: no hop yet';
  },
  steps(args, context): Step[] {
    const { maxHops } = settingsOf(traceCheck, context);
    return [{ id: STEP_ID, argv: tracerouteArgv(args.host, maxHops) }];
  },

  interpret(args, results, context) {
    return interpretSafely({ check: 'trace', verdict: 'incomplete', tool: 'traceroute' }, results, () =>
      interpret(args, findStep(results, STEP_ID), settingsOf(traceCheck, context).maxHops),
    );
  },
};
