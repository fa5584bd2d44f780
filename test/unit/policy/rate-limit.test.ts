import { RateLimiter } from '../../../src/policy/rate-limit.js';
import type { RateLimit } from '../../../src/config/schema.js';
import { suiteRedis } from './helpers.js';

const suite = suiteRedis();

/** A RateLimiter with its own key prefix and a clock the test moves. */
function limiter(rate: RateLimit) {
  const clock = { now: Date.now() };
  const prefix = suite.prefix();
  return { limiter: new RateLimiter(suite.redis(), prefix, rate, () => clock.now), clock, prefix };
}

describe('per-user rate limit', () => {
  test('N requests per window, then a refusal saying when to try again; the window slides', async () => {
    const { limiter: l, clock } = limiter({ requests: 3, windowSeconds: 60 });
    const start = clock.now;
    expect(await l.hit('T1', 'U1')).toEqual({ ok: true, remaining: 2 });
    clock.now = start + 10_000;
    expect(await l.hit('T1', 'U1')).toEqual({ ok: true, remaining: 1 });
    clock.now = start + 20_000;
    expect(await l.hit('T1', 'U1')).toEqual({ ok: true, remaining: 0 });
    clock.now = start + 30_500;
    // The first request leaves the window at start + 60 s: 29.5 s from now, rounded up.
    expect(await l.hit('T1', 'U1')).toEqual({ ok: false, retryAfterSeconds: 30, limit: { requests: 3, windowSeconds: 60 } });
    // Refused requests don't count: once the first one leaves, exactly one more is allowed.
    clock.now = start + 60_001;
    expect(await l.hit('T1', 'U1')).toEqual({ ok: true, remaining: 0 });
    expect(await l.hit('T1', 'U1')).toMatchObject({ ok: false, retryAfterSeconds: 10 });
  });

  test('users are counted separately, and a rule can set its own rate', async () => {
    const { limiter: l } = limiter({ requests: 1, windowSeconds: 60 });
    expect((await l.hit('T1', 'U1')).ok).toBe(true);
    expect((await l.hit('T1', 'U1')).ok).toBe(false);
    expect((await l.hit('T1', 'U2')).ok).toBe(true);
    expect((await l.hit('T2', 'U1')).ok).toBe(true); // another workspace, another user
    expect(await l.hit('T1', 'U3', { requests: 5, windowSeconds: 10 })).toEqual({ ok: true, remaining: 4 });
  });

  test('keys live under the prefix and expire with the window', async () => {
    const { limiter: l, prefix } = limiter({ requests: 2, windowSeconds: 30 });
    await l.hit('T1', 'U1');
    const keys = await suite.redis().keys(`${prefix}:*`);
    expect(keys).toEqual([`${prefix}:limits:rate:T1:U1`]);
    const ttl = await suite.redis().pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  test('parallel requests never get past the limit', async () => {
    const { limiter: l } = limiter({ requests: 5, windowSeconds: 60 });
    const results = await Promise.all(Array.from({ length: 20 }, () => l.hit('T1', 'U1')));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
  });
});
