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

// KEYS[1] zset jobId → slot expiry. ARGV: now, ttlMs, max, jobId. → {acquired, running, soonestExpiryMs}
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
  return {1, redis.call('ZCARD', KEYS[1]), 0}
end
local soonest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, running, tonumber(soonest[2]) - now}
`;

export class RunningSlots {
  private readonly key: string;

  /** @param now times come from here, so all processes need synced clocks */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly settings: LimitSettings['concurrency'],
    private readonly now: () => number = Date.now,
  ) {
    this.key = `${prefix}:limits:running`;
  }

  /**
   * Take one of the running-job slots for this job (again: idempotent, and renews it). The slot
   * frees itself after ttlSeconds unless released, so size it to the job's deadline plus a
   * margin, e.g. job.timeoutSeconds + 60.
   */
  async acquire(jobId: string, ttlSeconds: number = this.settings.slotTtlSeconds): Promise<SlotResult> {
    const max = this.settings.maxRunning;
    const [acquired, running, soonestMs] = (await this.redis.eval(ACQUIRE_SCRIPT, 1, this.key, this.now(), ttlSeconds * 1000, max, jobId)) as [number, number, number];
    if (acquired === 1) return { ok: true, running };
    return { ok: false, running, max, retryAfterSeconds: Math.max(1, Math.ceil(soonestMs / 1000)) };
  }

  async release(jobId: string): Promise<void> {
    await this.redis.zrem(this.key, jobId);
  }
}
