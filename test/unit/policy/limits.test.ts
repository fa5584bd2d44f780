import { Redis } from 'ioredis';
import {
  DEFAULT_LIMIT_SETTINGS,
  dedupeKey,
  kdebugContainerNames,
  limitSettingsSchema,
  Limits,
  podBudgetDecision,
  type DedupeSubject,
  type LimitSettings,
} from '../../../src/policy/limits.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

let server: TestRedis;
let redis: Redis;
let run = 0;

beforeAll(async () => {
  server = await testRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** A Limits with its own key prefix (under the run's prefix) and a clock the test moves. */
function limits(overrides: Partial<LimitSettings> = {}) {
  const clock = { now: Date.now() };
  const prefix = `${server.prefix}:t${++run}`;
  const l = new Limits(redis, prefix, { ...DEFAULT_LIMIT_SETTINGS, ...overrides }, () => clock.now);
  return { limits: l, clock, prefix };
}

describe('per-user rate limit', () => {
  test('N requests per window, then a refusal saying when to try again; the window slides', async () => {
    const { limits: l, clock } = limits({ rate: { requests: 3, windowSeconds: 60 } });
    const start = clock.now;
    expect(await l.hitRate('T1', 'U1')).toEqual({ ok: true, remaining: 2 });
    clock.now = start + 10_000;
    expect(await l.hitRate('T1', 'U1')).toEqual({ ok: true, remaining: 1 });
    clock.now = start + 20_000;
    expect(await l.hitRate('T1', 'U1')).toEqual({ ok: true, remaining: 0 });
    clock.now = start + 30_500;
    // The first request leaves the window at start + 60 s: 29.5 s from now, rounded up.
    expect(await l.hitRate('T1', 'U1')).toEqual({ ok: false, retryAfterSeconds: 30, limit: { requests: 3, windowSeconds: 60 } });
    // Refused requests don't count: once the first one leaves, exactly one more is allowed.
    clock.now = start + 60_001;
    expect(await l.hitRate('T1', 'U1')).toEqual({ ok: true, remaining: 0 });
    expect(await l.hitRate('T1', 'U1')).toMatchObject({ ok: false, retryAfterSeconds: 10 });
  });

  test('users are counted separately, and a rule can set its own rate', async () => {
    const { limits: l } = limits({ rate: { requests: 1, windowSeconds: 60 } });
    expect((await l.hitRate('T1', 'U1')).ok).toBe(true);
    expect((await l.hitRate('T1', 'U1')).ok).toBe(false);
    expect((await l.hitRate('T1', 'U2')).ok).toBe(true);
    expect((await l.hitRate('T2', 'U1')).ok).toBe(true); // another workspace, another user
    expect(await l.hitRate('T1', 'U3', { requests: 5, windowSeconds: 10 })).toEqual({ ok: true, remaining: 4 });
  });

  test('keys live under the prefix and expire with the window', async () => {
    const { limits: l, prefix } = limits({ rate: { requests: 2, windowSeconds: 30 } });
    await l.hitRate('T1', 'U1');
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys).toEqual([`${prefix}:limits:rate:T1:U1`]);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  test('parallel requests never get past the limit', async () => {
    const { limits: l } = limits({ rate: { requests: 5, windowSeconds: 60 } });
    const results = await Promise.all(Array.from({ length: 20 }, () => l.hitRate('T1', 'U1')));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
  });
});

describe('global concurrency cap', () => {
  test('acquire up to the cap, refuse beyond it, release frees a slot; acquiring twice is idempotent', async () => {
    const { limits: l } = limits({ concurrency: { maxRunning: 2, slotTtlSeconds: 600 } });
    expect(await l.acquireSlot('job-a')).toEqual({ ok: true, running: 1 });
    expect(await l.acquireSlot('job-b')).toEqual({ ok: true, running: 2 });
    expect(await l.acquireSlot('job-a')).toEqual({ ok: true, running: 2 }); // a retried job keeps its slot
    expect(await l.acquireSlot('job-c')).toEqual({ ok: false, running: 2, max: 2, retryAfterSeconds: 600 });
    await l.releaseSlot('job-a');
    expect(await l.running()).toBe(1);
    expect(await l.acquireSlot('job-c')).toEqual({ ok: true, running: 2 });
  });

  test('a slot that is never released expires after its TTL (a crashed worker can\'t leak it)', async () => {
    const { limits: l, clock } = limits({ concurrency: { maxRunning: 1, slotTtlSeconds: 600 } });
    const start = clock.now;
    expect((await l.acquireSlot('crashed', 90)).ok).toBe(true);
    clock.now = start + 30_000;
    expect(await l.acquireSlot('next')).toEqual({ ok: false, running: 1, max: 1, retryAfterSeconds: 60 });
    clock.now = start + 90_001;
    expect(await l.acquireSlot('next')).toEqual({ ok: true, running: 1 });
  });

  test('renewing keeps a long job\'s slot; renewing an expired slot says so', async () => {
    const { limits: l, clock } = limits({ concurrency: { maxRunning: 1, slotTtlSeconds: 600 } });
    const start = clock.now;
    await l.acquireSlot('long', 60);
    clock.now = start + 50_000;
    expect(await l.renewSlot('long', 60)).toBe(true);
    clock.now = start + 100_000;
    expect((await l.acquireSlot('other')).ok).toBe(false);
    clock.now = start + 200_000;
    expect(await l.renewSlot('long', 60)).toBe(false);
    expect((await l.acquireSlot('other')).ok).toBe(true);
  });

  test('with the real clock, Redis-side expiry works too', async () => {
    const l = new Limits(redis, `${server.prefix}:real`, { ...DEFAULT_LIMIT_SETTINGS, concurrency: { maxRunning: 1, slotTtlSeconds: 10 } });
    expect((await l.acquireSlot('a', 1)).ok).toBe(true);
    expect((await l.acquireSlot('b', 1)).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await l.acquireSlot('b', 1)).ok).toBe(true);
    expect(await redis.pttl(`${server.prefix}:real:limits:running`)).toBeGreaterThan(0);
  });

  test('parallel acquires never exceed the cap', async () => {
    const { limits: l } = limits({ concurrency: { maxRunning: 3, slotTtlSeconds: 600 } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => l.acquireSlot(`job-${i}`)));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(await l.running()).toBe(3);
  });
});

describe('per-pod ephemeral container budget', () => {
  const budget = { maxContainers: 3, overrideMaxContainers: 5, reservationTtlSeconds: 600 };
  const pod = (names: string[]) => ({ spec: { ephemeralContainers: names.map((name) => ({ name })) } });

  test('counts only kdebug containers from the pod spec', () => {
    expect(kdebugContainerNames(pod(['kdebug-a', 'debugger-xyz', 'kdebug-b']))).toEqual(['kdebug-a', 'kdebug-b']);
    expect(kdebugContainerNames({ spec: {} })).toEqual([]);
    expect(kdebugContainerNames({})).toEqual([]);
  });

  test('pure decision: under budget, at budget, with and without an allowed override, at the ceiling', () => {
    expect(podBudgetDecision(2, budget, false, false)).toEqual({ ok: true, used: 2, max: 3, overridden: false });
    const refused = podBudgetDecision(3, budget, false, true);
    expect(refused).toMatchObject({ ok: false, used: 3, max: 3, overridePossible: true });
    expect(refused.ok === false && refused.reason).toBe(
      'this pod already has 3 kdebug debug containers (budget 3); ephemeral containers stay until the pod is replaced; ask again with the budget override to go past it',
    );
    const notAllowed = podBudgetDecision(3, budget, true, false);
    expect(notAllowed).toMatchObject({ ok: false, overridePossible: false });
    expect(notAllowed.ok === false && notAllowed.reason).toMatch(/the policy does not let you override it$/);
    expect(podBudgetDecision(4, budget, true, true)).toEqual({ ok: true, used: 4, max: 5, overridden: true });
    expect(podBudgetDecision(5, budget, true, true)).toMatchObject({ ok: false, max: 5, overridePossible: false });
  });

  test('claims count the spec plus reservations not yet in the spec, so racing jobs cannot both take the last place', async () => {
    const { limits: l } = limits({ podBudget: budget });
    const claim = (containerName: string, existing: string[], override = false, overrideAllowed = false) =>
      l.claimPodBudget({ podUid: 'uid-1', existing, containerName, override, overrideAllowed });

    expect(await claim('kdebug-c', ['kdebug-a'])).toEqual({ ok: true, used: 1, max: 3, overridden: false });
    // kdebug-c is reserved but not in the spec yet: it still counts.
    expect(await claim('kdebug-d', ['kdebug-a'])).toEqual({ ok: true, used: 2, max: 3, overridden: false });
    expect(await claim('kdebug-e', ['kdebug-a'])).toMatchObject({ ok: false, used: 3, max: 3 });
    // Once the reserved containers show in the spec they are not counted twice.
    expect(await claim('kdebug-e', ['kdebug-a', 'kdebug-c', 'kdebug-d'])).toMatchObject({ ok: false, used: 3, overridePossible: false });
    // Budget used up: refused with an override the policy doesn't allow,
    expect(await claim('kdebug-e', ['kdebug-a', 'kdebug-c', 'kdebug-d'], true, false)).toMatchObject({ ok: false, used: 3 });
    // allowed with an override the policy allows, up to the ceiling.
    expect(await claim('kdebug-e', ['kdebug-a', 'kdebug-c', 'kdebug-d'], true, true)).toEqual({ ok: true, used: 3, max: 5, overridden: true });
    expect(await claim('kdebug-f', ['kdebug-a', 'kdebug-c', 'kdebug-d', 'kdebug-e'], true, true)).toMatchObject({ ok: true, used: 4 });
    expect(await claim('kdebug-g', ['kdebug-a', 'kdebug-c', 'kdebug-d', 'kdebug-e', 'kdebug-f'], true, true)).toMatchObject({ ok: false, used: 5, max: 5 });
    // A retried job whose container is already there is always let through.
    expect(await claim('kdebug-c', ['kdebug-a', 'kdebug-c', 'kdebug-d', 'kdebug-e', 'kdebug-f'])).toMatchObject({ ok: true });
    // Another pod has its own budget.
    expect(await l.claimPodBudget({ podUid: 'uid-2', existing: [], containerName: 'kdebug-g', override: false, overrideAllowed: false })).toMatchObject({ ok: true, used: 0 });
  });

  test('a reservation whose container never appeared is released, or expires', async () => {
    const { limits: l, clock } = limits({ podBudget: { maxContainers: 1, overrideMaxContainers: 1, reservationTtlSeconds: 60 } });
    const claim = (containerName: string) => l.claimPodBudget({ podUid: 'uid-1', existing: [], containerName, override: false, overrideAllowed: false });
    expect((await claim('kdebug-a')).ok).toBe(true);
    expect((await claim('kdebug-b')).ok).toBe(false);
    await l.releasePodBudget('uid-1', 'kdebug-a');
    expect((await claim('kdebug-b')).ok).toBe(true);
    clock.now += 61_000;
    expect((await claim('kdebug-c')).ok).toBe(true);
  });

  test('parallel claims for one pod stop at the budget', async () => {
    const { limits: l } = limits({ podBudget: budget });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => l.claimPodBudget({ podUid: 'uid-p', existing: [], containerName: `kdebug-${i}`, override: false, overrideAllowed: false })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(3);
  });
});

describe('in-flight dedupe', () => {
  const subject: DedupeSubject = { teamId: 'T1', userId: 'U1', namespace: 'prod', target: { kind: 'pod', name: 'web' }, check: 'dns', positional: ['api'], options: { server: '10.0.0.10' } };

  test('an identical request within the window gets the existing job id; after the window it is new', async () => {
    const { limits: l, clock } = limits({ dedupe: { windowSeconds: 120 } });
    expect(await l.dedupe(subject, 'job-1')).toEqual({ first: true });
    clock.now += 60_000;
    expect(await l.dedupe({ ...subject, options: { server: '10.0.0.10' } }, 'job-2')).toEqual({ first: false, existingJobId: 'job-1' });
    clock.now += 61_000;
    expect(await l.dedupe(subject, 'job-3')).toEqual({ first: true });
    expect(await l.dedupe(subject, 'job-4')).toEqual({ first: false, existingJobId: 'job-3' });
  });

  test('different user, target, check, namespace or arguments are different requests', async () => {
    const { limits: l } = limits();
    expect(await l.dedupe(subject, 'a')).toEqual({ first: true });
    for (const other of [
      { ...subject, userId: 'U2' },
      { ...subject, target: { kind: 'deployment', name: 'web' } },
      { ...subject, target: { kind: 'pod', name: 'web2' } },
      { ...subject, check: 'http' },
      { ...subject, namespace: 'staging' },
      { ...subject, positional: ['other'] },
      { ...subject, options: {} },
      { ...subject, container: 'sidecar' },
    ]) {
      expect(await l.dedupe(other, `job-${dedupeKey(other)}`)).toEqual({ first: true });
    }
    expect(dedupeKey({ ...subject, options: { b: '1', a: '2' } })).toBe(dedupeKey({ ...subject, options: { a: '2', b: '1' } }));
  });

  test('releasing after the job ends lets the same request run again; only the owner can release', async () => {
    const { limits: l } = limits();
    expect(await l.dedupe(subject, 'job-1')).toEqual({ first: true });
    await l.releaseDedupe(subject, 'job-other');
    expect(await l.dedupe(subject, 'job-2')).toEqual({ first: false, existingJobId: 'job-1' });
    await l.releaseDedupe(subject, 'job-1');
    expect(await l.dedupe(subject, 'job-2')).toEqual({ first: true });
  });

  test('window 0 turns dedupe off; parallel identical requests yield exactly one first', async () => {
    expect(await limits({ dedupe: { windowSeconds: 0 } }).limits.dedupe(subject, 'x')).toEqual({ first: true });
    const { limits: l } = limits();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => l.dedupe(subject, `job-${i}`)));
    const firsts = results.filter((r) => r.first);
    expect(firsts).toHaveLength(1);
    const winner = `job-${results.indexOf(firsts[0]!)}`;
    expect(results.filter((r) => !r.first).every((r) => !r.first && r.existingJobId === winner)).toBe(true);
  });
});

test('settings schema: the defaults are valid and a bad ceiling names the field', () => {
  expect(limitSettingsSchema.parse(DEFAULT_LIMIT_SETTINGS)).toEqual(DEFAULT_LIMIT_SETTINGS);
  const bad = limitSettingsSchema.safeParse({ ...DEFAULT_LIMIT_SETTINGS, podBudget: { maxContainers: 10, overrideMaxContainers: 5, reservationTtlSeconds: 60 } });
  expect(bad.success).toBe(false);
  expect(bad.error!.issues[0]).toMatchObject({ path: ['podBudget', 'overrideMaxContainers'], message: 'overrideMaxContainers must be at least maxContainers' });
});
