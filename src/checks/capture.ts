// The `capture` check: run tcpdump in the pod's network namespace for a bounded time, packet count
// and size, and bring the pcap back through the container log (base64 between two marker lines),
// never through exec. The check declares a decoder (pcap/log-scanner.ts) that the runners stream
// that log through: it gives the .pcap file's bytes and replaces the base64 with a one-line
// summary; interpret() reads that line and tcpdump's own messages to say what happened.
import { z } from 'zod';
import { formatDuration, formatElapsed, parseDuration } from '../core/duration.js';
import { clip, firstLine as firstLineOf, plural } from '../core/text.js';
import { CaptureLogScanner, decodeCaptureLogSync, PCAP_BEGIN_LINE, PCAP_END_LINE, PCAP_SUMMARY_PREFIX, type PcapSummary } from './pcap/log-scanner.js';
import { formatBytes, formatConversation, renderCaptureSummary } from './pcap/render.js';
import { numberFact } from './fanout/facts.js';
import { interpretSafely } from './guard.js';
import { refusalWithUsage, settingsOf, type CheckDefinition, type FanoutTraits, type Finding, type Step, type StepResult, type VerdictTable } from './types.js';

export interface CaptureArgs {
  /** One BPF expression, handed to tcpdump as a single argv element; undefined captures everything. */
  filter?: string;
  /** Seconds asked for with --duration; the installation's default when undefined. */
  durationSeconds?: number;
  /** Packets asked for with --packets; the installation's maximum when undefined. */
  packets?: number;
}

export type CaptureVerdict = 'ok' | 'no-packets' | 'permission-denied' | 'invalid-filter' | 'failed';

const VERDICTS: { readonly [V in CaptureVerdict]: VerdictTable[string] } = {
  ok: { class: 'good', severity: 0 },
  'no-packets': { class: 'warning', severity: 26 },
  'permission-denied': { class: 'bad', severity: 59 },
  'invalid-filter': { class: 'bad', severity: 56 },
  failed: { class: 'bad', severity: 55 },
};

const seconds = z.number().int().min(1).max(3600);
const settings = z.strictObject({
  /** Capture duration without --duration (seconds). */
  defaultSeconds: seconds.default(30),
  /** Longest --duration (seconds). */
  maxSeconds: seconds.default(300),
  /** Most packets kept. */
  maxPackets: z.number().int().min(1).default(10000),
  /**
   * Most bytes of pcap kept. The worker streams the file to Slack and never holds it (issue 10), so
   * this may go up to Slack's limit for one file, 1 GB; Redis must have room for it until it is posted.
   */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(1_000_000_000)
    .default(20 * 1024 * 1024),
});

export type CaptureSettings = z.infer<typeof settings>;

export const CAPTURE_STEP_ID = 'capture';
const USAGE = 'capture <target> [bpf filter…] [--duration 30s] [--packets N]';
export const MAX_FILTER_LENGTH = 512;
/** Bounds parseArgs can check without the installation's settings (the config schema's own ceiling). */
const MAX_DURATION_SECONDS = 3600;
const MAX_PACKETS = 10_000_000;
/** tcpdump's exit line, printed by the step after tcpdump ends. */
const EXIT_LINE_PREFIX = 'kdebug-tcpdump-exit ';

