// The /kdebug slash command: parse, acknowledge within Slack's 3 seconds, post the root message
// and enqueue the job. Bad input gets a usage reply and nothing is enqueued.
import type { SlashCommand } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { CheckRegistry } from '../checks/index.js';
import { parseCommandText } from '../grammar/parse.js';
import { checkHelp, generalHelp } from '../grammar/help.js';
import { defaultTimeoutFor } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AuditLog } from '../policy/audit.js';
import { admit } from '../policy/admission.js';
import type { InFlightDedupe } from '../policy/dedupe.js';
import type { RateLimiter } from '../policy/rate-limit.js';
import type { PolicyStore } from '../policy/store.js';
import type { GroupMembership } from '../policy/user-groups.js';
import { DEFAULT_CLUSTER, diagnosticJobSchema, jobIdFor, type DiagnosticJob } from '../queue/job.js';
import type { Cancellations } from '../queue/cancel.js';
import { cancelledOps } from '../delivery/answer-ops.js';
import type { AnswerSink } from '../delivery/answer-sink.js';
import type { DiagnosticQueue } from '../queue/diagnostic-queue.js';
import { escapeMrkdwn } from '../core/text.js';
import { paced, type SlackPacer } from '../slack/pacer.js';
import { describeJob, rootMessage } from '../slack/render.js';
import type { RequestHistory } from '../queue/history.js';
import type { InventoryStore } from '../queue/inventory-store.js';
import type { ClusterRegistry } from '../queue/clusters.js';
import { formatDuration } from '../core/duration.js';
import { clustersMessage } from '../slack/clusters.js';
import { unknownPodMessage } from './unknown-pod.js';

export interface CommandDeps {
  config: Config;
  checks: CheckRegistry;
  /** Claims Slack commands once (the claim does not depend on the cluster). */
  queue: DiagnosticQueue;
  /** Each cluster's job queue; without it, every job goes to `queue`. */
  queueFor?: (cluster: string) => DiagnosticQueue;
  logger: Logger;
  metrics: Metrics;
  access: AccessControl;
  cancellations: Cancellations;
  /** Where the bot puts the answer of a job it cancelled before any worker took it. */
  answers: AnswerSink;
  /** Slack's budgets, shared with every other process: the root message waits for its turn. */
  pacer?: SlackPacer;
  /** Each user's recent requests, for their App Home. */
  history?: RequestHistory;
  /** What the cluster holds, from the workers (the command builder, "did you mean"). */
  inventory?: InventoryStore;
  /** Which clusters have live workers (`/kdebug clusters`). */
  clusters?: ClusterRegistry;
}

/** Who may do what (policy and user groups), how often (limits), and the record of it (audit). */
export interface AccessControl {
  policy: PolicyStore;
  groups: GroupMembership;
  limits: { rate: RateLimiter; dedupe: InFlightDedupe };
  audit: AuditLog;
}

export interface CommandIo {
  ack: (response?: { response_type: 'ephemeral'; text: string }) => Promise<void>;
  /** An answer only the requester sees (the response_url of a command or click). */
  respond: (message: { response_type: 'ephemeral'; text: string }) => Promise<unknown>;
  client: WebClient;
  botUserId?: string;
}

const NOT_IN_CHANNEL = new Set(['not_in_channel', 'channel_not_found']);

export function slackError(err: unknown): string | undefined {
  return (err as { data?: { error?: string } })?.data?.error;
}

/** What kdebug reads of a slash command; a button click carries the same (see RUN_ACTION). */
export type CommandFields = Pick<SlashCommand, 'team_id' | 'user_id' | 'user_name' | 'channel_id' | 'text' | 'trigger_id' | 'command'>;

