// The worker role: takes diagnostic jobs off the queue and runs them.
import { Worker } from 'bullmq';
import type { WebClient } from '@slack/web-api';
import type { CheckDefinition } from '../checks/types.js';
import type { Config } from '../config/schema.js';
import type { KubeClients } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import { QUEUE_NAME, validateJob } from '../queue/job.js';
import { createRedis } from '../queue/redis.js';
import { JobThread } from '../slack/web.js';
import { runJob, type JobOutcome } from './run-job.js';

export interface WorkerDeps {
  config: Config;
  checks: ReadonlyMap<string, CheckDefinition<any>>;
  kube: KubeClients;
  slack: WebClient;
  logger: Logger;
}

export function startWorker({ config, checks, kube, slack, logger }: WorkerDeps): Worker {
  const worker = new Worker<unknown, JobOutcome>(
    QUEUE_NAME,
    async (bullJob) => {
      const validated = validateJob(bullJob.data, checks);
      if (!validated.ok) {
        // Validated again here: Redis is shared, and a job from another version or a bad actor
        // must never reach a cluster. It fails without a retry.
        logger.error({ bullJobId: bullJob.id, reason: validated.reason }, 'rejected invalid job');
        throw new Error(`invalid job: ${validated.reason}`);
      }
      const { job, check, args } = validated;
      return runJob(job, check, args, {
        kube,
        thread: new JobThread(slack, job.reply.channel, job.reply.rootTs),
        settings: {
          image: config.kubernetes.debugImage,
          imagePullPolicy: config.kubernetes.imagePullPolicy,
          maxLogBytes: config.kubernetes.maxLogBytes,
          maxInlineOutputChars: config.replies.maxInlineOutputChars,
          checks: config.checks,
        },
        logger,
      });
    },
    { connection: createRedis(config.redis.url), prefix: config.redis.keyPrefix, concurrency: config.queue.concurrency, autorun: true },
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) => logger.warn({ bullJobId: job?.id, err: err.message }, 'job failed'));
  return worker;
}
