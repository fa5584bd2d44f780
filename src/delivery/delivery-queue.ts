// The delivery queue: one BullMQ job per diagnostic job, posting its outbox. Retries back off
// exponentially, or by exactly Slack's Retry-After when Slack rate-limits us.
import { DelayedError, Queue, Worker } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createRedis } from '../queue/redis.js';
import type { SlackPacer } from '../slack/pacer.js';
import { JobThread } from '../slack/web.js';
import { postOutbox, TurnLater, type HeldTurn } from './post-outbox.js';
import { finalizeProgress } from './progress-relay.js';
import type { Outbox } from './outbox.js';

export const DELIVERY_QUEUE = 'deliveries';
const BACKOFF = 'slack';

export interface DeliveryData {
  jobId: string;
  channel: string;
  rootTs: string;
  /** Set when the delivery was put off until an operation's turn in Slack's budget (see TurnLater). */
  turn?: HeldTurn;
  /** When it was first taken (epoch ms), for the post step of kdebug_answer_step_seconds. */
  takenAt?: number;
}

/** Milliseconds before the next attempt: Slack's Retry-After when it sent one, else 1 s, 2 s, 4 s … 60 s. */
export function deliveryBackoff(attemptsMade: number, err?: Error): number {
  const retryAfter = (err as { retryAfter?: number } | undefined)?.retryAfter;
  if (typeof retryAfter === 'number' && retryAfter >= 0) return retryAfter * 1000;
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attemptsMade - 1));
}

export class DeliveryQueue {
  readonly queue: Queue<DeliveryData>;

  constructor(redis: Redis, prefix: string, keepSeconds: number) {
    this.queue = new Queue<DeliveryData>(DELIVERY_QUEUE, {
      connection: redis,
      prefix,
      defaultJobOptions: {
        // About an hour of retries: long enough to ride out a Slack incident.
        attempts: 60,
        backoff: { type: BACKOFF },
        removeOnComplete: { age: keepSeconds },
        removeOnFail: { age: keepSeconds },
      },
    });
  }

  /** Idempotent: the diagnostic job's id is the delivery's id. */
  async enqueue(data: DeliveryData): Promise<void> {
    await this.queue.add('deliver', data, { jobId: data.jobId });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface DeliveryWorkerDeps {
  redisUrl: string;
  /** For the final-status handshake with relayed progress. */
  redis: Redis;
  prefix: string;
  outbox: Outbox;
  slack: WebClient;
  logger: Logger;
  metrics: Metrics;
  /** Each call waits for its turn in its method's budget, shared with every other process. */
  pacer?: SlackPacer;
}

/** Deliveries one worker process runs at once. */
const DELIVERY_CONCURRENCY = 50;

/**
 * The longest a delivery waits for a turn in Slack's budget while it holds one of those 50. Past
 * it, the delivery keeps its turn and comes back for it. chat.update allows 50 a minute per
 * workspace: in an incident, the final statuses of a hundred jobs take two minutes, and deliveries
 * that waited for them in their slots left new answers (whose turns, per channel, were free) queued
 * behind them for as long.
 */
const MAX_TURN_WAIT_MS = 1000;

export function startDeliveryWorker({ redisUrl, redis, prefix, outbox, slack, logger, metrics, pacer }: DeliveryWorkerDeps): Worker<DeliveryData> {
  const worker = new Worker<DeliveryData>(
    DELIVERY_QUEUE,
    async (job, token) => {
      const { jobId, channel, rootTs, turn } = job.data;
      const takenAt = job.data.takenAt ?? Date.now();
      // A retry's wait is its backoff, and a delivery put off waited for its turn, not the queue.
      if (job.attemptsMade === 0 && !turn) metrics.answerSteps.observe({ step: 'pickup' }, Math.max(0, takenAt - job.timestamp) / 1000);
      let posted: number;
      try {
        posted = await postOutbox(jobId, outbox, new JobThread(slack, channel, rootTs, metrics, pacer), {
          beforeFinalStatus: () => finalizeProgress(redis, prefix, jobId),
          onFirstReply: () => metrics.answerSteps.observe({ step: 'post' }, Math.max(0, Date.now() - takenAt) / 1000),
          ...(turn ? { held: turn } : {}),
          maxWaitMs: MAX_TURN_WAIT_MS,
        });
      } catch (err) {
        if (!(err instanceof TurnLater) || !token) throw err;
        await job.updateData({ ...job.data, turn: err.turn, takenAt });
        await job.moveToDelayed(err.turn.at, token);
        throw new DelayedError();
      }
      logger.info({ jobId, posted, attempt: job.attemptsMade + 1 }, 'results delivered');
    },
    {
      connection: createRedis(redisUrl),
      prefix,
      // A delivery posts one job's outbox, in order. Several jobs' deliveries run at once, so a reply
      // never waits behind another job's root update (chat.update's budget is per workspace, the
      // reply's per channel); the pacer keeps them all within Slack's limits, first come first served.
      concurrency: DELIVERY_CONCURRENCY,
      settings: { backoffStrategy: (attemptsMade, _type, err) => deliveryBackoff(attemptsMade, err) },
    },
  );
  worker.on('failed', (job, err) => {
    const retryAfter = (err as { retryAfter?: number }).retryAfter;
    logger.warn({ jobId: job?.data.jobId, attempt: job?.attemptsMade, err: err.message, retryAfter }, 'delivery failed; will retry');
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'delivery worker error'));
  return worker;
}
