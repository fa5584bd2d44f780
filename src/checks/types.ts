// The contract every diagnostic check implements. A check is one definition that declares
// everything about itself: grammar and help, steps, interpretation, settings with their defaults,
// default deadline, its verdicts with their class and severity, sensitivity and capabilities.
// Config, renderers, exit codes, triage, policy and error messages read it from the registry.
// Checks are pure: they turn validated arguments into argv steps and turn the tools' raw output
// back into a Finding. No I/O happens here.
import type { z } from 'zod';

/** One command to run inside the debug container, as an argv array (never a shell string). */
export interface Step {
  /** Short stable label, unique within a job, e.g. "dig-1" or "resolv.conf". */
  id: string;
  argv: string[];
}

/** What running one Step produced. `output` is stdout and stderr interleaved, as a container log is. */
export interface StepResult extends Step {
  /** null when the step never finished (deadline or container killed). */
  exitCode: number | null;
  output: string;
}

/** The interpreted result of a check: the verdict comes first, the raw steps are kept for the reply. */
export interface Finding {
  check: string;
  /** One word from the check's fixed verdict vocabulary, e.g. "ok" or "nxdomain". */
  verdict: string;
  /** One line a person reads first, e.g. "NXDOMAIN for payments.prod.svc.cluster.local via 10.96.0.10". */
  headline: string;
  /** Structured details, rendered as a short list of facts. */
  facts: Record<string, string | number | boolean | string[]>;
  steps: StepResult[];
}

/** What a running check has done so far, for CheckDefinition.liveProgress. */
export interface LiveProgress {
  elapsedSeconds: number;
  /** A check with an output decoder (capture): what the decoder has seen. */
  decoded?: { packets: number };
  /** A check without one: its output so far (the container's log, read again each time). */
  output?: string;
}

/** A check-specific option such as `--server 10.0.0.10`. */
export interface CheckOption {
  name: string;
  /** Human description of the value, shown in help, e.g. "IP[:PORT]". */
  valueName: string;
  description: string;
  /** Only meaningful for `kdebug run --local` (e.g. a CA file on this machine); refused from Slack. */
  localOnly?: boolean;
  /** A switch that takes no value (`--chain`); parseArgs sees it as `yes`. */
  switch?: boolean;
}

/** good: nothing to fix (exit code 0); warning: works, but look at it; bad: broken. */
export type VerdictClass = 'good' | 'warning' | 'bad';

export interface VerdictSpec {
  class: VerdictClass;
  /**
   * Worse is higher, on ONE scale shared by every check, so verdicts of different checks compare
   * (triage ranks its parts with it, dns its names). A failure lower in the network stack explains
   * the failures above it, so it ranks higher:
   *   100 nothing answered in time · 90s DNS answered without an address · 85 refused port ·
   *   70s-80s TLS · 65 HTTP · 55-60 ping/permission and tool failures · 20-30 warnings · 0 good.
   * A word used by several checks (timeout, dns-failure, ok, …) has the same class and severity in
   * all of them; a registry test holds every check to that.
   */
  severity: number;
}

export type VerdictTable = Readonly<Record<string, VerdictSpec>>;

/** What a check may know besides its arguments. */
export interface CheckContext {
  /**
   * Installation settings of every check, by check name (the config's `checks` section). A check
   * reads its own through settingsOf(), which fills in the defaults of its schema.
   */
  settings: Readonly<Record<string, unknown>>;
  /** The time (certificate ages). */
  now: Date;
  /**
   * Seconds left until the job's deadline when the steps start. A step's own timeout never
   * exceeds it, so a tool gives its verdict before the job is cut off.
   */
  secondsLeft?: number;
}

/** What a decoder made of a check's output, once the output has ended. */
export interface DecodedOutput {
  /** The output with the encoded artifact replaced by what interpret() reads instead (capture: a summary line). */
  text: string;
  /** The artifact holds something worth attaching (a pcap of only its file header does not). */
  hasContent: boolean;
}

/** One run's decoder: takes the output in chunks cut anywhere and returns the artifact's bytes, in order. Pure. */
export interface IncrementalDecoder<R extends DecodedOutput = DecodedOutput> {
  push(chunk: Buffer | string): Buffer[];
  /** What it has decoded so far, for live progress (capture: packets). */
  progress?(): { packets: number };
  /** The output ended: the last bytes. result() is valid from now on. */
  end(): Buffer[];
  result(): R;
}

/** How a check's output turns into a file (see CheckDefinition.decoder). */
export interface OutputDecoder {
  /** The artifact's file extension, without the dot, e.g. "pcap". */
  extension: string;
  /** What the artifact is, for the file's title, e.g. "packet capture". */
  title: string;
  /** The most artifact bytes to keep, from the check's settings. */
  maxBytes(context?: CheckContext): number;
  /** A fresh decoder for one run, keeping at most `maxBytes` bytes of artifact. */
  create(maxBytes: number): IncrementalDecoder;
}

