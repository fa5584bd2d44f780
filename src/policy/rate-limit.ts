// The per-user rate limit, kept in Redis and shared by every bot process: a sliding window of
// request times per user. One Lua script checks and counts, so concurrent bots can't race past it.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateLimit } from '../config/schema.js';

export type RateResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number; limit: RateLimit };

// KEYS[1] zset of request times. ARGV: now, windowMs, limit, member. → {allowed, remaining | retryAfterMs}
const RATE_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
`;

export class RateLimiter {
  /**
   * @param defaultRate the rate when the policy's rule and defaults set none (settings limits.rate)
   * @param now times come from here, so all processes need synced clocks
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly defaultRate: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Count one request by this user against the rate (the policy's, else the default). A request
   * over the limit is not counted, and the answer says when the oldest counted one leaves the window.
   */
  async hit(teamId: string, userId: string, rate: RateLimit = this.defaultRate): Promise<RateResult> {
    const member = `${this.now()}-${randomBytes(6).toString('hex')}`;
    const [allowed, value] = (await this.redis.eval(
      RATE_SCRIPT,
      1,
      `${this.prefix}:limits:rate:${teamId}:${userId}`,
      this.now(),
      rate.windowSeconds * 1000,
      rate.requests,
      member,
    )) as [number, number];
    if (allowed === 1) return { ok: true, remaining: value };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(value / 1000)), limit: rate };
  }
}
