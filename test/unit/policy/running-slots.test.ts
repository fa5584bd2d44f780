import { RunningSlots } from '../../../src/policy/running-slots.js';
import { suiteRedis } from './helpers.js';

const suite = suiteRedis();

/** RunningSlots with their own key prefix and a clock the test moves. */
function slots(settings: { maxRunning: number; slotTtlSeconds: number }) {
  const clock = { now: Date.now() };
  const prefix = suite.prefix();
  return { slots: new RunningSlots(suite.redis(), prefix, settings, () => clock.now), clock, key: `${prefix}:limits:running` };
}

describe('global concurrency cap', () => {
  test('acquire up to the cap, refuse beyond it, release frees a slot; acquiring twice is idempotent', async () => {
    const { slots: l, key } = slots({ maxRunning: 2, slotTtlSeconds: 600 });
    expect(await l.acquire('job-a')).toEqual({ ok: true, running: 1 });
    expect(await l.acquire('job-b')).toEqual({ ok: true, running: 2 });
    expect(await l.acquire('job-a')).toEqual({ ok: true, running: 2 }); // a retried job keeps its slot
    expect(await l.acquire('job-c')).toEqual({ ok: false, running: 2, max: 2, retryAfterSeconds: 600 });
    await l.release('job-a');
    expect(await suite.redis().zcard(key)).toBe(1);
    expect(await l.acquire('job-c')).toEqual({ ok: true, running: 2 });
  });

  test("a slot that is never released expires after its TTL (a crashed worker can't leak it)", async () => {
    const { slots: l, clock } = slots({ maxRunning: 1, slotTtlSeconds: 600 });
    const start = clock.now;
    expect((await l.acquire('crashed', 90)).ok).toBe(true);
    clock.now = start + 30_000;
    expect(await l.acquire('next')).toEqual({ ok: false, running: 1, max: 1, retryAfterSeconds: 60 });
    clock.now = start + 90_001;
    expect(await l.acquire('next')).toEqual({ ok: true, running: 1 });
  });

  test('with the real clock, Redis-side expiry works too', async () => {
    const prefix = suite.prefix();
    const l = new RunningSlots(suite.redis(), prefix, { maxRunning: 1, slotTtlSeconds: 10 });
    expect((await l.acquire('a', 1)).ok).toBe(true);
    expect((await l.acquire('b', 1)).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await l.acquire('b', 1)).ok).toBe(true);
    expect(await suite.redis().pttl(`${prefix}:limits:running`)).toBeGreaterThan(0);
  });

  test('parallel acquires never exceed the cap', async () => {
    const { slots: l, key } = slots({ maxRunning: 3, slotTtlSeconds: 600 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => l.acquire(`job-${i}`)));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(await suite.redis().zcard(key)).toBe(3);
  });
});

describe('handing a freed slot to the job that waited longest', () => {
  test('release returns the longest-waiting job, once; a job that got a slot stops waiting', async () => {
    const { slots: l } = slots({ maxRunning: 1, slotTtlSeconds: 600 });
    expect((await l.acquire('running')).ok).toBe(true);
    expect(await l.hasFree()).toBe(false);
    await l.wait('late', 2000);
    await l.wait('early', 1000);
    await l.wait('early', 3000); // waiting again keeps its first place
    expect(await l.release('running')).toBe('early');
    expect(await l.hasFree()).toBe(true);
    expect((await l.acquire('early')).ok).toBe(true);
    // `late` is next; a job that acquires meanwhile leaves the waiting list.
    await l.wait('other', 500);
    expect((await l.acquire('other')).ok).toBe(false);
    expect(await l.release('early')).toBe('other');
    expect(await l.release('nobody-left')).toBe('late');
    expect(await l.release('empty')).toBeUndefined();
  });
});
