// One audit record per request, allowed or refused: who asked for what, where, what the policy
// said, which container was added to which pod, and how it ended. Written as a JSON log line with
// `audit: true` and, when configured, as one line in an audit channel. Secrets never get in:
// the command text is scrubbed of tokens, passwords and credentials in URLs and headers.
import { clip, escapeMrkdwn } from '../core/text.js';
import type { Logger } from '../observability/logger.js';

export type AuditOutcome =
  /** The policy refused it. */
  | 'refused'
  /** Over the user's rate limit. */
  | 'rate-limited'
  /** The same request is already in flight; the existing job is reused. */
  | 'duplicate'
  /** Every concurrency slot is taken. */
  | 'busy'
  /** The pod has used its ephemeral container budget. */
  | 'budget-exceeded'
  /** Accepted and on the queue. */
  | 'enqueued'
  /** Could not be queued (Redis down, root message failed). */
  | 'not-enqueued'
  /** Ran to a finding. */
  | 'done'
  | 'failed'
  | 'timed-out'
  /** Stopped by /kdebug cancel or the Cancel button. */
  | 'cancelled';

export interface AuditPolicyVerdict {
  allowed: boolean;
  /** The rule that decided; absent for the default deny. */
  rule?: string;
  reason?: string;
}

export interface AuditRecord {
  /** ISO time the request arrived. (In the log line it is `requestTime`, since pino owns `time`.) */
  time: string;
  outcome: AuditOutcome;
  team: string;
  user: string;
  userName?: string;
  channel: string;
  /** The full command as typed, secrets redacted. */
  command: string;
  jobId?: string;
  check?: string;
  /** The cluster it ran in, when not the default one. */
  cluster?: string;
  /** The target as asked for: "pod/web-7f9c", "deployment/web". */
  target?: string;
  /** The pod it resolved to (worker records). */
  pod?: string;
  /** `--all`: every pod the check ran in (worker records). */
  pods?: string[];
  namespace?: string;
  /** The ephemeral container added to the pod (kdebug-<job id>). */
  container?: string;
  /** The app container it shares namespaces with. */
  targetContainer?: string;
  policy?: AuditPolicyVerdict;
  /** The check's verdict, e.g. "ok" or "nxdomain". */
  verdict?: string;
  durationMs?: number;
  /** Why it was refused, limited or failed (redacted). */
  reason?: string;
  /** For duplicates: the job that is reused. */
  existingJobId?: string;
  retryAfterSeconds?: number;
  /** The user asked to go past the per-pod container budget. */
  budgetOverride?: boolean;
}

/** What callers pass: a record without its time, plus when the request started (epoch ms). */
export type AuditEntry = Omit<AuditRecord, 'time'> & {
  /** When the request arrived (epoch ms); sets `time` and, unless given, `durationMs`. Default now. */
  startedAt?: number;
};

/** The part of WebClient the Slack sink needs. */
export interface AuditSlackClient {
  chat: { postMessage(args: { channel: string; text: string; unfurl_links?: boolean; unfurl_media?: boolean }): Promise<unknown> };
}

export interface AuditLogOptions {
  logger: Logger;
  /** Post each record in this channel too. */
  slack?: {
    client: AuditSlackClient;
    channel: string;
    /** Only these outcomes go to the channel (default: all). */
    outcomes?: readonly AuditOutcome[];
  };
  now?: () => number;
}

const MAX_FIELD = 4000;

// ---------------------------------------------------------------------------------------------
// Redaction

// A value: quoted, or up to whitespace, a quote or the next URL query parameter.
const QUOTED_OR_WORD = String.raw`(?:"[^"]*"|'[^']*'|[^\s"'&]+)`;
const SECRET_WORDS = String.raw`(?:pass(?:word|wd)?|pwd|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth|credentials?|session[_-]?id|signature|sig)`;