export async function handleSlashCommand(command: CommandFields, io: CommandIo, deps: CommandDeps): Promise<void> {
  const { config, checks, queue, logger, metrics, access } = deps;
  if (/^\s*whoami\s*$/i.test(command.text ?? '')) {
    await io.ack();
    const groups = await access.groups.groupsOf(command.user_id, access.policy.groupIds());
    // whoami's text carries Slack mentions and links, already escaped where needed.
    await io.respond({ response_type: 'ephemeral', text: access.policy.whoami(command.user_id, command.channel_id, groups, { checkNames: [...checks.keys()] }) });
    metrics.requests.inc({ check: '', outcome: 'whoami' });
    return;
  }
  if (/^\s*clusters\s*$/i.test(command.text ?? '') && deps.clusters) {
    await io.ack();
    const text = await deps.clusters.list().then(
      (clusters) => clustersMessage(clusters, Date.now()),
      () => 'Could not read the clusters right now (Redis is unavailable). Try again in a minute.',
    );
    await io.respond({ response_type: 'ephemeral', text }).catch((e: Error) => logger.warn({ err: e.message }, 'response_url failed'));
    metrics.requests.inc({ check: '', outcome: 'clusters' });
    return;
  }
  const limits = { maxTimeoutSeconds: config.jobs.maxTimeoutSeconds };
  const parsed = parseCommandText(command.text ?? '', checks, limits);
  const count = (outcome: string, check = parsed.kind === 'request' ? parsed.request.check : '') => metrics.requests.inc({ check, outcome });
  if (parsed.kind === 'help') {
    count('help');
    const check = parsed.check ? checks.get(parsed.check) : undefined;
    await io.ack({ response_type: 'ephemeral', text: escapeMrkdwn(check ? checkHelp(check, limits) : generalHelp(checks, limits)) });
    return;
  }
  if (parsed.kind === 'usage') {
    count('usage');
    await io.ack({ response_type: 'ephemeral', text: escapeMrkdwn(parsed.message) });
    return;
  }
  if (parsed.kind === 'cancel') {
    // Acknowledge first: the answer needs Redis, and Slack's 3 seconds do not wait for it.
    await io.ack();
    const text = await cancelJob(parsed.jobId, command.user_id, command.channel_id, deps).catch((err: Error) => {
      logger.error({ err: err.message, jobId: parsed.jobId }, 'cancel failed');
      return `Could not cancel job \`${parsed.jobId}\` right now (the job queue is unavailable). Try again in a minute.`;
    });
    await io.respond({ response_type: 'ephemeral', text }).catch((e: Error) => logger.warn({ err: e.message }, 'response_url failed'));
    return;
  }
  if (parsed.kind !== 'request') throw new Error('slash commands never parse as local requests');
  const request = parsed.request;
  const timeoutSeconds = request.timeoutSeconds ?? defaultTimeoutFor(config, checks.get(request.check)!);
  if (timeoutSeconds > config.jobs.maxTimeoutSeconds) {
    count('usage');
    await io.ack({ response_type: 'ephemeral', text: `--timeout can be at most ${config.jobs.maxTimeoutSeconds}s on this installation.` });
    return;
  }
  await io.ack();

  const namespace = request.namespace ?? config.kubernetes.defaultNamespace;
  const cluster = request.cluster ?? config.cluster.channels[command.channel_id] ?? config.cluster.name;
  const unavailable = await clusterProblem(cluster, deps);
  if (unavailable) {
    count('no-worker');
    await io.respond({ response_type: 'ephemeral', text: unavailable }).catch((e: Error) => logger.warn({ err: e.message }, 'response_url failed'));
    return;
  }
  // Pod names are only suggested to someone the policy lets run this check in this namespace.
  if (
    request.target.kind === 'pod' &&
    deps.inventory &&
    !(command.text ?? '').includes(`pod/${request.target.name}`) &&
    (await mayRun(command, namespace, request.check, deps, cluster))
  ) {
    const inventory = await deps.inventory.read(cluster).catch(() => undefined);
    const hint = unknownPodMessage(inventory, namespace, request.target.name, 2 * config.inventory.refreshSeconds * 1000, Date.now());
    if (hint) {
      count('usage');
      await io.respond({ response_type: 'ephemeral', text: hint }).catch((e: Error) => logger.warn({ err: e.message }, 'response_url failed'));
      return;
    }
  }

  // Slack may deliver the same command again (X-Slack-Retry-Num); its trigger_id stays the same,
  // so the id does too, and the claim below lets only the first delivery through.
  const id = jobIdFor(command.team_id, command.trigger_id ?? `${command.channel_id}:${command.user_id}:${command.text}`);
  const log = logger.child({ jobId: id, user: command.user_id, channel: command.channel_id });
  if (!(await queue.claimCommand(id))) {
    count('duplicate');
    log.info('duplicate delivery of a slash command ignored');
    return;
  }

  const receivedAt = Date.now();
  const job: DiagnosticJob = {
    v: 1,
    id,
    check: request.check,
    target: request.target,
    namespace,
    ...(cluster !== DEFAULT_CLUSTER ? { cluster } : {}),
    ...(request.container ? { container: request.container } : {}),
    timeoutSeconds,
    positional: request.positional,
    options: request.options,
    commandText: `/kdebug ${command.text}`.trim(),
    requestedBy: { teamId: command.team_id, userId: command.user_id, userName: command.user_name },
    reply: { channel: command.channel_id, rootTs: '' },
    enqueuedAt: receivedAt,
    ...(request.overrideBudget ? { overrideBudget: true } : {}),
    ...(request.all ? { all: true } : {}),
  };

  // Policy, then the same request already in flight, then the user's rate: refusals are audited
  // and answered only to the requester; nothing is enqueued.
  const admission = await admit(access, command, job, receivedAt);
  if (!admission.ok) {
    count(admission.outcome);
    await io.respond({ response_type: 'ephemeral', text: admission.reply }).catch((e: Error) => log.warn({ err: e.message }, 'response_url failed'));
    return;
  }
  job.policy = { rule: admission.verdict.rule, allowBudgetOverride: admission.verdict.limits.allowBudgetOverride };

  let rootTs: string;
  try {
    const root = rootMessage(job, { state: 'queued' });
    const posted = await paced(deps.pacer, 'chat.postMessage', command.channel_id, () =>
      io.client.chat.postMessage({ channel: command.channel_id, text: root.text, blocks: root.blocks }),
    );
    rootTs = posted.ts!;
  } catch (err) {
    await queue.releaseCommand(id);
    const code = slackError(err);
    await admission.notEnqueued(code ?? 'root message failed');
    metrics.slackErrors.inc({ method: 'chat.postMessage', error: code ?? 'request-failed' });
    count(code && NOT_IN_CHANNEL.has(code) ? 'not-in-channel' : 'slack-error');
    log.warn({ slackError: code ?? (err as Error).message }, 'could not post the root message');
    const bot = io.botUserId ? `<@${io.botUserId}>` : 'the kdebug app';
    const text =
      code && NOT_IN_CHANNEL.has(code)
        ? `I'm not a member of this channel, so I can't post results here. Invite me with \`/invite ${bot}\` (or channel settings → Integrations → Add apps), then run your command again:\n\`${escapeMrkdwn(job.commandText)}\``
        : `Sorry, I couldn't post in this channel (${code ?? 'Slack API error'}), so nothing was started. Run \`${escapeMrkdwn(job.commandText)}\` again in a moment.`;
    await io.respond({ response_type: 'ephemeral', text }).catch((e: Error) => log.warn({ err: e.message }, 'response_url failed too'));
    return;
  }

  job.reply.rootTs = rootTs;
  // The job's deadline (enqueuedAt + timeout) starts now that it is queued: the root message's wait
  // for its turn in the channel's budget (a busy channel: a second per message) is not taken from it.
  job.enqueuedAt = Date.now();
  try {
    await (deps.queueFor?.(cluster) ?? queue).enqueue(job);
    await admission.enqueued();
    count('enqueued');
    await deps.history
      ?.record(job.requestedBy.teamId, job.requestedBy.userId, {
        jobId: job.id,
        check: job.check,
        what: describeJob(job),
        channel: command.channel_id,
        rootTs,
        at: job.enqueuedAt,
        ...(job.cluster ? { cluster: job.cluster } : {}),
      })
      .catch((err: Error) => log.warn({ err: err.message }, 'could not record the request for the Home tab'));
    log.info({ check: job.check, target: job.target, namespace: job.namespace }, 'job enqueued');
  } catch (err) {
    await queue.releaseCommand(id).catch(() => undefined);
    await admission.notEnqueued('queue unavailable').catch(() => undefined);
    count('enqueue-failed');
    log.error({ err: (err as Error).message }, 'enqueue failed');
    const failed = rootMessage(job, {
      state: 'failed',
      message: 'Could not queue the diagnostic (the job queue is unavailable). Run the command again in a minute.',
      durationMs: Date.now() - receivedAt,
    });
    await paced(deps.pacer, 'chat.update', command.channel_id, () =>
      io.client.chat.update({ channel: command.channel_id, ts: rootTs, text: failed.text, blocks: failed.blocks }),
    ).catch(() => undefined);
  }
}

