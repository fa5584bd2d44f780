// A job's answer: written once to its outbox, then posted by the delivery queue. Workers write
// answers of the jobs they run; the bot writes the answer of a job it cancelled before it ran.
import type { Redis } from 'ioredis';
import type { DiagnosticJob } from '../queue/job.js';
import { Outbox, type AnswerOp } from './outbox.js';
import { DeliveryQueue } from './delivery-queue.js';

/** Where a job's answer goes: written once, then posted by the delivery queue. */
export interface AnswerSink {
  /** A file source on disk is read during the call; it may be removed once the call settles. */
  write(jobId: string, ops: AnswerOp[]): Promise<boolean>;
  exists(jobId: string): Promise<boolean>;
  deliver(job: DiagnosticJob): Promise<void>;
}

export interface Answers {
  sink: AnswerSink;
  outbox: Outbox;
  close: () => Promise<void>;
}

export function createAnswers(redis: Redis, prefix: string, keepSeconds: number): Answers {
  const outbox = new Outbox(redis, prefix);
  const deliveries = new DeliveryQueue(redis, prefix, keepSeconds);
  return {
    outbox,
    sink: {
      write: (jobId, ops) => outbox.write(jobId, ops),
      exists: (jobId) => outbox.exists(jobId),
      deliver: (job) => deliveries.enqueue({ jobId: job.id, channel: job.reply.channel, rootTs: job.reply.rootTs }),
    },
    close: () => deliveries.close(),
  };
}