const REDACTIONS: ReadonlyArray<[RegExp, string | ((...m: string[]) => string)]> = [
  // Slack tokens and app tokens.
  [/\bxox[a-z]-[A-Za-z0-9-]+/g, 'xox*-[redacted]'],
  [/\bxapp-[A-Za-z0-9-]+/g, 'xapp-[redacted]'],
  // JWTs and well-known key shapes.
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, '[redacted-aws-key]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, '[redacted-github-token]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted-private-key]'],
  // user:password@ in URLs.
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi, (_m, scheme, user) => `${scheme}${user}:[redacted]@`],
  // Authorization-style headers: everything after the colon up to the end of the quoted value.
  [
    new RegExp(
      String.raw`\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key|x-auth-token)(\s*[:=]\s*)("[^"]*"|'[^']*'|(?:bearer|basic|token|digest)\s+[^\s"']+|[^\s"']+)`,
      'gi',
    ),
    (_m, name, sep) => `${name}${sep}[redacted]`,
  ],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, (_m, scheme) => `${scheme} [redacted]`],
  // --password x, --token=x, password=x, "secret": "x", token: x
  [new RegExp(String.raw`(--?${SECRET_WORDS})([= ]+)${QUOTED_OR_WORD}`, 'gi'), (_m, flag, sep) => `${flag}${sep}[redacted]`],
  [new RegExp(String.raw`\b(${SECRET_WORDS})(["']?\s*[:=]\s*)${QUOTED_OR_WORD}`, 'gi'), (_m, key, sep) => `${key}${sep}[redacted]`],
];

/** Text with credentials replaced by [redacted]: tokens, passwords, keys, URL user info, auth headers. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of REDACTIONS) {
    out = typeof replacement === 'string' ? out.replace(pattern, replacement) : out.replace(pattern, replacement);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building records

/** The audit record for an entry: time filled in, free text redacted and clipped, empty fields dropped. */
export function auditRecord(entry: AuditEntry, now: number = Date.now()): AuditRecord {
  const { startedAt, ...rest } = entry;
  const record: AuditRecord = {
    ...rest,
    time: new Date(startedAt ?? now).toISOString(),
    command: clip(redactSecrets(entry.command), MAX_FIELD),
  };
  if (entry.durationMs === undefined && startedAt !== undefined && isTerminal(entry.outcome)) record.durationMs = Math.max(0, now - startedAt);
  if (entry.reason !== undefined) record.reason = clip(redactSecrets(entry.reason), 1000);
  if (entry.policy?.reason !== undefined) record.policy = { ...entry.policy, reason: clip(redactSecrets(entry.policy.reason), 1000) };
  for (const key of Object.keys(record) as (keyof AuditRecord)[]) if (record[key] === undefined) delete record[key];
  return record;
}

function isTerminal(outcome: AuditOutcome): boolean {
  return outcome === 'done' || outcome === 'failed' || outcome === 'timed-out';
}

/** The job fields the worker's record needs (structurally a DiagnosticJob). */
export interface AuditJob {
  id: string;
  check: string;
  target: { kind: string; name: string };
  namespace: string;
  cluster?: string;
  commandText: string;
  requestedBy: { teamId: string; userId: string; userName?: string };
  reply: { channel: string };
  enqueuedAt: number;
}

/** What runJob returned (structurally a JobOutcome). */
export interface AuditJobResult {
  status: 'done' | 'failed' | 'cancelled';
  verdict?: string;
  /** UserFacingError kind, e.g. "deadline". */
  failure?: string;
  pod?: string;
  pods?: string[];
  container?: string;
}

/**
 * The outcome of a job's result: a deadline failure is timed-out; failures of kind "budget" and
 * "busy" (what the worker should use for a full pod budget and no free slot) keep those names.
 */
export function outcomeOf(result: AuditJobResult): AuditOutcome {
  if (result.status === 'done') return 'done';
  if (result.status === 'cancelled') return 'cancelled';
  if (result.failure === 'deadline') return 'timed-out';
  if (result.failure === 'budget') return 'budget-exceeded';
  if (result.failure === 'busy') return 'busy';
  return 'failed';
}

/** The slash-command fields an audit record needs (structurally Bolt's SlashCommand). */
export interface AuditCommand {
  team_id: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  /** "/kdebug" (or whatever the app's command is called). */
  command?: string;
  text?: string;
}

/** The bot's record for a slash command: who, where and the full command, plus what happened. */
export function auditEntryForCommand(command: AuditCommand, outcome: AuditOutcome, fields: Omit<AuditEntry, 'outcome' | 'team' | 'user' | 'channel' | 'command'> = {}): AuditEntry {
  return {
    outcome,
    team: command.team_id,
    user: command.user_id,
    ...(command.user_name ? { userName: command.user_name } : {}),
    channel: command.channel_id,
    command: `${command.command ?? '/kdebug'} ${command.text ?? ''}`.trim(),
    ...fields,
  };
}

