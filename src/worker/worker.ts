// The worker role: takes diagnostic jobs off the queue and runs them, and posts their answers
// through the delivery queue.
import { DelayedError, Worker } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { CheckRegistry } from '../checks/index.js';
import type { Config } from '../config/schema.js';
import { createAnswers } from '../delivery/answer-sink.js';
import { startDeliveryWorker } from '../delivery/delivery-queue.js';
import { RelayedRootUpdates } from '../delivery/progress-relay.js';
import type { KubeClients } from '../kube/client.js';
import { readInventory } from '../kube/inventory.js';
import { InventoryStore } from '../queue/inventory-store.js';
import { RequestHistory } from '../queue/history.js';
import { ClusterRegistry } from '../queue/clusters.js';
import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { DEFAULT_CLUSTER, diagnosticJobSchema, queueNameFor, validateJob, type DiagnosticJob } from '../queue/job.js';
import type { DiagnosticQueue } from '../queue/diagnostic-queue.js';
import { createRedis } from '../queue/redis.js';
import { auditEntryForJob, type AuditLog } from '../policy/audit.js';
import { debugContainerName, debugContainerNames } from '../core/debug-container.js';
import { dedupeSubjectForJob, type InFlightDedupe } from '../policy/dedupe.js';
import type { PodBudget } from '../policy/pod-budget.js';
import type { RunningSlots } from '../policy/running-slots.js';
import { UserFacingError } from '../core/errors.js';
import { failedOps } from '../delivery/answer-ops.js';
import type { SlackPacer } from '../slack/pacer.js';
import { JobThread } from '../slack/web.js';
import { Cancellations } from '../queue/cancel.js';
import { JobCancelled, JobHandedBack, runJob, type JobOutcome } from './run-job.js';

export interface WorkerDeps {
  config: Config;
  checks: CheckRegistry;
  kube: KubeClients;
  redis: Redis;
  /**
   * Without hidden retries (see WEB_CLIENT_OPTIONS): deliveries are retried by their queue,
   * honouring Retry-After, and progress updates are best effort. None when the worker has no Slack
   * credentials: its answers wait in the outbox for the bot's process to deliver them, and the bot
   * relays its jobs' progress (delivery/progress-relay.ts).
   */
  slack?: WebClient;
  /** Slack's budgets, shared by every process: answers wait for their turn, progress only takes a free slot. */
  pacer?: SlackPacer;
  logger: Logger;
  metrics: Metrics;
  limits: { slots: RunningSlots; podBudget: PodBudget; dedupe: InFlightDedupe };
  audit: AuditLog;
  /** To start a job that waited for a slot as soon as one frees. */
  queue: DiagnosticQueue;
}

/**
 * A job waiting for a slot is started as soon as a running job releases one (see RunningSlots.
 * release); this re-check is only the safety net for slots a crashed worker left to expire.
 */
const SLOT_RECHECK_SECONDS = 15;

export interface RunningWorker {
  worker: Worker;
  /** Undefined while jobs are being taken, else why not (for /readyz). */
  problem(): string | undefined;
  /** Stop taking jobs; give running ones `graceMs` to finish, then hand them back to the queue. */
  stop(graceMs: number): Promise<void>;
}