/** Whether the policy lets this user run `check` in `namespace` from this channel (no side effects). */
export async function mayRun(
  command: Pick<CommandFields, 'user_id' | 'channel_id'>,
  namespace: string,
  check: string,
  { access }: CommandDeps,
  cluster?: string,
): Promise<boolean> {
  const userGroups = await access.groups.groupsOf(command.user_id, access.policy.groupIds());
  return access.policy.evaluate({
    userId: command.user_id,
    channelId: command.channel_id,
    namespace,
    check,
    userGroups,
    ...(cluster && cluster !== DEFAULT_CLUSTER ? { cluster } : {}),
  }).allowed;
}

/**
 * Why a command for this cluster would only wait, or undefined: a cluster whose workers all stopped
 * reporting, or one no worker ever reported (except the bot's own default, as before clusters).
 */
async function clusterProblem(cluster: string, { clusters, config }: CommandDeps): Promise<string | undefined> {
  if (!clusters) return undefined;
  const known = await clusters.list().catch(() => undefined);
  if (!known) return undefined;
  const status = known.find((c) => c.name === cluster);
  if (status && status.liveWorkers > 0) return undefined;
  if (status) {
    const since = formatDuration(Math.max(1, Math.round((Date.now() - status.lastSeen) / 1000)));
    return `No worker for cluster \`${cluster}\` has been seen for ${since}, so nothing was started. Check its kdebug worker Deployment, or pick another cluster with \`--cluster\` (\`/kdebug clusters\` lists them).`;
  }
  if (cluster === config.cluster.name) return undefined;
  const names = known.map((c) => `\`${c.name}\``).join(', ');
  return `No worker has ever reported for cluster \`${cluster}\`, so nothing was started. ${names ? `Clusters: ${names}.` : 'No cluster has reported yet.'} \`/kdebug clusters\` shows which are alive.`;
}

