import { debugContainerNames } from '../../../src/core/debug-container.js';
import { PodBudget, podBudgetDecision } from '../../../src/policy/pod-budget.js';
import { suiteRedis } from './helpers.js';

const suite = suiteRedis();

/** A PodBudget with its own key prefix and a clock the test moves. */
function podBudget(settings: { maxContainers: number; overrideMaxContainers: number; reservationTtlSeconds: number }) {
  const clock = { now: Date.now() };
  return { budget: new PodBudget(suite.redis(), suite.prefix(), settings, () => clock.now), clock };
}

describe('per-pod ephemeral container budget', () => {
  const budget = { maxContainers: 3, overrideMaxContainers: 5, reservationTtlSeconds: 600 };
  const pod = (names: string[]) => ({ spec: { ephemeralContainers: names.map((name) => ({ name })) } });

  // What the worker passes as `existing`.
  test('counts only kdebug containers from the pod spec', () => {
    expect(debugContainerNames(pod(['kdebug-a', 'debugger-xyz', 'kdebug-b']))).toEqual(['kdebug-a', 'kdebug-b']);
    expect(debugContainerNames({ spec: {} })).toEqual([]);
    expect(debugContainerNames({})).toEqual([]);
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
    const { budget: l } = podBudget(budget);
    const claim = (containerName: string, existing: string[], override = false, overrideAllowed = false) =>
      l.claim({ podUid: 'uid-1', existing, containerName, override, overrideAllowed });

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
    expect(await l.claim({ podUid: 'uid-2', existing: [], containerName: 'kdebug-g', override: false, overrideAllowed: false })).toMatchObject({ ok: true, used: 0 });
  });

  test('a reservation whose container never appeared is released, or expires', async () => {
    const { budget: l, clock } = podBudget({ maxContainers: 1, overrideMaxContainers: 1, reservationTtlSeconds: 60 });
    const claim = (containerName: string) => l.claim({ podUid: 'uid-1', existing: [], containerName, override: false, overrideAllowed: false });
    expect((await claim('kdebug-a')).ok).toBe(true);
    expect((await claim('kdebug-b')).ok).toBe(false);
    await l.release('uid-1', 'kdebug-a');
    expect((await claim('kdebug-b')).ok).toBe(true);
    clock.now += 61_000;
    expect((await claim('kdebug-c')).ok).toBe(true);
  });

  test('parallel claims for one pod stop at the budget', async () => {
    const { budget: l } = podBudget(budget);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => l.claim({ podUid: 'uid-p', existing: [], containerName: `kdebug-${i}`, override: false, overrideAllowed: false })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(3);
  });
});