export function startWorker({ config, checks, kube, redis, slack, pacer, logger, metrics, limits, audit, queue }: WorkerDeps): RunningWorker {
  const prefix = config.redis.keyPrefix;
  const { sink: answers, outbox, close: closeAnswers } = createAnswers(redis, prefix, config.queue.keepCompletedSeconds);
  const deliveryWorker = slack ? startDeliveryWorker({ redisUrl: config.redis.url, redis, prefix, outbox, slack, logger, metrics, pacer }) : undefined;

  const stopInventory = refreshInventory(config, kube, redis, logger);
  const stopHeartbeat = heartbeat(config, kube, redis, logger);
  const history = new RequestHistory(redis, prefix);
  const running = new Map<string, AbortController>();
  const cancellations = new Cancellations(redis, prefix);
  // A cancellation reaches whichever worker runs the job.
  const unsubscribe = cancellations.subscribe((jobId, userId) => {
    running.get(jobId)?.abort(new JobCancelled(userId));
  });
  unsubscribe.catch((err: Error) => logger.error({ err: err.message }, 'cannot listen for cancellations'));
  const worker = new Worker<unknown, JobOutcome>(
    queueNameFor(config.cluster.name),
    async (bullJob, token) => {
      const validated = validateJob(bullJob.data, checks);
      if (!validated.ok) {
        // Validated again here: Redis is shared, and a job from another version or a bad actor
        // must never reach a cluster. It fails without a retry.
        logger.error({ bullJobId: bullJob.id, reason: validated.reason }, 'rejected invalid job');
        throw new Error(`invalid job: ${validated.reason}`);
      }
      const { job, check, args } = validated;
      // Each cluster's workers take only their queue's jobs; one for another cluster here is a misrouted job.
      if ((job.cluster ?? DEFAULT_CLUSTER) !== config.cluster.name) {
        logger.error({ bullJobId: bullJob.id, cluster: job.cluster }, 'rejected a job for another cluster');
        throw new Error(`invalid job: it is for cluster ${job.cluster ?? DEFAULT_CLUSTER}, this worker serves ${config.cluster.name}`);
      }
      if (bullJob.processedOn) metrics.queueWait.observe(Math.max(0, bullJob.processedOn - bullJob.timestamp) / 1000);
      const controller = new AbortController();
      running.set(job.id, controller);
      // Keeps the slot and the dedupe claim for the job's next attempt (see finally).
      let keepClaims = false;
      try {
        // Cancelled while it waited, or published before the line above could see it.
        const cancelledBy = await cancellations.cancelledBy(job.id);
        if (cancelledBy) controller.abort(new JobCancelled(cancelledBy));

        // The global cap on running diagnostics: wait in the queue for a slot until the deadline.
        const deadline = job.enqueuedAt + job.timeoutSeconds * 1000;
        const slot = cancelledBy ? undefined : await limits.slots.acquire(job.id, job.timeoutSeconds + 60);
        if (slot && !slot.ok) {
          if (Date.now() < deadline && token) {
            keepClaims = true;
            await bullJob.moveToDelayed(Date.now() + Math.min(slot.retryAfterSeconds, SLOT_RECHECK_SECONDS) * 1000, token);
            await limits.slots.wait(job.id, job.enqueuedAt);
            // A slot freed between the refusal and the line above had nobody to hand it to.
            if (await limits.slots.hasFree()) await queue.startNow(job.id);
            throw new DelayedError();
          }
          return await busy(
            job,
            `kdebug is busy: ${slot.running} diagnostics are running, the most allowed at once (limits.concurrency.maxRunning), and this one waited past its deadline. Try again in a minute.`,
          );
        }
        if (slot && Date.now() >= deadline) {
          // Its turn came too late: adding a container (which can never be removed) would be for nothing.
          return await busy(
            job,
            `Timed out waiting for a free slot: ${slot.running - 1} other diagnostics were running (limits.concurrency.maxRunning), and this one's ${job.timeoutSeconds} s deadline passed before its turn. Nothing was added to the pod. Try again, perhaps with a longer --timeout.`,
          );
        }

        const outcome = await runJob(job, check, args, {
          kube,
          beforeAdd: async (pod) => {
            const uid = pod.metadata?.uid ?? `${job.namespace}/${pod.metadata?.name}`;
            const containerName = debugContainerName(job.id);
            const budget = await limits.podBudget.claim({
              podUid: uid,
              existing: debugContainerNames(pod),
              containerName,
              override: job.overrideBudget ?? false,
              overrideAllowed: job.policy?.allowBudgetOverride ?? false,
            });
            if (!budget.ok) throw new UserFacingError(`Not adding another debug container to pod ${pod.metadata?.name}: ${budget.reason}.`, 'budget');
            return () => limits.podBudget.release(uid, containerName);
          },
          metrics,
          answers,
          signal: controller.signal,
          rootUpdates: slack
            ? new JobThread(slack, job.reply.channel, job.reply.rootTs, metrics, pacer)
            : new RelayedRootUpdates(redis, prefix, job.id, job.reply.channel, job.reply.rootTs),
          settings: {
            image: config.kubernetes.debugImage,
            imagePullPolicy: config.kubernetes.imagePullPolicy,
            maxLogBytes: config.kubernetes.maxLogBytes,
            maxInlineOutputChars: config.replies.maxInlineOutputChars,
            checks: config.checks,
            fanout: config.fanout,
          },
          logger,
        });
        // For the requester's Home tab, kept as long as their history.
        await history
          .recordOutcome(job.id, {
            state: outcome.status === 'recovered' ? 'done' : outcome.status,
            ...(outcome.verdict ? { verdict: outcome.verdict } : {}),
            ...(outcome.headline ? { headline: outcome.headline } : {}),
          })
          .catch((err: Error) => logger.warn({ err: err.message, jobId: job.id }, 'could not record the outcome for the Home tab'));
        if (outcome.status !== 'recovered') {
          await audit.record(
            auditEntryForJob(
              job,
              { ...outcome, status: outcome.status },
              { ...(job.policy ? { policy: { allowed: true, rule: job.policy.rule } } : {}), budgetOverride: job.overrideBudget ?? false },
            ),
          );
        }
        return outcome;
      } catch (err) {
        if (err instanceof JobHandedBack && token) {
          keepClaims = true;
          // Back to the queue at once: another worker finds the container this job added
          // (its name derives from the job id) and reads its result instead of adding another.
          logger.info({ jobId: job.id }, 'handing the job back to the queue');
          await bullJob.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        throw err;
      } finally {
        running.delete(job.id);
        // A job handed back or waiting for a slot keeps its claims: the next attempt takes them over.
        if (!keepClaims) {
          const next = await limits.slots.release(job.id).catch(() => undefined);
          if (next) await queue.startNow(next).catch(() => undefined);
          await limits.dedupe.release(dedupeSubjectForJob(job), job.id).catch(() => undefined);
        }
      }
    },
    {
      connection: createRedis(config.redis.url),
      prefix,
      concurrency: config.queue.concurrency,
      lockDuration: config.queue.lockSeconds * 1000,
      stalledInterval: Math.max(1000, (config.queue.lockSeconds * 1000) / 2),
      maxStalledCount: config.queue.maxStalledCount,
    },
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  worker.on('failed', (bullJob, err) => {
    logger.warn({ bullJobId: bullJob?.id, err: err.message }, 'job failed');
    // A job that lost its worker too often still gets an answer, so nobody waits forever.
    const job = diagnosticJobSchema.safeParse(bullJob?.data);
    if (job.success && !(err instanceof DelayedError)) void answerWithFailure(job.data, `The diagnostic could not finish: ${err.message}. Run the command again.`);
  });

  async function busy(job: DiagnosticJob, message: string): Promise<JobOutcome> {
    await answerWithFailure(job, message);
    await history.recordOutcome(job.id, { state: 'failed' }).catch(() => undefined);
    await audit.record(auditEntryForJob(job, { status: 'failed', failure: 'busy' }));
    return { status: 'failed', failure: 'busy' };
  }

  async function answerWithFailure(job: DiagnosticJob, message: string): Promise<void> {
    try {
      await answers.write(job.id, failedOps(job, message, Date.now() - job.enqueuedAt));
      await answers.deliver(job);
    } catch (err) {
      logger.error({ jobId: job.id, err: (err as Error).message }, 'could not answer a failed job');
    }
  }

  return {
    worker,
    problem: () => (worker.isRunning() && !worker.isPaused() ? undefined : 'not taking jobs'),
    async stop(graceMs) {
      const closing = worker.close();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace-over'>((resolve) => {
        timer = setTimeout(() => resolve('grace-over'), graceMs);
      });
      if ((await Promise.race([closing, graceOver])) === 'grace-over') {
        for (const controller of running.values()) controller.abort(new JobHandedBack());
        await closing;
      }
      clearTimeout(timer);
      stopInventory();
      stopHeartbeat();
      // Answers already written keep their place in the delivery queue for any worker.
      await (
        await unsubscribe.catch(() => undefined)
      )?.();
      await deliveryWorker?.close();
      await closeAnswers();
    },
  };
}