/** The job with this id, in whichever cluster's queue holds it. */
async function findJob(jobId: string, { queue, queueFor, clusters, config }: CommandDeps) {
  if (!queueFor) return queue.job(jobId);
  const names = new Set([config.cluster.name, DEFAULT_CLUSTER, ...((await clusters?.list().catch(() => [])) ?? []).map((c) => c.name)]);
  for (const name of names) {
    const job = await queueFor(name).job(jobId);
    if (job) return job;
  }
  return undefined;
}

/**
 * Cancel a job for a user (the /kdebug cancel command and the Cancel button): the requester, or
 * anyone the policy lets run that check in that namespace. Returns the reply for the user.
 */
export async function cancelJob(jobId: string, userId: string, channelId: string, deps: CommandDeps): Promise<string> {
  const { cancellations, access, answers, logger, metrics } = deps;
  const bullJob = await findJob(jobId, deps);
  const parsed = diagnosticJobSchema.safeParse(bullJob?.data);
  if (!bullJob || !parsed.success) return `There's no job \`${jobId}\` (finished jobs are forgotten after a day). The id is under the command's root message.`;
  const job = parsed.data;
  if (job.requestedBy.userId !== userId) {
    const groups = await access.groups.groupsOf(userId, access.policy.groupIds());
    const verdict = access.policy.evaluate({ userId, channelId, namespace: job.namespace, check: job.check, userGroups: groups, ...(job.cluster ? { cluster: job.cluster } : {}) });
    if (!verdict.allowed) return `Only <@${job.requestedBy.userId}>, or someone allowed to run \`${job.check}\` in \`${job.namespace}\`, can cancel job \`${jobId}\`.`;
  }
  const state = await bullJob.getState();
  if (state === 'completed' || state === 'failed') return `Job \`${jobId}\` has already finished; its answer is in its thread.`;
  await cancellations.request(jobId, userId);
  metrics.requests.inc({ check: job.check, outcome: 'cancel' });
  logger.info({ jobId, by: userId, state }, 'cancellation requested');
  if (state !== 'active') {
    // Nobody runs it yet: take it off the queue and answer right away.
    const removed = await bullJob.remove().then(
      () => true,
      () => false, // a worker took it meanwhile; the flag stops it
    );
    if (removed) {
      await answers.write(job.id, cancelledOps(job, userId, Date.now() - job.enqueuedAt, []));
      await answers.deliver(job);
      return `Cancelled job \`${jobId}\` before it started.`;
    }
  }
  return `Cancelling job \`${jobId}\`: the worker running it stops and says so in the thread.`;
}
