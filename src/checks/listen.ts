// The `listen` check: what the pod listens on, seen from inside its network namespace, and whether
// a port is listened on at an address the pod's IP reaches. The classic cause of "connection
// refused" through a Service is an app listening on 127.0.0.1 only, or on another port.
//
// Two runs of iproute2's ss (what nicolaka/netshoot ships): `ss -Hltnu` for the TCP and UDP
// listeners, `ss -Htan` for every TCP socket's state (a pile of CLOSE-WAIT is an app that does
// not close its sockets). ss reads the sockets over netlink (sock_diag), which needs no privilege
// inside the pod's own network namespace, so the check runs unprivileged.
//
// How ss writes a local address (iproute2 misc/ss.c, inet_addr_print):
//   0.0.0.0:8080          IPv4, every address
//   127.0.0.1:9090        IPv4, one address
//   *:8080                IPv6 socket on :: that also takes IPv4 (dual stack, IPV6_V6ONLY off)
//   [::]:8443             IPv6 socket on :: with IPV6_V6ONLY: IPv6 clients only
//   [::1]:9091            IPv6 loopback; [::ffff:127.0.0.1]:9092 an IPv4-mapped loopback address
//   127.0.0.53%lo:53      bound to a device (SO_BINDTODEVICE): only packets on that interface
// Older ss (before iproute2 4.x) printed `*:22` for 0.0.0.0 and `:::22` for ::, both read as "every address".
// Without -p there is no process column; with it, `users:(("nginx",pid=1,fd=6))` names the process.
import { isIPv4, isIPv6 } from 'node:net';
import { parsePort } from '../core/host.js';
import { firstLine, plural } from '../core/text.js';
import { fitList, listFact, numberFact, stringFact } from './fanout/facts.js';
import { interpretSafely } from './guard.js';
import { refusalWithUsage, type CheckDefinition, type FanoutTraits, type Finding, type Step, type StepResult, type VerdictTable } from './types.js';

export type ListenProtocol = 'tcp' | 'udp';

export interface ListenArgs {
  /** The port to judge; without one the check lists what is listened on. */
  port?: number;
  /** Which protocol `port` means (tcp unless `53/udp` was given). */
  protocol: ListenProtocol;
}

export type ListenVerdict = 'ok' | 'loopback-only' | 'not-listening' | 'failed';