/**
 * Keeps the inventory in Redis fresh for the bot's command builder: one worker refreshes it each
 * interval (a lock in Redis), the others skip. Returns the function that stops it.
 */
function refreshInventory(config: Config, kube: KubeClients, redis: Redis, logger: Logger): () => void {
  const { refreshSeconds, maxPods } = config.inventory;
  if (refreshSeconds === 0) return () => undefined;
  const prefix = config.redis.keyPrefix;
  const store = new InventoryStore(redis, prefix, refreshSeconds);
  let warned = false;
  const refresh = async () => {
    try {
      if ((await redis.set(`${store.key(config.cluster.name)}:refreshing`, '1', 'EX', Math.max(1, refreshSeconds - 1), 'NX')) !== 'OK') return;
      await store.write(config.cluster.name, await readInventory(kube.core, maxPods));
      warned = false;
    } catch (err) {
      // Without it the command builder offers no options and nothing else changes: one warning, not one a minute.
      if (!warned) logger.warn({ err: (err as Error).message }, 'could not read the inventory of pods for the command builder');
      warned = true;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), refreshSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Tells the bot, through Redis, that this worker serves its cluster (for `/kdebug clusters`). */
function heartbeat(config: Config, kube: KubeClients, redis: Redis, logger: Logger): () => void {
  const { name, heartbeatSeconds } = config.cluster;
  const registry = new ClusterRegistry(redis, config.redis.keyPrefix, heartbeatSeconds);
  const worker = `${hostname()}-${process.pid}`;
  let version: string | undefined;
  let warned = false;
  const beat = async () => {
    try {
      version ??= await kube.serverVersion();
      await registry.beat(name, worker, version);
      warned = false;
    } catch (err) {
      if (!warned) logger.warn({ err: (err as Error).message }, 'could not report this worker as alive');
      warned = true;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), heartbeatSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
