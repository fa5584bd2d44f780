// The producer side: claims a Slack command once (Slack may deliver it again) and enqueues its job.
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_CLUSTER, diagnosticJobSchema, queueNameFor, type DiagnosticJob } from './job.js';

export class DiagnosticQueue {
  private readonly queue: Queue;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    keepCompletedSeconds: number,
    cluster: string = DEFAULT_CLUSTER,
  ) {
    this.queue = new Queue(queueNameFor(cluster), {
      connection: redis,
      prefix,
      defaultJobOptions: {
        // One attempt: a job adds a container to a production pod, so it is never blindly re-run.
        attempts: 1,
        removeOnComplete: { age: keepCompletedSeconds },
        removeOnFail: { age: keepCompletedSeconds },
      },
    });
  }

  /**
   * Record that this command was seen. False when it was already claimed: a retry of the same
   * Slack command, which must not post a second root message or add a second job.
   */
  async claimCommand(jobId: string, ttlSeconds = 86400): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:command:${jobId}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }

  /** Forget a claim whose command did not go ahead (for example, the bot is not in the channel). */
  async releaseCommand(jobId: string): Promise<void> {
    await this.redis.del(`${this.prefix}:command:${jobId}`);
  }

  async enqueue(job: DiagnosticJob): Promise<void> {
    const valid = diagnosticJobSchema.parse(job);
    // The job id doubles as BullMQ's deduplication key: adding it twice keeps one job.
    await this.queue.add(valid.check, valid, { jobId: valid.id });
  }

  /** The queued, running or recently finished job with this id (finished ones are kept keepCompletedSeconds). */
  async job(jobId: string): Promise<Job | undefined> {
    return (await this.queue.getJob(jobId)) ?? undefined;
  }

  /** Start a delayed job now (one that waited for a free slot). False when it is not delayed (any more). */
  async startNow(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || !(await job.isDelayed())) return false;
    return job.promote().then(
      () => true,
      () => false, // promoted or taken by another worker meanwhile
    );
  }

  /** Jobs by state (waiting, active, delayed, …), for metrics. */
  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
