// The global cap on running diagnostics, kept in Redis and shared by every worker: a job holds a
// slot while it runs, and a slot frees itself after a TTL, so a crashed worker can't leak it.
//
// Not BullMQ's Queue.setGlobalConcurrency: past that cap BullMQ leaves jobs in the wait list and
// hands them to no worker, so kdebug could neither keep the deadline (a job that waited too long is
// answered "kdebug is busy … waited past its deadline") nor answer at all until a slot frees. Here
// the worker holds the job, sees the cap, and delays it or answers it (src/worker/worker.ts).
import type { Redis } from 'ioredis';
import type { LimitSettings } from '../config/schema.js';

export type SlotResult = { ok: true; running: number } | { ok: false; running: number; max: number; retryAfterSeconds: number };

// KEYS[1] zset jobId → slot expiry, KEYS[2] zset of jobs waiting for a slot. ARGV: now, ttlMs, max,
// jobId. → {acquired, running, soonestExpiryMs}
const ACQUIRE_SCRIPT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local running = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or running < max then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
  local expiry = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], tonumber(expiry[2]))
  redis.call('ZREM', KEYS[2], ARGV[4])
  return {1, redis.call('ZCARD', KEYS[1]), 0}
end
local soonest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, running, tonumber(soonest[2]) - now}
`;

// KEYS[1] zset jobId → slot expiry, KEYS[2] zset of waiting jobs by when they were queued. ARGV:
// jobId. Frees the job's slot and hands it to the longest-waiting job: → that job's id, or false.
const RELEASE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local next = redis.call('ZPOPMIN', KEYS[2])
if next[1] then return next[1] end
return false
`;

export class RunningSlots {
  private readonly key: string;
  private readonly waitingKey: string;

  /** @param now times come from here, so all processes need synced clocks */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly settings: LimitSettings['concurrency'],
    private readonly now: () => number = Date.now,
  ) {
    this.key = `${prefix}:limits:running`;
    this.waitingKey = `${prefix}:limits:waiting`;
  }

  /**
   * Take one of the running-job slots for this job (again: idempotent, and renews it). The slot
   * frees itself after ttlSeconds unless released, so size it to the job's deadline plus a
   * margin, e.g. job.timeoutSeconds + 60.
   */
  async acquire(jobId: string, ttlSeconds: number = this.settings.slotTtlSeconds): Promise<SlotResult> {
    const max = this.settings.maxRunning;
    const [acquired, running, soonestMs] = (await this.redis.eval(ACQUIRE_SCRIPT, 2, this.key, this.waitingKey, this.now(), ttlSeconds * 1000, max, jobId)) as [
      number,
      number,
      number,
    ];
    if (acquired === 1) return { ok: true, running };
    return { ok: false, running, max, retryAfterSeconds: Math.max(1, Math.ceil(soonestMs / 1000)) };
  }

  /** The job waits in the queue for a slot; `since` (when it was queued) orders the waiters. */
  async wait(jobId: string, since: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.waitingKey, 'NX', since, jobId)
      .pexpire(this.waitingKey, this.settings.slotTtlSeconds * 1000)
      .exec();
  }

  /** Whether a job asking now would get a slot. */
  async hasFree(): Promise<boolean> {
    const [, running] = (await this.redis.multi().zremrangebyscore(this.key, '-inf', this.now()).zcard(this.key).exec()) ?? [];
    return typeof running?.[1] === 'number' && running[1] < this.settings.maxRunning;
  }

  /**
   * Free the job's slot (and its place among the waiters). Returns the job that waited longest,
   * taken off the waiting list, so the caller can start it now rather than at its next retry.
   */
  async release(jobId: string): Promise<string | undefined> {
    const next = (await this.redis.eval(RELEASE_SCRIPT, 2, this.key, this.waitingKey, jobId)) as string | null;
    return next ?? undefined;
  }
}
