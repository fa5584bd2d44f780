// Slack's published Web API rate limits, as token buckets: each method has a steady rate and a
// short burst, counted per channel (chat.postMessage: about one message per second per channel)
// or per workspace (the tiers: https://api.slack.com/apis/rate-limits). A call over the limit is
// answered 429 with Retry-After, as Slack does.

export interface MethodLimit {
  /** Steady rate. */
  perMinute: number;
  /** Calls allowed at once before the steady rate applies. */
  burst: number;
  /** What the budget is counted by: the `channel` argument, or the whole workspace. */
  per: 'channel' | 'workspace';
}

const tier = (perMinute: number, burst: number): MethodLimit => ({ perMinute, burst, per: 'workspace' });
const TIER_1 = tier(1, 1);
const TIER_2 = tier(20, 10);
const TIER_3 = tier(50, 20);
const TIER_4 = tier(100, 40);

/** The limits the emulator enforces unless told otherwise. */
export const SLACK_RATE_LIMITS: Readonly<Record<string, MethodLimit>> = {
  'chat.postMessage': { perMinute: 60, burst: 4, per: 'channel' },
  'chat.update': TIER_3,
  'chat.delete': TIER_3,
  'chat.postEphemeral': TIER_4,
  'conversations.replies': TIER_3,
  'conversations.info': TIER_3,
  'files.getUploadURLExternal': TIER_2,
  'files.completeUploadExternal': TIER_2,
  'usergroups.users.list': TIER_2,
  'auth.test': TIER_4,
  'views.open': TIER_4,
  'views.update': TIER_4,
  'views.push': TIER_4,
  'views.publish': TIER_4,
  // Tier 1; a few at once so that a Socket Mode client can reconnect after a `disconnect`.
  'apps.connections.open': { ...TIER_1, burst: 5 },
};

/** Per-method overrides (merged over SLACK_RATE_LIMITS; `false` lifts one method's limit), or false for none. */
export type RateLimitOptions = false | Record<string, MethodLimit | false>;

export class RateLimiter {
  private readonly limits: Record<string, MethodLimit | false>;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** 429s this limiter answered (injected faults not included), by method. */
  readonly limited = new Map<string, number>();

  constructor(
    options: RateLimitOptions | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.limits = options === false ? {} : { ...SLACK_RATE_LIMITS, ...options };
  }

  /** Takes a token for one call; undefined when allowed, else the seconds to wait (Retry-After). */
  take(method: string, channel: string | undefined): number | undefined {
    const limit = this.limits[method];
    if (!limit) return undefined;
    const key = limit.per === 'channel' ? `${method}:${channel ?? ''}` : method;
    const perMs = limit.perMinute / 60_000;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    this.limited.set(method, (this.limited.get(method) ?? 0) + 1);
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
  }

  /** Every bucket full again (between tests). */
  reset(): void {
    this.buckets.clear();
    this.limited.clear();
  }

  get total(): number {
    return [...this.limited.values()].reduce((a, b) => a + b, 0);
  }
}
