// The kdebug command grammar, shared by the Slack slash command and the CLI:
//
//   /kdebug <check> <target> [args…] [-n|--namespace NS] [-c|--container NAME] [--timeout 30s] [check options]
//   /kdebug <check> deploy/NAME --all [args…] …     (every pod of the workload, compared)
//   /kdebug <check> -l app=web [args…] …            (every pod the label selector matches; --all implied)
//   /kdebug help [check]
//
// Pure: no I/O, no environment. It never throws; every outcome is a ParseResult. A request only
// comes out after the check's own parseArgs accepted the arguments, so nothing invalid is enqueued.

import type { AnyCheck, CheckRegistry } from '../checks/index.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { inlineCode, kubeNameProblem, labelSelectorProblem } from '../core/kube-names.js';
import type { Target, TargetKind } from '../core/target.js';
import { suggest } from './suggest.js';

export interface DiagnosticRequest {
  /** The check's key in the registry. */
  check: string;
  target: Target;
  namespace?: string;
  container?: string;
  timeoutSeconds?: number;
  /** `--override-budget`: add a container past the pod's budget, where the policy allows it. */
  overrideBudget?: boolean;
  /** `--all` (or `-l`): run on every pod of the workload or selector and compare them. */
  all?: boolean;
  /** `--cluster NAME`: which cluster's workers run it. */
  cluster?: string;
  /** Arguments after the target, as typed; the worker re-validates them with check.parseArgs. */
  positional: string[];
  /** Check-specific options by option name (`--server 10.0.0.10` → `{ server: '10.0.0.10' }`). */
  options: Record<string, string>;
}

export type ParseResult =
  | { kind: 'request'; request: DiagnosticRequest }
  /** `kdebug run <check> --local …`: no pod; the steps run on this machine. */
  | { kind: 'local'; request: LocalRequest }
  /** `/kdebug cancel <job id>`: stop a queued or running job. */
  | { kind: 'cancel'; jobId: string }
  | { kind: 'help'; check?: string }
  | { kind: 'usage'; message: string };

export type LocalRequest = Omit<DiagnosticRequest, 'target' | 'namespace' | 'container' | 'all' | 'cluster'>;

export interface ParseOptions {
  /** No target, and options marked localOnly (files on this machine) are allowed. */
  local?: boolean;
  /** The longest --timeout this installation allows (config jobs.maxTimeoutSeconds). */
  maxTimeoutSeconds?: number;
}

export type TokenizeResult = { ok: true; tokens: string[] } | { ok: false; message: string };

// ---------------------------------------------------------------------------------------------
// Usage lines

export const MIN_TIMEOUT_SECONDS = 5;
/** The longest --timeout when the installation sets none (the default of jobs.maxTimeoutSeconds). */
export const MAX_TIMEOUT_SECONDS = 600;

/** The flags every check accepts, as shown at the end of usage lines. */
export const COMMON_FLAGS_USAGE = '[-n NAMESPACE] [-c CONTAINER] [--timeout 30s] [--all | -l SELECTOR]';
export const GENERAL_USAGE = `/kdebug <check> <target> [args…] ${COMMON_FLAGS_USAGE}`;

/** The full usage line for one check, e.g. "/kdebug dns <target> [name…] [--server IP[:PORT]] [-n …]". */
export function usageLine(check: AnyCheck): string {
  return `/kdebug ${check.usage} ${COMMON_FLAGS_USAGE}`;
}

/** The check used in examples: dns when installed, since it is the one everybody knows. */
export function exampleCheckName(checks: CheckRegistry): string {
  if (checks.has('dns')) return 'dns';
  return checks.keys().next().value ?? 'dns';
}

// ---------------------------------------------------------------------------------------------
// Tokenizing Slack text

// Both straight and "smart" quotes (Slack and macOS replace " with “ ” as people type). A quote
// opened with one member of a family may be closed by any member, since typed pairs don't match.
const QUOTE_FAMILY = new Map<string, 'double' | 'single'>([
  ['"', 'double'],
  ['\u201C', 'double'],
  ['\u201D', 'double'],
  ["'", 'single'],
  ['\u2018', 'single'],
  ['\u2019', 'single'],
]);

// Slack sends links and mentions as <target|label> and escapes a literal &, < and > as entities,
// so a raw '<' in slash-command text always starts markup. Only the label may contain spaces.
const SLACK_MARKUP = /<([^<>|\s]+)(?:\|([^<>]*))?>/y;
const SLACK_ENTITY = /&(amp|lt|gt);/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>' };

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_, name: string) => ENTITIES[name] ?? '');
}

