// Cancellation of a job on whichever replica runs it: a flag in Redis (read when a job starts) and
// a pub/sub message (for the worker running it now). Bots and workers share nothing else.
import type { Redis } from 'ioredis';

export class Cancellations {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(jobId: string): string {
    return `${this.prefix}:cancel:${jobId}`;
  }

  private get channel(): string {
    return `${this.prefix}:cancellations`;
  }

  /** Record who cancelled the job and tell every worker. */
  async request(jobId: string, userId: string): Promise<void> {
    await this.redis.set(this.key(jobId), userId, 'EX', 7 * 86400);
    await this.redis.publish(this.channel, JSON.stringify({ jobId, userId }));
  }

  /** Who cancelled the job, if anyone did. */
  async cancelledBy(jobId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(jobId))) ?? undefined;
  }

  /** Calls `onCancel` for every cancellation from now on. The subscriber needs its own connection. */
  async subscribe(onCancel: (jobId: string, userId: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.redis.duplicate();
    subscriber.on('error', () => undefined); // reconnects by itself; readiness reports Redis state
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { jobId, userId } = JSON.parse(message) as { jobId: string; userId: string };
        onCancel(jobId, userId);
      } catch {
        // Not ours: ignore.
      }
    });
    await subscriber.subscribe(this.channel);
    return async () => {
      subscriber.disconnect();
    };
  }
}
