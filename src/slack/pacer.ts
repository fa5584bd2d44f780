// One pacing budget per Slack method and channel (or workspace, for methods Slack limits per
// workspace), shared by every bot and worker process through Redis, so kdebug stays below Slack's
// rate limits instead of discovering them by 429. Each budget is a token bucket kept as GCRA in
// one Redis key: a call either reserves the next free slot and waits for it (answers: every one
// gets its turn, in the order they asked), or takes a slot only if one is free now (progress
// updates: dropped otherwise, never delaying an answer).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

export interface PaceLimit {
  perMinute: number;
  /** Calls allowed at once before the steady rate applies. */
  burst: number;
  per: 'channel' | 'workspace';
}

/**
 * A little below Slack's limits (https://api.slack.com/apis/rate-limits), so that network jitter
 * between processes never pushes two calls closer together than Slack allows.
 */
export const SLACK_PACE: Readonly<Record<string, PaceLimit>> = {
  // "1 message per second per channel", with short bursts.
  'chat.postMessage': { perMinute: 60, burst: 3, per: 'channel' },
  // Tier 3: 50+ a minute.
  'chat.update': { perMinute: 45, burst: 15, per: 'workspace' },
  'conversations.replies': { perMinute: 45, burst: 15, per: 'workspace' },
  // Tier 2: 20+ a minute (an upload is one files.getUploadURLExternal and one files.completeUploadExternal).
  'files.uploadV2': { perMinute: 18, burst: 5, per: 'workspace' },
  'usergroups.users.list': { perMinute: 18, burst: 5, per: 'workspace' },
  // Tier 4: 100+ a minute (the Home tab, the command builder).
  'views.publish': { perMinute: 90, burst: 20, per: 'workspace' },
  'views.open': { perMinute: 90, burst: 20, per: 'workspace' },
  'views.update': { perMinute: 90, burst: 20, per: 'workspace' },
};

// KEYS[1]: the budget's key. ARGV: milliseconds per call, burst, 'wait' or 'try'.
// Returns the milliseconds until the reserved slot (0: now), or -1 for 'try' with no slot free now.
// Redis's clock is the one clock every process shares.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * interval
if wait < 0 then wait = 0 end
if ARGV[3] == 'try' and wait > 0 then return -1 end
tat = tat + interval
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
return wait`;

export class SlackPacer {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: Readonly<Record<string, PaceLimit>> = SLACK_PACE,
  ) {}

  private async reserve(method: string, channel: string | undefined, mode: 'wait' | 'try'): Promise<number> {
    const limit = this.limits[method];
    if (!limit) return 0;
    const key = `${this.prefix}:slack-pace:${method}${limit.per === 'channel' ? `:${channel ?? ''}` : ''}`;
    return Number(await this.redis.eval(TAKE, 1, key, String(60_000 / limit.perMinute), String(limit.burst), mode));
  }

  /** Reserves this call's turn in its method's budget: resolves to the milliseconds until it comes (0: now). */
  async reserveTurn(method: string, channel?: string): Promise<number> {
    return this.reserve(method, channel, 'wait');
  }

  /** Waits for this call's turn in its method's budget. */
  async take(method: string, channel?: string): Promise<void> {
    const wait = await this.reserveTurn(method, channel);
    if (wait > 0) await sleep(wait);
  }

  /** Takes a slot only if one is free now (for calls that may be dropped). */
  async tryTake(method: string, channel?: string): Promise<boolean> {
    return (await this.reserve(method, channel, 'try')) >= 0;
  }
}

/** Slack's Retry-After (seconds) on a rate-limited call made with rejectRateLimitedCalls, else undefined. */
export function retryAfterOf(err: unknown): number | undefined {
  const retryAfter = (err as { retryAfter?: unknown } | undefined)?.retryAfter;
  return typeof retryAfter === 'number' && retryAfter >= 0 ? retryAfter : undefined;
}

/**
 * One Slack call in its turn; a 429 that still happens is retried, for this call only, after its
 * Retry-After (up to `retries` times). Other failures are the caller's.
 */
export async function paced<T>(pacer: SlackPacer | undefined, method: string, channel: string | undefined, call: () => Promise<T>, retries = 3): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    await pacer?.take(method, channel);
    try {
      return await call();
    } catch (err) {
      const retryAfter = retryAfterOf(err);
      if (retryAfter === undefined || attempt >= retries) throw err;
      await sleep(retryAfter * 1000);
    }
  }
}