/**
 * The step's shell program. It is a constant: the user's values reach it only as positional
 * parameters ($1 seconds, $2 packets, $3 the filter as ONE argument, $4 bytes), never as script text.
 *
 * - `-i any -p`: every interface of the pod, no promiscuous mode (so NET_RAW suffices, no NET_ADMIN);
 *   `-U -w -`: the pcap to stdout, flushed after each packet, so what is cut off is cut at a packet;
 *   `--immediate-mode`: each packet handed to tcpdump as it arrives. Without it libpcap hands them
 *   over a buffer block at a time, once a second, and the block still open when `timeout` stops
 *   tcpdump is never written: a capture lost up to its last second.
 *   `-s 65535 -B 16384`: in immediate mode every packet takes a ring slot as large as the snapshot
 *   length rounded up to a power of two. With tcpdump's defaults (256 KiB, a 2 MiB ring) that was
 *   4 packets: a burst of more, while tcpdump was held up (descheduled, or blocked writing to the
 *   pipe), was dropped by the kernel. 64 KiB snapshots (every packet whole, but offloaded
 *   super-packets over 64 KiB) in a 16 MiB ring hold 128. The ring is the node's kernel memory for
 *   the capture's length, not charged to the pod's memory cgroup (measured: a tcpdump with this
 *   ring in a cgroup of its own used 1.7 MiB of it, as with the default 2 MiB ring), so it cannot
 *   push the pod towards its memory limit.
 * - `timeout` ends tcpdump with SIGTERM after $1 seconds (tcpdump stops cleanly and prints its
 *   statistics; GNU timeout then exits 124, BusyBox's passes on tcpdump's 0); `-c` stops it at $2
 *   packets; `head -c` at $4 bytes (tcpdump then gets SIGPIPE, which it also handles cleanly).
 * - base64 wraps at 76 columns and goes to the real stdout (fd 3) between the begin and end lines.
 * - Everything printed on stderr (tcpdump's "listening on", "N packets captured", errors such as
 *   "You don't have permission", and any error of timeout, head or base64) is collected by the
 *   command substitution and printed AFTER the end line, so it can never land inside the base64.
 * - The last line is tcpdump's exit status (via timeout), which is also the step's exit status.
 */
export const CAPTURE_SCRIPT = [
  'exec 3>&1',
  `printf '%s\\n' '${PCAP_BEGIN_LINE}'`,
  `log=$( { { timeout "$1" tcpdump -i any -p --immediate-mode -s 65535 -B 16384 -U -w - -c "$2" -- "$3" 2>&4 3>&- 4>&-; echo "${EXIT_LINE_PREFIX}$?" >&4; } | head -c "$4" | base64 >&3; } 4>&1 2>&1 )`,
  `printf '%s\\n' '${PCAP_END_LINE}' "$log"`,
  `rc=\${log##*${EXIT_LINE_PREFIX}}`,
  'rc=${rc%%[!0-9]*}',
  'exit "${rc:-1}"',
].join('\n');

export interface CaptureLimits {
  durationSeconds: number;
  packets: number;
  bytes: number;
  /** What the user asked for but the installation does not allow, e.g. "--duration 10m (max 5m)". */
  clamped: string[];
}

/** What the capture will actually be bounded by: the user's values within the installation's limits. */
export function captureLimits(args: CaptureArgs, limits: CaptureSettings = settings.parse({})): CaptureLimits {
  const clamped: string[] = [];
  const maxSeconds = Math.max(1, limits.maxSeconds);
  let durationSeconds = Math.min(args?.durationSeconds ?? limits.defaultSeconds, maxSeconds);
  if (args?.durationSeconds !== undefined && args.durationSeconds > maxSeconds)
    clamped.push(`--duration ${formatDuration(args.durationSeconds)} (max ${formatDuration(maxSeconds)})`);
  durationSeconds = Math.max(1, durationSeconds);
  const maxPackets = Math.max(1, limits.maxPackets);
  const packets = Math.max(1, Math.min(args?.packets ?? maxPackets, maxPackets));
  if (args?.packets !== undefined && args.packets > maxPackets) clamped.push(`--packets ${args.packets} (max ${maxPackets})`);
  return { durationSeconds, packets, bytes: Math.max(1024, limits.maxBytes), clamped };
}

// ---------------------------------------------------------------------------------------------
// Arguments

const withUsage = refusalWithUsage(USAGE);