/** What the user typed behind a piece of Slack markup. */
function unwrapSlackMarkup(target: string, label: string | undefined): string {
  const text = label ? decodeEntities(label) : undefined;
  if (target.startsWith('@')) return text ? (text.startsWith('@') ? text : `@${text}`) : target; // <@U123|bob>
  if (target.startsWith('#')) return text ? `#${text}` : target; // <#C123|general>
  if (target.startsWith('!')) return text ?? `@${target.slice(1)}`; // <!here>, <!subteam^S1|@ops>
  if (/^mailto:/i.test(target)) return decodeEntities(target.slice('mailto:'.length)); // <mailto:a@b|a@b>
  const url = decodeEntities(target);
  // Slack auto-links bare host names (`api.prod` → <http://api.prod|api.prod>): the user typed the label.
  if (text && url.replace(/^https?:\/\//i, '') === text) return text;
  return url; // <http://x.y/path|x.y> → the URL, not the label
}

/**
 * Split slash-command text into words: whitespace separates, quotes group (and are removed, so
 * `--server="10.0.0.10"` is one word), Slack link/mention markup and entities are unwrapped.
 * Backslash has no special meaning: nobody escapes in Slack, and Windows-ish paths stay intact.
 */
export function tokenize(text: string): TokenizeResult {
  const tokens: string[] = [];
  let current = '';
  let inToken = false; // distinguishes an empty quoted word ("") from no word at all
  let quote: { family: 'double' | 'single'; char: string; at: number } | undefined;

  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const family = QUOTE_FAMILY.get(ch);
    if (quote) {
      if (family === quote.family) {
        quote = undefined;
        i++;
        continue;
      }
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
      i++;
      continue;
    } else if (family) {
      quote = { family, char: ch, at: i };
      inToken = true;
      i++;
      continue;
    }

    if (ch === '<') {
      SLACK_MARKUP.lastIndex = i;
      const m = SLACK_MARKUP.exec(text);
      if (m) {
        current += unwrapSlackMarkup(m[1]!, m[2]);
        inToken = true;
        i += m[0].length;
        continue;
      }
    } else if (ch === '&') {
      SLACK_ENTITY.lastIndex = i;
      const m = SLACK_ENTITY.exec(text);
      if (m) {
        current += ENTITIES[m[1]!] ?? '';
        inToken = true;
        i += m[0].length;
        continue;
      }
    }
    current += ch;
    inToken = true;
    i++;
  }

  if (quote) {
    const after = text.slice(quote.at + 1).trim();
    const where = after ? ` before ${inlineCode(after, 30)}` : ' at the end';
    return { ok: false, message: `The quote ${quote.char}${where} is never closed: close it, or leave the quotes out.` };
  }
  if (inToken) tokens.push(current);
  return { ok: true, tokens };
}

// ---------------------------------------------------------------------------------------------
// Values: targets and timeouts

const TARGET_KINDS = new Map<string, TargetKind>([
  ['pod', 'pod'],
  ['pods', 'pod'],
  ['po', 'pod'],
  ['deploy', 'deployment'],
  ['deployment', 'deployment'],
  ['deployments', 'deployment'],
  ['sts', 'statefulset'],
  ['statefulset', 'statefulset'],
  ['statefulsets', 'statefulset'],
  ['ds', 'daemonset'],
  ['daemonset', 'daemonset'],
  ['daemonsets', 'daemonset'],
]);

const TARGET_FORMS = 'a pod (`web-7f9c` or `pod/web-7f9c`), `deploy/NAME`, `sts/NAME` or `ds/NAME`';

export type TargetResult = { ok: true; target: Target } | { ok: false; message: string };

/** `NAME`, `pod/NAME`, `deploy/NAME`, `sts/NAME`, `ds/NAME` (and kubectl's long spellings). */
export function parseTarget(text: string): TargetResult {
  const slash = text.indexOf('/');
  const kindText = slash === -1 ? 'pod' : text.slice(0, slash).toLowerCase();
  const name = slash === -1 ? text : text.slice(slash + 1);

  const kind = TARGET_KINDS.get(kindText);
  if (!kind) {
    if (['svc', 'service', 'services'].includes(kindText)) {
      return { ok: false, message: 'A service has no network namespace of its own: target a pod or `deploy/NAME` behind it.' };
    }
    const guess = suggest(kindText, TARGET_KINDS.keys());
    const hint = guess ? ` Did you mean ${inlineCode(`${guess}/${name}`)}?` : '';
    return { ok: false, message: `kdebug can't target ${inlineCode(text)}: use ${TARGET_FORMS}.${hint}` };
  }
  if (name === '' && slash !== -1) return { ok: false, message: `Which ${kind}? Put its name after the slash, e.g. ${inlineCode(`${kindText}/web`)}.` };

  const problem = kubeNameProblem(name, 'subdomain', `${kind} name`);
  if (problem) return { ok: false, message: problem };
  return { ok: true, target: { kind, name } };
}

export type TimeoutResult = { ok: true; seconds: number } | { ok: false; message: string };

/** A `--timeout` value, within MIN_TIMEOUT_SECONDS..max. */
export function parseTimeout(text: string, max: number = MAX_TIMEOUT_SECONDS): TimeoutResult {
  const seconds = parseDuration(text);
  const range = `between ${formatDuration(MIN_TIMEOUT_SECONDS)} and ${formatDuration(max)}`;
  if (seconds === undefined) {
    return {
      ok: false,
      message: `Can't read the timeout ${inlineCode(text)}: use seconds (\`45\`) or a duration like \`30s\`, \`2m\` or \`1m30s\`, ${range}.`,
    };
  }
  if (seconds < MIN_TIMEOUT_SECONDS) return { ok: false, message: `A timeout of ${inlineCode(text)} is too short: it must be ${range}.` };
  if (seconds > max) return { ok: false, message: `A timeout of ${inlineCode(text)} is too long: it must be ${range}.` };
  return { ok: true, seconds };
}

// ---------------------------------------------------------------------------------------------
// Parsing

type FlagSpec =
  | { kind: 'common'; key: 'namespace' | 'container' | 'timeout' | 'selector' | 'cluster'; long: string; example: string }
  | { kind: 'switch'; key: 'overrideBudget' | 'all'; long: string; example: string }
  | { kind: 'check'; key: string; long: string; example: string }
  | { kind: 'checkSwitch'; key: string; long: string; example: string };

const COMMON_FLAGS: ReadonlyArray<{ spellings: string[]; spec: FlagSpec }> = [
  { spellings: ['-n', '--namespace'], spec: { kind: 'common', key: 'namespace', long: '--namespace', example: 'prod' } },
  { spellings: ['-c', '--container'], spec: { kind: 'common', key: 'container', long: '--container', example: 'app' } },
  { spellings: ['--timeout'], spec: { kind: 'common', key: 'timeout', long: '--timeout', example: '30s' } },
  { spellings: ['--override-budget'], spec: { kind: 'switch', key: 'overrideBudget', long: '--override-budget', example: '' } },
  { spellings: ['--all'], spec: { kind: 'switch', key: 'all', long: '--all', example: '' } },
  { spellings: ['-l', '--selector'], spec: { kind: 'common', key: 'selector', long: '--selector', example: 'app=web' } },
  { spellings: ['--cluster'], spec: { kind: 'common', key: 'cluster', long: '--cluster', example: 'prod-eu' } },
];

/** Every spelling this check accepts, mapped to what it means. Common flags win over a clashing check option. */
function flagsFor(check: AnyCheck): Map<string, FlagSpec> {
  const flags = new Map<string, FlagSpec>();
  for (const option of check.options) {
    const long = `--${option.name}`;
    flags.set(long, { kind: option.switch ? 'checkSwitch' : 'check', key: option.name, long, example: option.valueName });
  }
  for (const { spellings, spec } of COMMON_FLAGS) for (const s of spellings) flags.set(s, spec);
  return flags;
}

const isHelpFlag = (token: string): boolean => /^(?:-h|--help)(?:=.*)?$/s.test(token);
// A lone '-' is an ordinary word, as in most CLIs.
const looksLikeFlag = (token: string): boolean => token.length > 1 && token.startsWith('-');

interface Found {
  key: string;
  check: AnyCheck;
}

/** Check names are matched case-insensitively: `/kdebug DNS …` is not worth an error. */
function lookupCheck(name: string | undefined, checks: CheckRegistry): Found | undefined {
  if (name === undefined) return undefined;
  for (const key of [name, name.toLowerCase()]) {
    const check = checks.get(key);
    if (check) return { key, check };
  }
  return undefined;
}

/** A usage result: the problem, then the relevant usage line, then where to read more. */
function usage(problem: string, found?: Found): ParseResult {
  const line = found ? usageLine(found.check) : GENERAL_USAGE;
  const more = found ? `/kdebug help ${found.key}` : '/kdebug help';
  return { kind: 'usage', message: `${problem}\nUsage: \`${line}\`\nMore: \`${more}\`` };
}

function unknownCheck(name: string, checks: CheckRegistry): ParseResult {
  const guess = suggest(name, checks.keys());
  const known = [...checks.keys()].map((k) => inlineCode(k)).join(', ');
  const hint = guess ? ` Did you mean ${inlineCode(guess)}?` : '';
  const list = known ? ` Checks: ${known}.` : ' No checks are installed.';
  return usage(`There's no check called ${inlineCode(name)}.${hint}${list}`);
}

/** `help`, `help dns`, `help nosuch`. */
function helpFor(name: string | undefined, checks: CheckRegistry): ParseResult {
  if (name === undefined || looksLikeFlag(name) || name.toLowerCase() === 'help') return { kind: 'help' };
  const found = lookupCheck(name, checks);
  return found ? { kind: 'help', check: found.key } : unknownCheck(name, checks);
}

const JOB_ID = /^[0-9a-f]{16}$/;

/** `cancel <job id>`: the id is shown under every root message. */
function cancelFor(rest: readonly string[]): ParseResult {
  const [id, ...extra] = rest;
  if (id === undefined || extra.length > 0 || !JOB_ID.test(id.toLowerCase())) {
    return {
      kind: 'usage',
      message: `Which job? Give the job id shown under the root message, e.g. \`/kdebug cancel 3f9a0c1e5b7d2a64\`, or use its Cancel button.\nUsage: \`/kdebug cancel <job id>\``,
    };
  }
  return { kind: 'cancel', jobId: id.toLowerCase() };
}

/** Parse slash-command text (as Slack sends it) into a request, a help request or a usage error. */
export function parseCommandText(text: string, checks: CheckRegistry, opts: Omit<ParseOptions, 'local'> = {}): ParseResult {
  const tokenized = tokenize(text);
  if (tokenized.ok) return parseTokens(tokenized.tokens, checks, opts);
  // Still point at the right check's usage when the first word names one.
  const firstWord = text.trim().split(/\s+/)[0];
  return usage(tokenized.message, lookupCheck(firstWord, checks));
}

/** Parse already-split words (the CLI's argv, or tokenize's output). */
export function parseTokens(tokens: readonly string[], checks: CheckRegistry, opts: ParseOptions = {}): ParseResult {
  const first = tokens[0];
  if (first === undefined) return { kind: 'help' };
  if (first.toLowerCase() === 'help') return helpFor(tokens[1], checks);
  if (first.toLowerCase() === 'cancel' && !opts.local) return cancelFor(tokens.slice(1));

  const end = tokens.indexOf('--');
  const wantsHelp = (end === -1 ? tokens : tokens.slice(0, end)).some(isHelpFlag);
  const found = lookupCheck(first, checks);
  if (wantsHelp) return found ? { kind: 'help', check: found.key } : { kind: 'help' };

  if (first === '' || looksLikeFlag(first)) {
    return usage(`Start with the check to run, e.g. \`/kdebug ${exampleCheckName(checks)} web-7f9c -n prod\`.`);
  }
  if (!found) return unknownCheck(first, checks);
  const rest = tokens.slice(1);
  // `/kdebug dns help` means help; a pod really called "help" can be reached as `pod/help`.
  if (rest.length === 1 && rest[0]!.toLowerCase() === 'help') return { kind: 'help', check: found.key };
  return parseCheckArgs(found, rest, opts);
}

/** Everything after the check name: flags in any position, the target, then the check's arguments. */
function parseCheckArgs(found: Found, rest: readonly string[], opts: ParseOptions): ParseResult {
  const { key, check } = found;
  const local = opts.local ?? false;
  const flags = flagsFor(check);
  const given = new Map<string, string>(); // long flag name → how it was given, for the duplicate message
  const words: string[] = [];
  const request: Omit<DiagnosticRequest, 'target' | 'positional'> = { check: key, options: {} };
  const options: [string, string][] = [];
  let selector: string | undefined;

  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (!looksLikeFlag(token)) {
      words.push(token);
      continue;
    }
    if (token === '--') {
      words.push(...rest.slice(i + 1)); // everything after a bare -- is an argument, dashes or not
      break;
    }

    const eq = token.indexOf('=');
    const spelling = eq === -1 ? token : token.slice(0, eq);
    const flag = flags.get(spelling);
    if (!flag) {
      const guess = suggest(spelling, flags.keys());
      const hint = guess ? ` Did you mean ${inlineCode(guess)}?` : ` Options: ${[...flags.keys()].map((f) => inlineCode(f)).join(', ')}.`;
      return usage(`${inlineCode(spelling)} isn't an option of \`${key}\`.${hint}`, found);
    }

    if (flag.kind === 'checkSwitch') {
      if (eq !== -1) return usage(`${inlineCode(flag.long)} takes no value.`, found);
      options.push([flag.key, 'yes']);
      continue;
    }
    if (flag.kind === 'switch') {
      if (eq !== -1) return usage(`${inlineCode(flag.long)} takes no value.`, found);
      if (local) return usage(`${inlineCode(flag.long)} is about ${flag.key === 'all' ? "a workload's pods" : "a pod's container budget"}; with --local there is no pod.`, found);
      request[flag.key] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = token.slice(eq + 1);
    } else {
      // A following flag is not a value: `-n --timeout 30s` forgot the namespace.
      const next = rest[i + 1];
      if (next !== undefined && !looksLikeFlag(next)) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') {
      return usage(`${inlineCode(spelling)} needs a value, e.g. \`${flag.long} ${flag.example}\`.`, found);
    }

    const asGiven = `${spelling} ${value}`;
    const earlier = given.get(flag.long);
    if (earlier !== undefined) {
      return usage(`${inlineCode(flag.long)} is given twice (${inlineCode(earlier)} and ${inlineCode(asGiven)}): give it once.`, found);
    }
    given.set(flag.long, asGiven);

    if (flag.kind === 'check') {
      if (!local && check.options.find((o) => o.name === flag.key)?.localOnly) {
        return usage(`${inlineCode(flag.long)} names a file on your machine, so it only works with \`kdebug run ${key} --local\`.`, found);
      }
      options.push([flag.key, value]);
    } else if (flag.key === 'timeout') {
      const timeout = parseTimeout(value, opts.maxTimeoutSeconds);
      if (!timeout.ok) return usage(timeout.message, found);
      request.timeoutSeconds = timeout.seconds;
    } else if (local) {
      return usage(`${inlineCode(flag.long)} picks a pod's ${flag.key}; with --local the check runs on this machine, so leave it out.`, found);
    } else if (flag.key === 'selector') {
      const problem = labelSelectorProblem(value);
      if (problem) return usage(problem, found);
      selector = value;
    } else {
      const problem = kubeNameProblem(value, 'label', flag.key === 'namespace' ? 'namespace' : flag.key === 'cluster' ? 'cluster name' : 'container name');
      if (problem) return usage(problem, found);
      request[flag.key] = value;
    }
  }

  if (local) {
    request.options = Object.fromEntries(options);
    const complaint = runParseArgs(check, words, request.options);
    if (complaint !== undefined) return usage(complaint, found);
    const { namespace: _n, container: _c, ...localRequest } = request;
    return { kind: 'local', request: { ...localRequest, positional: words } };
  }
  // fromEntries defines own properties, so even an option named "__proto__" stays plain data.
  request.options = Object.fromEntries(options);
  if (selector !== undefined) {
    // The selector is the target: every word is the check's.
    const complaint = runParseArgs(check, words, request.options);
    if (complaint !== undefined) return usage(complaint, found);
    return { kind: 'request', request: { ...request, all: true, target: { kind: 'selector', name: selector }, positional: words } };
  }
  const [targetText, ...positional] = words;
  if (targetText === undefined) {
    return usage(`Which pod? Name the pod or workload to run \`${key}\` in, e.g. \`/kdebug ${key} web-7f9c -n prod\` or \`/kdebug ${key} deploy/web -n prod\`.`, found);
  }
  const target = parseTarget(targetText);
  if (!target.ok) return usage(target.message, found);
  if (request.all && target.target.kind === 'pod') {
    return usage(
      `--all runs \`${key}\` on every pod of a workload: name one (\`deploy/NAME\`, \`sts/NAME\`, \`ds/NAME\`) or give a label selector (\`-l app=web\`) instead of the pod ${inlineCode(target.target.name)}.`,
      found,
    );
  }

  const complaint = runParseArgs(check, positional, request.options);
  if (complaint !== undefined) return usage(complaint, found);
  return { kind: 'request', request: { ...request, target: target.target, positional } };
}

/** The check's complaint about its arguments, or undefined when it accepts them. Contains a misbehaving check. */
function runParseArgs(check: AnyCheck, positional: string[], options: Record<string, string>): string | undefined {
  const fallback = `Those arguments don't work for \`${check.name}\`.`;
  try {
    const result = check.parseArgs([...positional], { ...options });
    if (result.ok) return undefined;
    if (typeof result.message !== 'string') return fallback;
    // We append the full usage line ourselves; drop the check's own so the reply doesn't show two.
    const message = result.message
      .split('\n')
      .filter((line) => !/^\s*usage:/i.test(line))
      .join('\n')
      .trim();
    return message === '' ? fallback : message;
  } catch {
    return fallback;
  }
}
