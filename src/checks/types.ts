// The contract every diagnostic check implements. Checks are pure: they turn validated arguments
// into argv steps and turn the tools' raw output back into a Finding. No I/O happens here.

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

/** A check-specific option such as `--server 10.0.0.10`. */
export interface CheckOption {
  name: string;
  /** Human description of the value, shown in help, e.g. "IP[:PORT]". */
  valueName: string;
  description: string;
  /** Only meaningful for `kdebug run --local` (e.g. a CA file on this machine); refused from Slack. */
  localOnly?: boolean;
}

/** Installation-wide settings checks read (config section `checks`). */
export interface CheckSettings {
  /** `tls`: a valid certificate expiring within this many days is `expiring-soon`. */
  tlsExpiringSoonDays: number;
  /** `http` and `tls`: longest wait for the server (curl --max-time, timeout around s_client), seconds. */
  httpMaxSeconds: number;
  /** `ping`: echo requests sent. */
  pingCount: number;
  /** `trace`: most hops probed. */
  traceMaxHops: number;
  /** `capture`: default and longest capture duration (seconds), most packets, most bytes. */
  captureDefaultSeconds: number;
  captureMaxSeconds: number;
  captureMaxPackets: number;
  captureMaxBytes: number;
}

export const DEFAULT_CHECK_SETTINGS: CheckSettings = {
  tlsExpiringSoonDays: 14,
  httpMaxSeconds: 10,
  pingCount: 4,
  traceMaxHops: 20,
  captureDefaultSeconds: 30,
  captureMaxSeconds: 300,
  captureMaxPackets: 10000,
  captureMaxBytes: 20 * 1024 * 1024,
};

/** What a check may know besides its arguments: the settings and the time (for certificate ages). */
export interface CheckContext {
  settings: CheckSettings;
  now: Date;
}

export type ArgsResult<A> = { ok: true; args: A } | { ok: false; message: string };

export interface CheckDefinition<A = unknown> {
  name: string;
  /** One line for `/kdebug help`. */
  summary: string;
  /** Usage line after `/kdebug`, e.g. "dns <target> [name…] [--server IP[:PORT]]". */
  usage: string;
  /** Longer help text for `/kdebug help <check>`: what it runs, what the verdicts mean, examples. */
  help: string;
  /** Every verdict this check can return; `ok` (or `open`) is the good one. */
  verdicts: readonly string[];
  /** Linux capabilities the container needs beyond none, e.g. ["NET_RAW"]. */
  capabilities: readonly string[];
  /**
   * The output carries a base64 pcap (see pcap-stream.ts): runners stream it into a .pcap file
   * and hand interpret() the log with the capture replaced by its summary.
   */
  streamsPcap?: boolean;
  options: readonly CheckOption[];
  /** Validate positional arguments and check-specific options. Pure; never throws. */
  parseArgs(positional: string[], options: Record<string, string>): ArgsResult<A>;
  /** The argv steps to run, from validated arguments. Without a context, DEFAULT_CHECK_SETTINGS apply. */
  steps(args: A, context?: CheckContext): Step[];
  /** Turn the steps' raw output into a Finding. Must not throw on any output. */
  interpret(args: A, results: StepResult[], context?: CheckContext): Finding;
}