/** Why `filter` is not passed to tcpdump, or undefined. tcpdump itself judges the BPF syntax. */
export function filterProblem(filter: string): string | undefined {
  if (filter.length > MAX_FILTER_LENGTH) return `The filter is ${filter.length} characters long; at most ${MAX_FILTER_LENGTH} are allowed`;
  const bad = [...filter].find((c) => c < ' ' || c > '~');
  if (bad !== undefined) {
    const shown = bad.charCodeAt(0) < 0x20 || bad.charCodeAt(0) === 0x7f ? `character U+${bad.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : `\`${bad}\``;
    return `The filter contains ${shown}; a BPF filter is plain ASCII, e.g. \`tcp port 443 and host 10.0.0.7\``;
  }
  if (filter.startsWith('-')) return `The filter \`${filter.slice(0, 40)}\` starts with \`-\`; tcpdump options cannot be passed, only a BPF filter such as \`port 53\``;
  return undefined;
}

function parseDurationOption(text: string): { ok: true; seconds: number } | { ok: false; message: string } {
  const seconds = parseDuration(text);
  if (seconds === undefined) return { ok: false, message: `Can't read \`--duration ${text}\`: use seconds (\`45\`) or a duration like \`30s\`, \`2m\` or \`1m30s\`` };
  if (seconds < 1) return { ok: false, message: `\`--duration ${text}\` is too short: capture for at least 1 second` };
  if (seconds > MAX_DURATION_SECONDS) return { ok: false, message: `\`--duration ${text}\` is too long: at most ${formatDuration(MAX_DURATION_SECONDS)}` };
  return { ok: true, seconds };
}

function parsePacketsOption(text: string): { ok: true; packets: number } | { ok: false; message: string } {
  const t = text.trim();
  const packets = /^\d{1,9}$/.test(t) ? Number(t) : NaN;
  if (!(packets >= 1 && packets <= MAX_PACKETS)) return { ok: false, message: `\`--packets ${text}\` must be a whole number from 1 to ${MAX_PACKETS.toLocaleString('en-US')}` };
  return { ok: true, packets };
}

// ---------------------------------------------------------------------------------------------
// Reading the step's output

interface TcpdumpOutput {
  /** `tcpdump: …` lines and other stderr, without the ones every run prints. */
  messages: string[];
  listening?: string;
  captured?: number;
  receivedByFilter?: number;
  droppedByKernel?: number;
  exit?: number;
  summary?: PcapSummary;
  /** The summary line was missing but base64 was there: decoded here, in memory. */
  decodedHere: boolean;
}

function isSummary(value: unknown): value is PcapSummary {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.packets === 'number' &&
    typeof v.found === 'boolean' &&
    Array.isArray(v.conversations) &&
    Array.isArray(v.ports) &&
    typeof v.protocols === 'object' &&
    v.protocols !== null
  );
}

function readOutput(output: string, maxBytes: number): TcpdumpOutput {
  const out: TcpdumpOutput = { messages: [], decodedHere: false };
  let inside = false;
  let sawBase64 = false;
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === PCAP_BEGIN_LINE) {
      inside = true;
      continue;
    }
    if (line === PCAP_END_LINE) {
      inside = false;
      continue;
    }
    if (line.startsWith(PCAP_SUMMARY_PREFIX)) {
      try {
        const parsed: unknown = JSON.parse(line.slice(PCAP_SUMMARY_PREFIX.length));
        if (isSummary(parsed)) out.summary = parsed;
      } catch {
        // A damaged summary line reads as no summary.
      }
      continue;
    }
    if (inside) {
      if (/^[A-Za-z0-9+/=]+$/.test(line)) sawBase64 = true;
      continue;
    }
    const text = line.trim();
    if (text === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^kdebug-tcpdump-exit (\d+)$/.exec(text))) out.exit = Number(m[1]);
    else if ((m = /^(\d+) packets? captured$/.exec(text))) out.captured = Number(m[1]);
    else if ((m = /^(\d+) packets? received by filter$/.exec(text))) out.receivedByFilter = Number(m[1]);
    else if ((m = /^(\d+) packets? dropped by kernel$/.exec(text))) out.droppedByKernel = Number(m[1]);
    else if (/^\d+ packets? dropped by interface$/.test(text)) continue;
    else if ((m = /^tcpdump: (listening on .*)$/.exec(text))) out.listening = m[1];
    else if (/^tcpdump: data link type /.test(text)) continue;
    else out.messages.push(text);
  }
  if (!out.summary && sawBase64) {
    out.summary = decodeCaptureLogSync(output, { maxBytes }).summary;
    out.decodedHere = true;
  }
  return out;
}