const VERDICTS: { readonly [V in ListenVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  // As bad as a refused connection (85), which these two are the cause of, and just below it:
  // a refused connection is what the client sees, these say why.
  'not-listening': { class: 'bad', severity: 84 },
  'loopback-only': { class: 'bad', severity: 83 },
  // ss could not run or be read: a tool failure, which says nothing about the app.
  failed: { class: 'bad', severity: 55 },
};

const USAGE = 'listen <target> [port[/udp]]';
const LISTENERS_STEP = 'listeners';
const CONNECTIONS_STEP = 'connections';
/** This many sockets in CLOSE-WAIT or more add a warning: the app is not closing sockets. */
export const CLOSE_WAIT_WARNING = 20;
/** Listeners named in a headline before "and N more". */
const HEADLINE_LISTENERS = 5;

// ---------------------------------------------------------------------------------------------
// Parsing ss output

export type AddressScope = 'any' | 'any-ipv6-only' | 'loopback' | 'specific';

export interface SsAddress {
  /** As ss printed it, e.g. `127.0.0.53%lo:53` or `[::]:8443`. */
  text: string;
  /** The address without brackets, port or interface: `0.0.0.0`, `*`, `::`, `::ffff:127.0.0.1`. */
  address: string;
  /** undefined when ss printed `*` for the port. */
  port?: number;
  /** The device the socket is bound to (`%lo`), if any. */
  device?: string;
  scope: AddressScope;
}

export interface SsSocket {
  /** `tcp`, `udp`, …; absent when ss printed no Netid column (one protocol asked for). */
  netid?: string;
  /** `LISTEN`, `UNCONN`, `ESTAB`, `CLOSE-WAIT`, … */
  state: string;
  local: SsAddress;
  peer: string;
  /** Process names from the `users:((…))` column, when ss was run with -p. */
  processes: string[];
}

export interface SsOutput {
  sockets: SsSocket[];
  /** Non-empty lines that are not sockets (an error message, a usage text). */
  other: string[];
}

const NETIDS = new Set(['tcp', 'udp', 'raw', 'sctp', 'mptcp', 'dccp', 'u_str', 'u_dgr', 'u_seq', 'nl', 'p_raw', 'p_dgr', 'tipc', 'vsock', 'xdp']);
const STATE = /^(?:LISTEN|UNCONN|ESTAB|SYN-SENT|SYN-RECV|FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSING|CLOSED|UNKNOWN|NEW-SYN-RECV|BOUND)$/;

function isLoopbackIp(address: string): boolean {
  if (isIPv4(address)) return address.startsWith('127.');
  if (!isIPv6(address)) return false;
  const lower = address.toLowerCase();
  if (lower === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? isLoopbackIp(mapped[1] ?? '') : false;
}

/** One local address as ss prints it; undefined when it is not that shape. */
export function parseSsAddress(text: string): SsAddress | undefined {
  const m = /^(.+):(\d{1,5}|\*)$/.exec(text);
  if (!m) return undefined;
  let host = m[1] ?? '';
  const port = m[2] === '*' ? undefined : Number(m[2]);
  // `%dev` follows the address (after the closing bracket of an IPv6 one); device names have no `%`, `:` or `]`.
  let device: string | undefined;
  const withDevice = /^(.*)%([^%:\]\s]+)$/.exec(host);
  if (withDevice) {
    host = withDevice[1] ?? '';
    device = withDevice[2];
  }
  const bracketed = /^\[(.*)\]$/.exec(host);
  const address = bracketed ? (bracketed[1] ?? '') : host;
  let scope: AddressScope;
  if (address === '*' || address === '0.0.0.0') scope = 'any';
  // Modern ss writes `[::]` only for an IPV6_V6ONLY socket (a dual-stack one is `*`); old ss wrote `:::22`.
  else if (address === '::') scope = bracketed ? 'any-ipv6-only' : 'any';
  else if (isLoopbackIp(address)) scope = 'loopback';
  else if (isIPv4(address) || isIPv6(address)) scope = 'specific';
  else return undefined;
  // Bound to the loopback device: only packets on lo reach it, whatever the address.
  if (device === 'lo') scope = 'loopback';
  return { text, address, ...(port !== undefined ? { port } : {}), ...(device ? { device } : {}), scope };
}

/** Process names in `users:(("nginx",pid=1,fd=6),("nginx",pid=7,fd=6))`. */
function processNames(rest: string): string[] {
  return [...new Set([...rest.matchAll(/\("([^"]*)",pid=/g)].map((p) => p[1] ?? ''))].filter(Boolean);
}

/** Output of `ss -H…` (a header line, should an old ss print one, is skipped). */
export function parseSsOutput(text: string): SsOutput {
  const out: SsOutput = { sockets: [], other: [] };
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (/^(?:Netid\s+)?State\s+Recv-Q\s+Send-Q\b/.test(line)) continue;
    const words = line.split(/\s+/);
    const netid = NETIDS.has(words[0] ?? '') ? words.shift() : undefined;
    const [state = '', recvQ = '', sendQ = '', local = '', peer = '', ...rest] = words;
    const address = parseSsAddress(local);
    if (!STATE.test(state) || !/^\d+$/.test(recvQ) || !/^\d+$/.test(sendQ) || !address || peer === '') {
      out.other.push(line);
      continue;
    }
    out.sockets.push({ ...(netid ? { netid } : {}), state, local: address, peer, processes: processNames(rest.join(' ')) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Listeners and connection states

export interface Listener {
  protocol: string;
  local: SsAddress;
  processes: string[];
}

/** `tcp 0.0.0.0:8081`, `udp 127.0.0.53%lo:53 (systemd-resolve)`. */
export function describeListener(l: Listener): string {
  return `${l.protocol} ${l.local.text}${l.processes.length > 0 ? ` (${l.processes.join(', ')})` : ''}`;
}

/** The listeners of `ss -Hltnu`, one per protocol and address (SO_REUSEPORT sockets are one), by protocol, port and address. */
export function listenersOf(sockets: readonly SsSocket[]): Listener[] {
  const byKey = new Map<string, Listener>();
  for (const s of sockets) {
    // `-l` gives listening TCP and unconnected (bound) UDP sockets; without a Netid column the state tells.
    const protocol = s.netid ?? (s.state === 'UNCONN' ? 'udp' : 'tcp');
    if (s.local.port === undefined) continue;
    const key = `${protocol} ${s.local.text}`;
    const seen = byKey.get(key);
    if (seen) seen.processes = [...new Set([...seen.processes, ...s.processes])];
    else byKey.set(key, { protocol, local: s.local, processes: [...s.processes] });
  }
  const family = (l: Listener) => (isIPv4(l.local.address) || l.local.address === '*' ? 0 : 1);
  return [...byKey.values()].sort(
    (a, b) => a.protocol.localeCompare(b.protocol) || (a.local.port ?? 0) - (b.local.port ?? 0) || family(a) - family(b) || a.local.text.localeCompare(b.local.text),
  );
}

/** The order ss's states are shown in: the life of a connection. */
const STATE_ORDER = ['SYN-SENT', 'SYN-RECV', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSING', 'TIME-WAIT'];

/** TCP sockets by state, listeners left out (they have their own list). */
export function stateCounts(sockets: readonly SsSocket[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sockets) if (s.state !== 'LISTEN') counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const rank = (state: string) => (STATE_ORDER.includes(state) ? STATE_ORDER.indexOf(state) : STATE_ORDER.length);
  return new Map([...counts].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)));
}

// ---------------------------------------------------------------------------------------------
// Interpretation

function listList(listeners: readonly Listener[]): string {
  const shown = listeners.slice(0, HEADLINE_LISTENERS).map(describeListener).join(', ');
  const more = listeners.length - HEADLINE_LISTENERS;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

function portName(port: number, protocol: ListenProtocol): string {
  return protocol === 'udp' ? `${port}/udp` : String(port);
}

/** Why the listeners step gave nothing to read, or undefined when it did. */
function ssProblem(result: StepResult | undefined, parsed: SsOutput): string | undefined {
  if (!result) return 'ss did not run';
  const said = firstLine(parsed.other.join('\n'));
  if (result.exitCode === 127 || /\bss: (?:\S+: )?(?:not found|No such file or directory)|can't execute 'ss'/i.test(result.output)) {
    return "the debug image has no ss (it needs iproute2's ss, which nicolaka/netshoot has)";
  }
  if (/invalid option -- '?H'?|unrecognized option/i.test(result.output)) {
    return `this ss is too old for -H (${said}); the debug image needs a newer iproute2`;
  }
  if (result.exitCode === null) return parsed.sockets.length > 0 ? undefined : 'ss did not finish in time';
  if (result.exitCode !== 0) return `ss exited with code ${result.exitCode}${said ? `: ${said}` : ' and printed nothing'}`;
  if (parsed.sockets.length === 0 && parsed.other.length > 0) return `ss printed something that is not a socket list: ${said}`;
  return undefined;
}

/** Only IPv6 clients reach it: `[::]` (IPV6_V6ONLY) or an IPv6 address that is not IPv4-mapped. */
function ipv6Only(l: Listener): boolean {
  const { address, scope } = l.local;
  return scope === 'any-ipv6-only' || (scope === 'specific' && isIPv6(address) && !/^::ffff:/i.test(address));
}

/** Where a listener is, for the headlines: `0.0.0.0`, `[::1]`, `0.0.0.0%lo` (as ss writes it, without the port). */
function whereOf(l: Listener): string {
  return l.local.text.replace(/:(?:\d+|\*)$/, '');
}

/** `0.0.0.0 (every IPv4 address): reachable at the pod's IP` and friends, for the ok headline. */
function describeReach(l: Listener): string {
  const { address, device, scope } = l.local;
  const on = device ? `, bound to interface ${device}` : '';
  if (scope === 'any-ipv6-only') return `${whereOf(l)} (every IPv6 address, but IPV6_V6ONLY is set${on}): IPv6 only, so over IPv4 (an IPv4 Service) the connection is refused`;
  if (scope === 'any') return `${whereOf(l)} (${address === '0.0.0.0' ? 'every IPv4 address' : 'every address, IPv4 and IPv6'}${on}): reachable at the pod's IP`;
  const v6 = ipv6Only(l) ? '; IPv6 only, so over IPv4 (an IPv4 Service) the connection is refused' : '';
  return `${whereOf(l)} only${on}: reachable if that is the pod's IP${v6}`;
}

/**
 * Where the CLOSE-WAIT sockets are: on a listening port (clients closed, the app did not), or
 * towards a peer (the app's own connections, e.g. a pool whose server closed them). Largest first.
 */
export function closeWaitGroups(sockets: readonly SsSocket[], listeningPorts: ReadonlySet<number>): string[] {
  const groups = new Map<string, number>();
  for (const s of sockets) {
    if (s.state !== 'CLOSE-WAIT') continue;
    const key = s.local.port !== undefined && listeningPorts.has(s.local.port) ? `port ${s.local.port} (from clients)` : `to ${s.peer}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups]
    .sort(([ka, a], [kb, b]) => b - a || ka.localeCompare(kb))
    .slice(0, HEADLINE_LISTENERS)
    .map(([key, n]) => `${key}: ${n}`);
}

function interpret(args: ListenArgs, results: StepResult[]): Finding {
  const byId = new Map(results.filter((r) => r && typeof r.output === 'string').map((r) => [r.id, r]));
  const listenersStep = byId.get(LISTENERS_STEP);
  const connectionsStep = byId.get(CONNECTIONS_STEP);
  const port = typeof args?.port === 'number' ? args.port : undefined;
  const protocol: ListenProtocol = args?.protocol === 'udp' ? 'udp' : 'tcp';
  const facts: Finding['facts'] = {};
  if (port !== undefined) {
    facts.port = port;
    facts.protocol = protocol;
  }
  const finding = (verdict: ListenVerdict, headline: string): Finding => ({ check: 'listen', verdict, headline, facts, steps: results });

  const parsed = parseSsOutput(listenersStep?.output ?? '');
  const problem = ssProblem(listenersStep, parsed);
  if (problem) {
    const said = firstLine(listenersStep?.output ?? '');
    if (said) facts.error = said;
    return finding('failed', `Could not list the pod's listeners: ${problem}`);
  }

  const listeners = listenersOf(parsed.sockets);
  facts.listeners = listeners.map(describeListener);
  if (listenersStep?.exitCode === null) facts.note = 'ss was cut off: the list may be incomplete';

  // Connection states: extra facts, never the verdict.
  let warning: string | undefined;
  if (connectionsStep && (connectionsStep.exitCode === 0 || connectionsStep.exitCode === null)) {
    const connections = parseSsOutput(connectionsStep.output);
    const counts = stateCounts(connections.sockets);
    const atLeast = connectionsStep.exitCode === null ? 'at least ' : '';
    facts.connections = counts.size > 0 ? [...counts].map(([state, n]) => `${state} ${atLeast}${n}`) : ['none'];
    const closeWait = counts.get('CLOSE-WAIT') ?? 0;
    if (closeWait >= CLOSE_WAIT_WARNING) {
      warning = `${closeWait} connections in CLOSE-WAIT: the app is not closing sockets`;
      facts.warning = warning;
      const tcpPorts = new Set(listeners.filter((l) => l.protocol === 'tcp').flatMap((l) => (l.local.port !== undefined ? [l.local.port] : [])));
      facts.closeWait = closeWaitGroups(connections.sockets, tcpPorts);
    }
  } else if (connectionsStep) {
    facts.connections = `unreadable: ${firstLine(connectionsStep.output) || `ss exited with code ${connectionsStep.exitCode}`}`;
  }
  const withWarning = (headline: string) => (warning ? `${headline} — ${warning}` : headline);

  if (port === undefined) {
    if (listeners.length === 0) return finding('ok', withWarning('Nothing listens in this pod: no TCP or UDP listener'));
    const tcp = listeners.filter((l) => l.protocol === 'tcp').length;
    const udp = listeners.filter((l) => l.protocol === 'udp').length;
    const counted = [tcp > 0 ? `${tcp} TCP` : '', udp > 0 ? `${udp} UDP` : ''].filter(Boolean).join(' and ');
    return finding('ok', withWarning(`${counted} ${listeners.length === 1 ? 'listener' : 'listeners'}: ${listList(listeners)}`));
  }

  const name = portName(port, protocol);
  const onPort = listeners.filter((l) => l.local.port === port);
  const matching = onPort.filter((l) => l.protocol === protocol);
  if (matching.length === 0) {
    const otherProtocol = onPort.filter((l) => l.protocol !== protocol);
    if (otherProtocol.length > 0) {
      const hint = protocol === 'tcp' ? `ask for \`${port}/udp\` to judge UDP` : `ask for \`${port}\` to judge TCP`;
      return finding(
        'not-listening',
        withWarning(`Nothing listens on ${protocol.toUpperCase()} port ${port}; only ${otherProtocol[0]?.protocol.toUpperCase()} does: ${listList(otherProtocol)} (${hint})`),
      );
    }
    if (listeners.length === 0)
      return finding(
        'not-listening',
        withWarning(`Nothing listens on port ${name}; nothing listens on any port in this pod (is the app running, and in this container's network namespace?)`),
      );
    return finding('not-listening', withWarning(`Nothing listens on port ${name}; listening: ${listList(listeners)}`));
  }

  const reachable = matching.filter((l) => l.local.scope !== 'loopback');
  if (reachable.length === 0) {
    const where = matching.map(whereOf).join(' and ');
    // An address that is not loopback but bound to lo: the device binding is what to drop.
    const fix = matching.some((l) => l.local.device === 'lo' && !isLoopbackIp(l.local.address)) ? 'do not bind the socket to the lo interface' : 'bind 0.0.0.0';
    const device = matching.some((l) => l.local.device === 'lo') ? ' (bound to the lo interface)' : '';
    return finding('loopback-only', withWarning(`Port ${name} is listened on only at ${where}${device}: reachable only from inside the pod; ${fix}`));
  }
  // The widest reach first: every address, then one IPv4 address, then IPv6 only.
  const rank = (l: Listener) => (l.local.scope === 'any' ? 0 : ipv6Only(l) ? 2 : 1);
  const best = [...reachable].sort((a, b) => rank(a) - rank(b))[0]!;
  return finding('ok', withWarning(`Port ${name} is listened on at ${describeReach(best)}`));
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

const fanout: FanoutTraits = {
  figure(finding) {
    const port = numberFact(finding, 'port');
    const listeners = listFact(finding, 'listeners');
    if (finding.verdict === 'failed') return stringFact(finding, 'error') ?? finding.verdict;
    if (port === undefined) return plural(listeners.length, 'listener');
    const protocol = stringFact(finding, 'protocol') ?? 'tcp';
    const name = portName(port, protocol === 'udp' ? 'udp' : 'tcp');
    // The addresses on that port, from describeListener's "tcp 0.0.0.0:8080 (nginx)".
    const at = listeners.flatMap((l) => {
      const m = /^(\w+) (\S+):(\d+)(?: |$)/.exec(l);
      return m && m[1] === protocol && Number(m[3]) === port ? [m[2] ?? ''] : [];
    });
    if (finding.verdict === 'ok') return `${name} open on ${fitList(at, 30)}`;
    if (finding.verdict === 'loopback-only') return `${name} only on ${fitList(at, 30)}`;
    return finding.verdict === 'not-listening' ? `nothing on ${name}` : finding.verdict;
  },
};

// ---------------------------------------------------------------------------------------------
// Arguments

const withUsage = refusalWithUsage(USAGE);

export const listenCheck: CheckDefinition<ListenArgs> = {
  name: 'listen',
  summary: "What the pod listens on, and whether a port is reachable at the pod's IP or only on 127.0.0.1",
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    "Runs `ss -Hltnu` (TCP and UDP listeners) and `ss -Htan` (every TCP connection's state) in the pod's network namespace, so it sees the sockets of every container of the pod. Without a port it lists the listeners; with one it says whether that port is listened on at an address the pod's IP reaches. A port means TCP; `53/udp` asks about UDP.",
    '',
    'Verdicts:',
    "• `ok`: the port is listened on at an address the pod's IP reaches: 0.0.0.0, `*` (IPv4 and IPv6), `[::]` or a non-loopback address; the headline says when the socket takes IPv6 only (IPV6_V6ONLY), which an IPv4 Service cannot reach. Without a port: the list of listeners",
    '• `loopback-only`: the port is listened on only at 127.0.0.1 or ::1 (or on a socket bound to the lo interface, `%lo`): reachable only from inside the pod, so a Service gets connection refused; the app must bind 0.0.0.0',
    '• `not-listening`: nothing listens on that port; the headline names what is listened on instead',
    "• `failed`: ss could not run or its output could not be read (the debug image needs iproute2's ss)",
    `${CLOSE_WAIT_WARNING} or more connections in CLOSE-WAIT add a warning to any verdict: the app is not closing sockets its peers closed.`,
    '',
    'Needs no capabilities.',
    '',
    'Examples:',
    '• `/kdebug listen web-7f9c 8080`',
    '• `/kdebug listen deploy/web -n prod`',
    '• `/kdebug listen sts/dns -n infra 53/udp`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: [],
  fanout,
  options: [],

  parseArgs(positional, options) {
    const optionNames = Object.keys(options ?? {});
    if (optionNames.length > 0) return withUsage(`The listen check has no option \`--${optionNames[0]?.replace(/^-+/, '')}\`.`);
    const given = (positional ?? []).map((p) => String(p).trim());
    if (given.length === 0) return { ok: true, args: { protocol: 'tcp' } };
    if (given.length > 1) return withUsage(`listen takes at most one port (got ${given.length} arguments: ${given.map((g) => `\`${g}\``).join(', ')}).`);
    const text = given[0] ?? '';
    const withProtocol = /^(.*)\/(tcp|udp)$/i.exec(text);
    const portText = withProtocol ? (withProtocol[1] ?? '') : text;
    const protocol: ListenProtocol = withProtocol?.[2]?.toLowerCase() === 'udp' ? 'udp' : 'tcp';
    const port = parsePort(portText);
    if (port === undefined) {
      if (/^[^:]+:\d+$|^\[[^\]]+\]:\d+$/.test(portText)) {
        return withUsage(`\`${text}\`: listen looks at the pod's own sockets, so give just the port, e.g. \`${portText.replace(/^.*:/, '')}\`.`);
      }
      return withUsage(`\`${portText}\` is not a port: give a number from 1 to 65535 (\`53/udp\` for UDP).`);
    }
    return { ok: true, args: { port, protocol } };
  },

  steps(): Step[] {
    return [
      // -l listeners, -t TCP, -u UDP, -n numeric (no service names), -H no header.
      { id: LISTENERS_STEP, argv: ['ss', '-Hltnu'] },
      // -a every state, -t TCP only: counts by state (CLOSE-WAIT piling up).
      { id: CONNECTIONS_STEP, argv: ['ss', '-Htan'] },
    ];
  },

  interpret(args, results) {
    return interpretSafely({ check: 'listen', verdict: 'failed', tool: 'ss' }, results, () => interpret(args, Array.isArray(results) ? results : []));
  },
};