export type ArgsResult<A> = { ok: true; args: A } | { ok: false; message: string };

/** parseArgs' refusal: the problem, then the check's usage line. `refusalWithUsage(USAGE)('Which host?')` */
export function refusalWithUsage(usage: string): (message: string) => { ok: false; message: string } {
  return (message) => ({ ok: false, message: `${message}\nUsage: \`/kdebug ${usage}\`` });
}

/**
 * What every healthy pod of a workload should have alike (the DNS answers, the certificate), so a
 * pod that differs stands out when a check runs on all of them (`--all`, see fanout/compare.ts).
 */
export interface Sameness {
  /** What is compared between pods, complete: every address, the whole fingerprint. */
  key: string;
  /** How a headline says a pod has it, before the value, e.g. "answers" ("web-5 answers 10.0.0.9"). */
  verb: string;
  /** The value, short enough for a headline: "10.0.0.9", "CN=api.prod (91:D1:FB:4C…)". */
  value: string;
}

/**
 * How a check's findings on many pods compare (`--all`: one run per pod, one comparison). Each
 * reads only the Finding's facts, and must not throw on any Finding (interpretSafely's fallback
 * has no facts at all).
 */
export interface FanoutTraits {
  /** The key figure for the pod's table cell, short (clipped at 40 characters): "200 in 35 ms", "NXDOMAIN", "0% loss, 1.2 ms". */
  figure(finding: Finding): string;
  /** What should be equal on every healthy pod; undefined when the finding has nothing to compare. */
  sameness?(finding: Finding): Sameness | undefined;
  /** A latency worth comparing between pods (a pod far slower than the median stands out), in ms. */
  latencyMs?(finding: Finding): number | undefined;
}

export interface CheckDefinition<A = unknown, S extends object = object> {
  name: string;
  /** One line for `/kdebug help`. */
  summary: string;
  /** Usage line after `/kdebug`, e.g. "dns <target> [name…] [--server IP[:PORT]]". */
  usage: string;
  /** Longer help text for `/kdebug help <check>`: what it runs, what the verdicts mean, examples. */
  help: string;
  /** Every verdict this check can return, in the order help lists them. */
  verdicts: VerdictTable;
  /** Linux capabilities the container needs beyond none, e.g. ["NET_RAW"]. */
  capabilities: readonly string[];
  /**
   * Its output can hold customer data (a packet capture): the policy grants it only to rules that
   * name it, never through `*`.
   */
  sensitive?: boolean;
  /** Installation settings (config `checks.<name>`), every field with its default. */
  settings?: z.ZodType<S, Partial<S>>;
  /** The job's deadline (seconds) when the command has no --timeout and the config sets none for it. */
  defaultTimeoutSeconds?: number;
  /**
   * The output carries a binary artifact (capture: a pcap as base64 lines): the runners stream the
   * output through this decoder into a file, attach the file when it holds anything, and hand
   * interpret() the decoded text.
   */
  decoder?: OutputDecoder;
  /** How its findings on many pods of a workload compare (`--all`). Every registered check declares it. */
  fanout?: FanoutTraits;
  options: readonly CheckOption[];
  /** Validate positional arguments and check-specific options. Pure; never throws. */
  parseArgs(positional: string[], options: Record<string, string>): ArgsResult<A>;
  /** The argv steps to run, from validated arguments. Without a context, the settings' defaults apply. */
  steps(args: A, context?: CheckContext): Step[];
  /**
   * One line of live progress while a long check runs (shown on the root message, within Slack's
   * pacing), from how long its container has run and what it has printed so far.
   */
  liveProgress?(args: A, progress: LiveProgress, context?: CheckContext): string;
  /** Turn the steps' raw output into a Finding. Must not throw on any output. */
  interpret(args: A, results: StepResult[], context?: CheckContext): Finding;
}

/** A check's own settings from the context, with its schema's defaults for anything not set. */
export function settingsOf<S extends object>(check: Pick<CheckDefinition<unknown, S>, 'name' | 'settings'>, context: CheckContext | undefined): S {
  if (!check.settings) return {} as S;
  // The config validated them already; a hand-made context with a wrong value fails loudly here.
  return check.settings.parse(context?.settings?.[check.name] ?? {});
}

/** A step's own time limit: the check's setting, but never past the job's deadline (at least 1 s). */
export function stepSeconds(wanted: number, context: CheckContext | undefined): number {
  const left = context?.secondsLeft;
  if (left === undefined || !Number.isFinite(left)) return wanted;
  return Math.max(1, Math.min(wanted, Math.floor(left)));
}