/** The step output as a person should see it: the summary in place of the base64 or JSON line. */
function readableOutput(output: string, summary: PcapSummary | undefined): string {
  const lines = output.split('\n');
  const kept: string[] = [];
  let inside = false;
  let placed = false;
  const place = () => {
    if (placed || !summary) return;
    kept.push(...renderCaptureSummary(summary).split('\n'));
    placed = true;
  };
  for (const line of lines) {
    const bare = line.replace(/\r$/, '');
    if (bare === PCAP_BEGIN_LINE) {
      inside = true;
      kept.push('[pcap data left out of this text; the summary follows]');
      continue;
    }
    if (bare === PCAP_END_LINE) {
      inside = false;
      place();
      continue;
    }
    if (bare.startsWith(PCAP_SUMMARY_PREFIX)) {
      place();
      continue;
    }
    if (!inside) kept.push(line);
  }
  if (inside) place();
  return kept.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Interpretation

const PERMISSION = /You don't have permission|Operation not permitted|Permission denied|Couldn't change to '/i;

function firstLine(text: string): string {
  return firstLineOf(text, 160);
}

function permissionHeadline(messages: string[]): string {
  const dropUser = messages.map((m) => /Couldn't change to '([^']*)'.*?: (.*)$/.exec(m)).find(Boolean);
  if (dropUser) {
    return `tcpdump opened the capture but could not switch to user '${dropUser[1]}' (${dropUser[2]}): this image's tcpdump drops root after opening the capture, which needs the SETUID and SETGID capabilities the debug container does not get`;
  }
  const said = messages.find((m) => m.startsWith('tcpdump: ') && PERMISSION.test(m)) ?? '';
  return `tcpdump was not allowed to capture (${clip(said.replace(/^tcpdump: /, ''), 120)}): the debug container needs the NET_RAW capability, which the cluster's policy or runtime may be removing`;
}

function stopReason(limits: CaptureLimits, tool: TcpdumpOutput, summary: PcapSummary | undefined, step: StepResult | undefined): string | undefined {
  if (summary?.capped) return `stopped at the ${formatBytes(limits.bytes)} size limit`;
  if (step && step.exitCode === null) return 'cut off at the job deadline';
  if (summary && summary.found && !summary.complete) return 'cut off before the capture ended';
  if ((tool.captured ?? summary?.packets ?? 0) >= limits.packets) return `stopped at the ${limits.packets.toLocaleString('en-US')}-packet limit`;
  if (tool.exit === 124 || tool.listening) return `ran the full ${formatDuration(limits.durationSeconds)}`;
  return undefined;
}

function interpret(args: CaptureArgs, results: StepResult[], own: CaptureSettings): Finding {
  const limits = captureLimits(args, own);
  const step = results.find((r) => r && r.id === CAPTURE_STEP_ID && typeof r.output === 'string');
  const tool = readOutput(step?.output ?? '', limits.bytes);
  const summary = tool.summary;
  const filter = args?.filter;
  const scope = filter ? `matching \`${filter}\`` : 'on any interface';

  const facts: Finding['facts'] = {
    filter: filter ?? '(none: all traffic)',
    duration: formatDuration(limits.durationSeconds),
    packetLimit: limits.packets,
    sizeLimit: formatBytes(limits.bytes),
  };
  if (limits.clamped.length > 0) facts.limitedTo = limits.clamped;
  if (tool.listening) facts.interface = tool.listening.replace(/^listening on /, '');
  if (tool.captured !== undefined) facts.tcpdumpCaptured = tool.captured;
  if (tool.droppedByKernel) facts.droppedByKernel = tool.droppedByKernel;
  if (tool.exit !== undefined) facts.tcpdumpExit = tool.exit;
  if (tool.messages.length > 0) facts.messages = tool.messages.slice(0, 10).map((m) => clip(m, 200));

  let verdict: CaptureVerdict;
  let headline: string;
  // Only tcpdump's own complaints: "timeout: failed to run command 'tcpdump': Permission denied" is not about capabilities.
  const permission = tool.messages.some((m) => m.startsWith('tcpdump: ') && PERMISSION.test(m));
  if (permission) {
    verdict = 'permission-denied';
    headline = permissionHeadline(tool.messages);
  } else if (!tool.listening && filter && tool.messages.some((m) => m.startsWith('tcpdump: ')) && !(summary && summary.packets > 0)) {
    verdict = 'invalid-filter';
    const said = tool.messages.find((m) => m.startsWith('tcpdump: '))?.replace(/^tcpdump: /, '') ?? '';
    headline = `tcpdump rejected the filter \`${clip(filter, 80)}\`: ${clip(said, 120)}`;
  } else if (summary && summary.packets > 0) {
    verdict = 'ok';
    const busiest = summary.conversations[0];
    const stop = stopReason(limits, tool, summary, step);
    headline = `Captured ${plural(summary.packets, 'packet')} ${scope} over ${formatElapsed(summary.durationMs)}`;
    if (busiest) headline += `; busiest ${formatConversation(busiest)} (${busiest.packets.toLocaleString('en-US')})`;
    if (stop) headline += `; ${stop}`;
  } else if (tool.listening || (summary?.found && summary.linkType !== undefined)) {
    verdict = 'no-packets';
    const stop = stopReason(limits, tool, summary, step);
    headline = `No packets ${scope} in ${formatDuration(limits.durationSeconds)}${stop && !stop.startsWith('ran the full') ? ` (${stop})` : ''}`;
  } else {
    verdict = 'failed';
    const said = tool.messages[0] ?? firstLine(step?.output ?? '');
    if (!step || (step.exitCode === null && !said)) headline = 'The capture did not start before the job ended';
    else
      headline = `tcpdump did not capture${tool.exit !== undefined ? ` (exit ${tool.exit})` : step.exitCode !== null ? ` (exit ${step.exitCode})` : ''}${said ? `: ${clip(said, 140)}` : ''}`;
  }

  if (summary && summary.found) {
    facts.packets = summary.packets;
    facts.span = formatElapsed(summary.durationMs);
    facts.pcapBytes = summary.fileBytes;
    if (summary.linkTypeName) facts.linkType = summary.linkTypeName;
    const protocols = Object.entries(summary.protocols).sort((a, b) => b[1] - a[1]);
    if (protocols.length > 0) facts.protocols = protocols.map(([p, n]) => `${p} ${n}`).join(', ');
    if (summary.conversations.length > 0) facts.conversations = summary.conversations.map((c) => `${formatConversation(c)}: ${c.packets} packets, ${formatBytes(c.bytes)}`);
    if (summary.ports.length > 0) facts.ports = summary.ports.map((p) => `${p.port}/${p.proto}: ${p.packets} packets`);
    const stop = stopReason(limits, tool, summary, step);
    if (stop) facts.stopped = stop;
    if (summary.droppedTrailingBytes > 0) facts.droppedTrailingBytes = summary.droppedTrailingBytes;
    if (summary.error) facts.dataProblem = summary.error;
  }

  const steps = results.map((r) => (r === step && step ? { ...step, output: readableOutput(step.output, summary) } : r));
  return { check: 'capture', verdict, headline, facts, steps };
}

// ---------------------------------------------------------------------------------------------
// On many pods (--all)

const fanout: FanoutTraits = {
  figure(finding) {
    const packets = numberFact(finding, 'packets');
    return packets !== undefined && (finding.verdict === 'ok' || finding.verdict === 'no-packets') ? plural(packets, 'packet') : finding.verdict;
  },
};

// ---------------------------------------------------------------------------------------------

export const captureCheck: CheckDefinition<CaptureArgs, CaptureSettings> = {
  name: 'capture',
  summary: "Capture packets in the pod's network namespace with tcpdump and attach them as a .pcap",
  usage: USAGE,
  help: [
    `Usage: \`/kdebug ${USAGE}\``,
    '',
    "Runs `tcpdump -i any -p` in the pod's network namespace and uploads what it captured as a `.pcap` file (open it with Wireshark or `tcpdump -r`), with a short summary: packets, time span, busiest conversations and destination ports.",
    'Words after the target form one BPF filter, e.g. `tcp port 443`, `host 10.0.3.7 and not port 22`, `udp port 53`. Without a filter everything is captured.',
    'The capture stops at whichever comes first: `--duration` (default: the installation default, e.g. 30s), `--packets` (default: the installation maximum), or the installation size limit. Give the job a `--timeout` longer than the duration.',
    '',
    'Verdicts:',
    '• `ok`: packets were captured (the .pcap is attached)',
    '• `no-packets`: tcpdump ran the whole time but nothing matched the filter',
    "• `permission-denied`: tcpdump was not allowed to capture (NET_RAW missing, or the image's tcpdump could not drop root)",
    '• `invalid-filter`: tcpdump rejected the filter (syntax error, unknown host or port name…)',
    '• `failed`: tcpdump did not run (e.g. not in the debug image) or stopped with an unexpected error',
    '',
    'Examples:',
    '• `/kdebug capture web-7f9c port 8080 --duration 20s`',
    '• `/kdebug capture deploy/api host 10.96.0.10 and udp port 53 --packets 200 --timeout 2m`',
  ].join('\n'),
  verdicts: VERDICTS,
  capabilities: ['NET_RAW'],
  sensitive: true,
  settings,
  defaultTimeoutSeconds: 120,
  fanout,
  decoder: {
    extension: 'pcap',
    title: 'packet capture',
    maxBytes: (context) => captureLimits({}, settingsOf(captureCheck, context)).bytes,
    create: (maxBytes) => new CaptureLogScanner({ maxBytes }),
  },
  liveProgress(args, { elapsedSeconds, decoded }, context) {
    const { durationSeconds } = captureLimits(args, settingsOf(captureCheck, context));
    const left = Math.max(0, Math.round(durationSeconds - elapsedSeconds));
    return `capturing: ${plural(decoded?.packets ?? 0, 'packet')} so far, ${left} s left`;
  },
  options: [
    { name: 'duration', valueName: 'DURATION', description: 'Stop capturing after this long, e.g. 30s or 2m' },
    { name: 'packets', valueName: 'N', description: 'Stop after this many packets' },
  ],

  parseArgs(positional, options) {
    const args: CaptureArgs = {};
    for (const [key, value] of Object.entries(options ?? {})) {
      const option = key.replace(/^-+/, '');
      const text = String(value ?? '');
      if (option === 'duration') {
        const parsed = parseDurationOption(text);
        if (!parsed.ok) return withUsage(`${parsed.message}.`);
        args.durationSeconds = parsed.seconds;
      } else if (option === 'packets') {
        const parsed = parsePacketsOption(text);
        if (!parsed.ok) return withUsage(`${parsed.message}.`);
        args.packets = parsed.packets;
      } else {
        return withUsage(`The capture check has no option \`--${option}\`.`);
      }
    }
    const filter = (positional ?? [])
      .map((word) => String(word))
      .join(' ')
      .trim();
    if (filter !== '') {
      const problem = filterProblem(filter);
      if (problem) return withUsage(`${problem}.`);
      args.filter = filter;
    }
    return { ok: true, args };
  },

  steps(args, context): Step[] {
    const limits = captureLimits(args, settingsOf(captureCheck, context));
    return [
      {
        id: CAPTURE_STEP_ID,
        argv: ['sh', '-c', CAPTURE_SCRIPT, 'capture', String(limits.durationSeconds), String(limits.packets), args.filter ?? '', String(limits.bytes)],
      },
    ];
  },

  interpret(args, results, context) {
    const own = settingsOf(captureCheck, context);
    return interpretSafely({ check: 'capture', verdict: 'failed', tool: 'tcpdump' }, results, () => interpret(args, Array.isArray(results) ? results : [], own));
  },
};
