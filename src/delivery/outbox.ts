// The outbox: everything a finished job has to say in Slack, kept in Redis until it is posted.
// Running a diagnostic and posting its result are separate steps: when Slack is down or rate
// limiting, the finding waits here and posting is retried; the diagnostic is never run again.
import type { KnownBlock } from '@slack/types';
import type { Redis } from 'ioredis';

export type OutboxOp =
  | { kind: 'reply'; text: string; blocks: KnownBlock[] }
  | { kind: 'file'; filename: string; title: string; contentBase64: string }
  | { kind: 'root'; text: string; blocks: KnownBlock[] };

export interface PendingOp {
  seq: number;
  op: OutboxOp;
}

// Writes the whole outbox at most once, atomically: a retried job never appends a second answer.
const WRITE_ONCE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

export class Outbox {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 7 * 86400,
  ) {}

  private key(jobId: string, part = ''): string {
    return `${this.prefix}:outbox:${jobId}${part}`;
  }

  /** False when the job's outbox was already written (by an earlier attempt). */
  async write(jobId: string, ops: OutboxOp[]): Promise<boolean> {
    const written = await this.redis.eval(WRITE_ONCE, 1, this.key(jobId), String(this.ttlSeconds), ...ops.map((op) => JSON.stringify(op)));
    return written === 1;
  }

  async exists(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(jobId))) === 1;
  }

  /** The operations not yet confirmed as posted, in order. */
  async pending(jobId: string): Promise<PendingOp[]> {
    const [all, sent] = await Promise.all([this.redis.lrange(this.key(jobId), 0, -1), this.redis.get(this.key(jobId, ':sent'))]);
    const from = Number(sent ?? 0);
    return all.slice(from).map((raw, i) => ({ seq: from + i, op: JSON.parse(raw) as OutboxOp }));
  }

  /** Set before posting: if the process dies mid-call, the next attempt knows to check Slack first. */
  async begin(jobId: string, seq: number): Promise<void> {
    await this.redis.set(this.key(jobId, ':inflight'), String(seq), 'EX', this.ttlSeconds);
  }

  async inflight(jobId: string): Promise<number | undefined> {
    const value = await this.redis.get(this.key(jobId, ':inflight'));
    return value === null ? undefined : Number(value);
  }

  async done(jobId: string, seq: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.key(jobId, ':sent'), String(seq + 1), 'EX', this.ttlSeconds)
      .del(this.key(jobId, ':inflight'))
      .exec();
  }
}