/** The worker's final record for a job. */
export function auditEntryForJob(
  job: AuditJob,
  result: AuditJobResult,
  extra: Partial<Pick<AuditRecord, 'targetContainer' | 'policy' | 'reason' | 'budgetOverride'>> = {},
): AuditEntry {
  return {
    outcome: outcomeOf(result),
    team: job.requestedBy.teamId,
    user: job.requestedBy.userId,
    ...(job.requestedBy.userName !== undefined ? { userName: job.requestedBy.userName } : {}),
    channel: job.reply.channel,
    command: job.commandText,
    jobId: job.id,
    check: job.check,
    target: `${job.target.kind}/${job.target.name}`,
    ...(job.cluster ? { cluster: job.cluster } : {}),
    namespace: job.namespace,
    ...(result.pod !== undefined ? { pod: result.pod } : {}),
    ...(result.pods !== undefined ? { pods: result.pods } : {}),
    ...(result.container !== undefined ? { container: result.container } : {}),
    ...(result.verdict !== undefined ? { verdict: result.verdict } : {}),
    ...(result.failure !== undefined && result.status === 'failed' ? { reason: result.failure } : {}),
    ...extra,
    startedAt: job.enqueuedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Sinks

const OUTCOME_EMOJI: Record<AuditOutcome, string> = {
  refused: ':no_entry:',
  'rate-limited': ':hourglass:',
  duplicate: ':repeat:',
  busy: ':hourglass:',
  'budget-exceeded': ':no_entry:',
  enqueued: ':inbox_tray:',
  'not-enqueued': ':warning:',
  done: ':white_check_mark:',
  failed: ':x:',
  'timed-out': ':alarm_clock:',
  cancelled: ':no_entry_sign:',
};

const codeSpan = (text: string): string => `\`${escapeMrkdwn(text).replace(/[`\r\n]/g, ' ')}\``;

/**
 * One line for the audit channel. Users are shown by name and id, not as <@mentions>, so an
 * audit channel never pings anybody.
 */
export function formatAuditLine(record: AuditRecord): string {
  const who = record.userName ? `${escapeMrkdwn(record.userName)} (${record.user})` : record.user;
  const parts = [`${OUTCOME_EMOJI[record.outcome]} *${record.outcome}*`, who, `in <#${record.channel}>`, codeSpan(clip(record.command, 300))];
  if (record.pod) parts.push(`pod ${codeSpan(`${record.namespace ?? '?'}/${record.pod}`)}`);
  else if (record.pods)
    parts.push(`${record.pods.length === 1 ? 'pod' : `${record.pods.length} pods`} ${codeSpan(clip(`${record.namespace ?? '?'}/${record.pods.join(', ')}`, 300))}`);
  else if (record.target) parts.push(`target ${codeSpan(`${record.namespace ?? '?'}/${record.target}`)}`);
  if (record.container) parts.push(`container ${codeSpan(record.container)}`);
  if (record.policy?.allowed) parts.push(record.policy.rule ? `rule ${codeSpan(record.policy.rule)}` : 'allowed');
  // A refusal's reason names the deciding rule (or says default deny) itself.
  else if (record.policy) parts.push(escapeMrkdwn(clip(record.policy.reason ?? (record.policy.rule ? `rule "${record.policy.rule}"` : 'default deny'), 300)));
  if (record.verdict) parts.push(`verdict ${codeSpan(record.verdict)}`);
  if (record.reason) parts.push(escapeMrkdwn(clip(record.reason, 300)));
  if (record.retryAfterSeconds !== undefined) parts.push(`retry after ${record.retryAfterSeconds} s`);
  if (record.existingJobId) parts.push(`reuses job ${record.existingJobId}`);
  if (record.durationMs !== undefined) parts.push(`${(record.durationMs / 1000).toFixed(1)} s`);
  if (record.jobId) parts.push(`job ${record.jobId}`);
  return parts.join(' · ');
}

export class AuditLog {
  private readonly now: () => number;

  constructor(private readonly options: AuditLogOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Write one record to every sink. Never throws: auditing trouble is logged, not passed on. */
  async record(entry: AuditEntry): Promise<AuditRecord> {
    const record = auditRecord(entry, this.now());
    const { time, ...fields } = record;
    this.options.logger.info({ audit: true, requestTime: time, ...fields }, `audit: ${record.outcome}`);
    const slack = this.options.slack;
    if (slack && (!slack.outcomes || slack.outcomes.includes(record.outcome))) {
      try {
        await slack.client.chat.postMessage({ channel: slack.channel, text: formatAuditLine(record), unfurl_links: false, unfurl_media: false });
      } catch (err) {
        const code = (err as { data?: { error?: string } })?.data?.error ?? (err as Error)?.message ?? String(err);
        this.options.logger.warn({ auditChannel: slack.channel, err: code, jobId: record.jobId }, 'could not post the audit record in the audit channel');
      }
    }
    return record;
  }
}
