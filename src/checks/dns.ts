// The `dns` check: read the pod's resolv.conf, then resolve each name with dig the way the pod's
// own resolver would (same nameservers, same search path), and say in one line what went wrong.
import { isIPv4, isIPv6 } from 'node:net';
import { dnsNameProblem } from '../core/host.js';
import { firstLine } from '../core/text.js';
import { fitList, listFact, numberFact, stringFact } from './fanout/facts.js';
import { interpretSafely } from './guard.js';
import { refusalWithUsage, type CheckDefinition, type FanoutTraits, type Finding, type Sameness, type Step, type StepResult, type VerdictTable } from './types.js';

export interface DnsArgs {
  names: string[];
  server?: { host: string; port?: number };
}

export type DnsVerdict = 'ok' | 'nxdomain' | 'servfail' | 'refused' | 'timeout' | 'no-answer';

/**
 * With several names the overall verdict is the most severe one any name got: nothing answered at
 * all, then a server that answered but failed, then a server that would not serve us, then a name
 * that does not exist, then a name with no address, then success.
 */
const VERDICTS: { readonly [V in DnsVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  'no-answer': { class: 'warning', severity: 30 },
  nxdomain: { class: 'bad', severity: 94 },
  refused: { class: 'bad', severity: 95 },
  servfail: { class: 'bad', severity: 96 },
  timeout: { class: 'bad', severity: 100 },
};

const USAGE = 'dns <target> [name…] [--server IP[:PORT]]';
const DEFAULT_NAME = 'kubernetes.default.svc.cluster.local';
const MAX_NAMES = 10;
/** Seconds dig waits for each server; short, because a healthy cluster DNS answers in milliseconds. */
const DIG_TIMEOUT_SECONDS = 2;
const RESOLV_CONF_STEP = 'resolv.conf';
/** Addresses shown in a headline before "and N more". */
const HEADLINE_ADDRESSES = 3;

// ---------------------------------------------------------------------------------------------
// Arguments

/** Why `name` is not a DNS name we will pass to dig, or undefined when it is fine. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'an empty name is not a DNS name';
  if (isIPv4(name) || isIPv6(name)) {
    return `\`${name}\` is an IP address; the dns check looks up names. To ask a particular DNS server, use \`--server ${name}\``;
  }
  if (name.includes('://') || name.includes('/')) return `\`${name}\` looks like a URL; give just the host name, e.g. \`payments.prod.svc.cluster.local\``;
  return dnsNameProblem(name);
}

/** Parse `IP`, `IP:PORT`, `IPv6` or `[IPv6]:PORT`. */
function parseServer(value: string): { ok: true; server: { host: string; port?: number } } | { ok: false; message: string } {
  const example = 'e.g. `--server 10.96.0.10`, `--server 10.96.0.10:5353` or `--server [fd00::10]:53`';
  const text = value.trim();
  if (text === '') return { ok: false, message: `\`--server\` needs an IP address, ${example}` };
  // Zone ids (fe80::1%eth0) name an interface inside the pod, which nobody in Slack can know; and
  // they would let free text into dig's argv. Keep them out.
  if (text.includes('%')) return { ok: false, message: `\`--server ${text}\`: interface zone ids (\`%…\`) are not supported` };

  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  const v4WithPort = /^([0-9.]+):([^:]*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (!isIPv6(host)) return { ok: false, message: `\`--server ${text}\`: \`${host}\` is not an IPv6 address; ${example}` };
  } else if (isIPv4(text) || isIPv6(text)) {
    // A bare IPv6 address is never split at a colon: `::1:53` is an address; use [::1]:53 for a port.
    host = text;
  } else if (v4WithPort && isIPv4(v4WithPort[1] ?? '')) {
    host = v4WithPort[1] ?? '';
    portText = v4WithPort[2];
  } else {
    return { ok: false, message: `\`--server ${text}\` is not an IP address (host names are not accepted: finding them would itself need DNS); ${example}` };
  }

  if (portText === undefined) return { ok: true, server: { host } };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { ok: false, message: `\`--server ${text}\`: the port must be a number from 1 to 65535` };
  return { ok: true, server: { host, port } };
}

const withUsage = refusalWithUsage(USAGE);

// ---------------------------------------------------------------------------------------------
// Steps

/**
 * `-r` ignores any ~/.digrc in the image, `-t A -q NAME` stops dig from reading a name such as
 * `ns` or `in` as a query type or class, `+search` applies resolv.conf's search path and ndots as
 * the application's resolver does, and one 2-second try keeps a dead server from stalling the job.
 */
function digArgv(name: string, server: DnsArgs['server']): string[] {
  const target = server ? [`@${server.host}`, ...(server.port !== undefined ? ['-p', String(server.port)] : [])] : [];
  return ['dig', '-r', '+search', `+time=${DIG_TIMEOUT_SECONDS}`, '+tries=1', ...target, '-t', 'A', '-q', name];
}

function digStepId(index: number): string {
  return `dig-${index + 1}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing tool output

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
}

/** resolv.conf(5): the last `search`/`domain` line wins; ndots defaults to 1 and is capped at 15. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: 1 };
  for (const raw of text.split(/\r?\n/)) {
    const [keyword, ...values] = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (keyword === 'nameserver' && values[0]) conf.nameservers.push(values[0]);
    else if (keyword === 'search') conf.search = values.filter(Boolean);
    else if (keyword === 'domain' && values[0]) conf.search = [values[0]];
    else if (keyword === 'options') {
      for (const option of values) {
        const ndots = /^ndots:(\d+)$/.exec(option);
        if (ndots) conf.ndots = Math.min(Number(ndots[1]), 15);
      }
    }
  }
  return conf;
}

export interface DigAnswer {
  name: string;
  ttl: number;
  type: string;
  value: string;
}

export interface DigOutput {
  /** The response code from the last response dig printed, e.g. NOERROR; undefined when there was none. */
  status?: string;
  /** The name dig finally asked, after search-path expansion, without the trailing dot. */
  question?: string;
  answers: DigAnswer[];
  server?: { host: string; port: number; transport?: string };
  queryTimeMs?: number;
  /** `;; communications error to 10.96.0.10#53: timed out` and friends, as "10.96.0.10#53: timed out". */
  serverErrors: string[];
  /** dig gave up: "no servers could be reached". */
  noServersReached: boolean;
}

const RR_LINE = /^(\S+)\s+(\d+)\s+(?:(?:IN|CH|HS|CS|ANY|CLASS\d+)\s+)?([A-Z][A-Z0-9]*)\s+(.*)$/;

function stripDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Read dig's default human-readable output. Tolerates anything: missing parts stay undefined. */
export function parseDigOutput(text: string): DigOutput {
  const lines = text.split(/\r?\n/);
  const out: DigOutput = { answers: [], serverErrors: [], noServersReached: false };

  for (const line of lines) {
    const commError = /^;; communications error to (\S+): (.+?)\.?$/.exec(line);
    if (commError) out.serverErrors.push(`${commError[1]}: ${commError[2]}`);
    // dig 9.16 and older say this instead of a communications error line.
    if (/^;; connection timed out; no servers could be reached/.test(line)) out.serverErrors.push('timed out');
    const setup = /^;; (?:UDP|TCP) setup with (\S+?)(?:\([^)]*\))? for \S+ failed: (.+?)\.?$/.exec(line);
    if (setup) out.serverErrors.push(`${setup[1]}: ${setup[2]}`);
    if (/no servers could be reached/.test(line)) out.noServersReached = true;
  }

  // With +search dig may print more than one response; the last one is the final result.
  const start = lines.findLastIndex((line) => line.includes('->>HEADER<<-'));
  if (start < 0) return out;
  out.status = /status: ([A-Z0-9]+)/.exec(lines[start] ?? '')?.[1];

  let section = '';
  for (const line of lines.slice(start + 1)) {
    const heading = /^;; ([A-Z]+) (?:PSEUDO)?SECTION:/.exec(line);
    if (heading) {
      section = heading[1] ?? '';
      continue;
    }
    if (line.trim() === '') {
      section = '';
      continue;
    }
    if (section === 'QUESTION' && out.question === undefined) {
      const name = /^;(\S+)/.exec(line)?.[1];
      if (name) out.question = stripDot(name);
    } else if (section === 'ANSWER') {
      const rr = RR_LINE.exec(line);
      if (rr) out.answers.push({ name: stripDot(rr[1] ?? ''), ttl: Number(rr[2]), type: rr[3] ?? '', value: (rr[4] ?? '').trim() });
    }
    const time = /^;; Query time: (\d+) msec/.exec(line);
    if (time && out.queryTimeMs === undefined) out.queryTimeMs = Number(time[1]);
    const server = /^;; SERVER: (\S+?)#(\d+)(?:\([^)]*\))?(?: \((\w+)\))?/.exec(line);
    if (server && !out.server) {
      out.server = { host: server[1] ?? '', port: Number(server[2]) };
      if (server[3]) out.server.transport = server[3];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpretation

interface NameOutcome {
  verdict: DnsVerdict;
  headline: string;
  /** The DNS status word, or "timeout" / "no response" when there was no DNS response. */
  status: string;
  /** One line for the per-name list when several names were checked. */
  summary: string;
  dig: DigOutput;
  server?: string;
}

/** `10.96.0.10`, or `10.96.0.10:5353` / `[fd00::10]:5353` when not on port 53. */
function hostPort(host: string, port: number | undefined): string {
  if (port === undefined || port === 53) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "10.96.0.10#53" as dig prints it → "10.96.0.10". */
function digAddress(text: string): string {
  const m = /^(.*)#(\d+)$/.exec(text);
  return m ? hostPort(m[1] ?? '', Number(m[2])) : text;
}

function listAddresses(addresses: string[]): string {
  const shown = addresses.slice(0, HEADLINE_ADDRESSES).join(', ');
  const more = addresses.length - HEADLINE_ADDRESSES;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/** Why nothing answered, for the timeout headline: "tried 10.96.0.10, timed out after 2 s". */
function unreachableDetail(dig: DigOutput, fallbackServers: string[]): string {
  const describe = (reason: string) => (reason === 'timed out' ? `timed out after ${DIG_TIMEOUT_SECONDS} s` : reason);
  const perServer = dig.serverErrors
    .map((e) => /^(.*?): (.*)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ server: digAddress(m[1] ?? ''), reason: describe(m[2] ?? '') }));
  if (perServer.length > 0) {
    const reasons = new Set(perServer.map((p) => p.reason));
    const servers = [...new Set(perServer.map((p) => p.server))];
    if (reasons.size === 1) return `tried ${servers.join(', ')}, ${[...reasons][0]}`;
    return `tried ${perServer.map((p) => `${p.server} (${p.reason})`).join(', ')}`;
  }
  const tried = fallbackServers.length > 0 ? `tried ${fallbackServers.join(', ')}, ` : '';
  return `${tried}timed out after ${DIG_TIMEOUT_SECONDS} s`;
}

function interpretName(name: string, result: StepResult | undefined, fallbackServers: string[]): NameOutcome {
  const dig = parseDigOutput(result?.output ?? '');
  const server = dig.server ? hostPort(dig.server.host, dig.server.port) : undefined;
  const base = { dig, ...(server ? { server } : {}) };

  if (dig.status === undefined) {
    const shown = stripDot(name);
    let headline: string;
    let status = 'timeout';
    if (dig.noServersReached || dig.serverErrors.length > 0) {
      headline = `No DNS server answered for ${shown} (${unreachableDetail(dig, fallbackServers)})`;
    } else if (!result || result.exitCode === null) {
      headline = `No DNS answer for ${shown}: dig did not finish in time`;
    } else {
      // Not a DNS outcome at all (dig missing, crashed, or printed something unexpected). The verdict
      // vocabulary has no "error", and "timeout" (no answer obtained) is the closest honest fit.
      status = 'no response';
      const said = firstLine(result.output);
      headline = `No DNS answer for ${shown}: dig exited with code ${result.exitCode}${said ? `: ${said}` : ' and printed nothing'}`;
    }
    return { ...base, verdict: 'timeout', status, headline, summary: `${shown}: ${status}` };
  }

  const outcome = classifyResponse(dig, dig.question ?? stripDot(name), server);
  // dig prints the statistics last; without them the answer section may be incomplete.
  if (!dig.server) outcome.headline += " (dig's output was cut off)";
  return { ...base, ...outcome };
}

/** Verdict and wording for a name that got a DNS response with status `dig.status`. */
function classifyResponse(dig: DigOutput, asked: string, server: string | undefined): Omit<NameOutcome, 'dig' | 'server'> {
  const status = dig.status ?? '';
  const via = server ? ` via ${server}` : '';
  const time = dig.queryTimeMs !== undefined ? ` (${dig.queryTimeMs} ms)` : '';
  switch (status) {
    case 'NOERROR': {
      // dig asks for A records; CNAMEs lead the way to them, in answer order.
      const addresses = dig.answers.filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => a.value);
      const aliases = dig.answers.filter((a) => a.type === 'CNAME').map((a) => stripDot(a.value));
      const chain = [asked, ...aliases].join(' → ');
      if (addresses.length > 0) {
        return { verdict: 'ok', status, headline: `${chain} → ${listAddresses(addresses)}${via}${time}`, summary: `${asked}: NOERROR → ${listAddresses(addresses)}${time}` };
      }
      const headline = aliases.length > 0 ? `${chain}, but no address came back${via}` : `${asked} exists but has no A record${via}`;
      return { verdict: 'no-answer', status, headline, summary: `${asked}: NOERROR, no A record` };
    }
    case 'NXDOMAIN':
      return { verdict: 'nxdomain', status, headline: `NXDOMAIN for ${asked}${via}`, summary: `${asked}: NXDOMAIN` };
    case 'REFUSED':
      return { verdict: 'refused', status, headline: `REFUSED for ${asked}${server ? ` by ${server}` : ''}`, summary: `${asked}: REFUSED` };
    default:
      // SERVFAIL, and the rarer FORMERR/NOTIMP/...: the server answered but could not serve the name.
      return { verdict: 'servfail', status, headline: `${status} for ${asked}${via}`, summary: `${asked}: ${status}` };
  }
}

function formatAnswer(a: DigAnswer): string {
  return `${a.name} ${a.ttl} ${a.type} ${a.value}`;
}

function worst(verdicts: DnsVerdict[]): DnsVerdict {
  return verdicts.reduce<DnsVerdict>((a, b) => (VERDICTS[b].severity > VERDICTS[a].severity ? b : a), 'ok');
}

function interpret(args: DnsArgs, results: StepResult[]): Finding {
  const names = Array.isArray(args?.names) && args.names.length > 0 ? args.names : [DEFAULT_NAME];
  const byId = new Map(results.filter((r) => r && typeof r.output === 'string').map((r) => [r.id, r]));
  const resolvStep = byId.get(RESOLV_CONF_STEP);
  const conf = resolvStep && resolvStep.exitCode === 0 ? parseResolvConf(resolvStep.output) : undefined;
  const fallbackServers = args?.server ? [hostPort(args.server.host, args.server.port)] : (conf?.nameservers ?? []);

  const outcomes = names.map((name, i) => interpretName(name, byId.get(digStepId(i)), fallbackServers));
  const verdict = worst(outcomes.map((o) => o.verdict));
  const first = outcomes.find((o) => o.verdict === verdict) ?? outcomes[0];

  let headline = first?.headline ?? 'No names were checked';
  if (outcomes.length > 1) {
    const resolved = outcomes.filter((o) => o.verdict === 'ok');
    if (resolved.length === outcomes.length) {
      const servers = [...new Set(resolved.map((o) => o.server).filter(Boolean))];
      const slowest = Math.max(...resolved.map((o) => o.dig.queryTimeMs ?? 0));
      headline = `All ${outcomes.length} names resolved${servers.length ? ` via ${servers.join(', ')}` : ''} (slowest ${slowest} ms)`;
    } else {
      headline = `${headline} — ${resolved.length} of ${outcomes.length} names resolved`;
    }
  }

  const facts: Finding['facts'] = {};
  if (outcomes.length === 1 && first) {
    facts.status = first.status;
    if (first.dig.question) facts.queried = first.dig.question;
    if (first.dig.queryTimeMs !== undefined) facts.queryTimeMs = first.dig.queryTimeMs;
  } else {
    facts.names = outcomes.map((o) => o.summary);
  }
  const answers = outcomes.flatMap((o) => o.dig.answers.map(formatAnswer));
  if (answers.length > 0) facts.answers = answers;
  const servers = [...new Set(outcomes.flatMap((o) => (o.server ? [`${o.server}${o.dig.server?.transport ? ` (${o.dig.server.transport})` : ''}`] : [])))];
  if (servers.length > 0) facts.server = servers.join(', ');
  const serverErrors = [...new Set(outcomes.flatMap((o) => o.dig.serverErrors))];
  if (serverErrors.length > 0) facts.serverErrors = serverErrors;
  if (conf) {
    facts.nameservers = conf.nameservers;
    facts.searchPath = conf.search;
    facts.ndots = conf.ndots;
  } else if (resolvStep) {
    facts.resolvConf = `unreadable: ${firstLine(resolvStep.output) || `exit code ${resolvStep.exitCode}`}`;
  }

  return { check: 'dns', verdict, headline, facts, steps: results };
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

/** The A and AAAA addresses among answers as the facts list them ("name ttl TYPE value"). */
function addressesOf(answers: readonly string[]): string[] {
  return answers.flatMap((answer) => {
    const [, , type, value] = answer.split(/\s+/);
    return (type === 'A' || type === 'AAAA') && value ? [value] : [];
  });
}

/** Every pod of a workload should get the same addresses (in any order); triage compares its dns part's. */
export function addressSameness(answers: readonly string[]): Sameness | undefined {
  const addresses = addressesOf(answers).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return addresses.length > 0 ? { key: addresses.join(' '), verb: 'answers', value: fitList(addresses) } : undefined;
}

const fanout: FanoutTraits = {
  figure(finding) {
    // Several names: how many resolved (their summaries read "name: NOERROR → addresses").
    const names = listFact(finding, 'names');
    if (names.length > 0) return `${names.filter((n) => n.includes(': NOERROR →')).length} of ${names.length} names resolve`;
    const addresses = addressesOf(listFact(finding, 'answers'));
    if (addresses.length > 0) return fitList(addresses);
    const status = stringFact(finding, 'status');
    return status === 'NOERROR' ? 'no address' : (status ?? finding.verdict);
  },
  sameness: (finding) => addressSameness(listFact(finding, 'answers')),
  latencyMs: (finding) => numberFact(finding, 'queryTimeMs'),
};

// ---------------------------------------------------------------------------------------------

export const dnsCheck: CheckDefinition<DnsArgs> = {
  name: 'dns',
  summary: "Resolve names from inside the pod, with the pod's own resolv.conf, and say why a lookup fails",
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    `Reads the pod's /etc/resolv.conf, then runs \`dig +search\` for each name (up to ${MAX_NAMES}; default \`${DEFAULT_NAME}\`), so the pod's search path and ndots apply exactly as for the application. \`--server\` asks a specific DNS server instead of the pod's nameservers.`,
    '',
    'Verdicts:',
    '• `ok`: the name resolved to at least one address',
    '• `no-answer`: the name exists but has no A record (NOERROR, empty answer)',
    '• `nxdomain`: the name does not exist (check the spelling, namespace and search path)',
    '• `refused`: the server refused to answer (wrong server, or the name is outside what it serves)',
    '• `servfail`: the server failed to answer (upstream or CoreDNS trouble)',
    `• \`timeout\`: no DNS server answered within ${DIG_TIMEOUT_SECONDS} s (network policy, CoreDNS down, wrong nameserver)`,
    'With several names the verdict is the worst one, in the order timeout, servfail, refused, nxdomain, no-answer, ok.',
    '',
    'Examples:',
    '• `/kdebug dns payments-7d9f payments.prod.svc.cluster.local`',
    '• `/kdebug dns payments-7d9f payments redis.cache --server 10.96.0.10`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: [],
  fanout,
  options: [{ name: 'server', valueName: 'IP[:PORT]', description: "Ask this DNS server instead of the pod's nameservers" }],

  parseArgs(positional, options) {
    let server: DnsArgs['server'];
    for (const [key, value] of Object.entries(options ?? {})) {
      const option = key.replace(/^-+/, '');
      if (option !== 'server') return withUsage(`The dns check has no option \`--${option}\`.`);
      const parsed = parseServer(String(value ?? ''));
      if (!parsed.ok) return withUsage(parsed.message);
      server = parsed.server;
    }

    const given = (positional ?? []).map((n) => String(n).trim());
    if (given.length > MAX_NAMES) return withUsage(`At most ${MAX_NAMES} names per check (got ${given.length}).`);
    for (const name of given) {
      const problem = nameProblem(name);
      if (problem) return withUsage(`${problem}.`);
    }
    // The same name twice (in any letter case) is one lookup; `foo` and `foo.` differ under +search.
    const seen = new Set<string>();
    const names = given.filter((n) => {
      const key = n.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });

    const args: DnsArgs = { names: names.length > 0 ? names : [DEFAULT_NAME] };
    if (server) args.server = server;
    return { ok: true, args };
  },

  steps(args): Step[] {
    return [{ id: RESOLV_CONF_STEP, argv: ['cat', '/etc/resolv.conf'] }, ...args.names.map((name, i) => ({ id: digStepId(i), argv: digArgv(name, args.server) }))];
  },

  interpret(args, results) {
    return interpretSafely({ check: 'dns', verdict: 'timeout', tool: 'dig' }, results, () => interpret(args, Array.isArray(results) ? results : []));
  },
};
