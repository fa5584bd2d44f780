import { dedupeKey, dedupeSubjectForJob, InFlightDedupe, type DedupeSubject } from '../../../src/policy/dedupe.js';
import { shippedSettings, suiteRedis } from './helpers.js';

const suite = suiteRedis();

/** An InFlightDedupe with its own key prefix and a clock the test moves (default: the shipped window). */
function dedupe(settings = shippedSettings().limits.dedupe) {
  const clock = { now: Date.now() };
  return { dedupe: new InFlightDedupe(suite.redis(), suite.prefix(), settings, () => clock.now), clock };
}

describe('in-flight dedupe', () => {
  const subject: DedupeSubject = {
    teamId: 'T1',
    userId: 'U1',
    namespace: 'prod',
    target: { kind: 'pod', name: 'web' },
    check: 'dns',
    positional: ['api'],
    options: { server: '10.0.0.10' },
  };

  test('an identical request within the window gets the existing job id; after the window it is new', async () => {
    const { dedupe: l, clock } = dedupe({ windowSeconds: 120 });
    expect(await l.claim(subject, 'job-1')).toEqual({ first: true });
    clock.now += 60_000;
    expect(await l.claim({ ...subject, options: { server: '10.0.0.10' } }, 'job-2')).toEqual({ first: false, existingJobId: 'job-1' });
    clock.now += 61_000;
    expect(await l.claim(subject, 'job-3')).toEqual({ first: true });
    expect(await l.claim(subject, 'job-4')).toEqual({ first: false, existingJobId: 'job-3' });
  });

  test('different user, target, check, namespace or arguments are different requests', async () => {
    const { dedupe: l } = dedupe();
    expect(await l.claim(subject, 'a')).toEqual({ first: true });
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
      expect(await l.claim(other, `job-${dedupeKey(other)}`)).toEqual({ first: true });
    }
    expect(dedupeKey({ ...subject, options: { b: '1', a: '2' } })).toBe(dedupeKey({ ...subject, options: { a: '2', b: '1' } }));
  });

  test('releasing after the job ends lets the same request run again; only the owner can release', async () => {
    const { dedupe: l } = dedupe();
    expect(await l.claim(subject, 'job-1')).toEqual({ first: true });
    await l.release(subject, 'job-other');
    expect(await l.claim(subject, 'job-2')).toEqual({ first: false, existingJobId: 'job-1' });
    await l.release(subject, 'job-1');
    expect(await l.claim(subject, 'job-2')).toEqual({ first: true });
  });

  test('window 0 turns dedupe off; parallel identical requests yield exactly one first', async () => {
    expect(await dedupe({ windowSeconds: 0 }).dedupe.claim(subject, 'x')).toEqual({ first: true });
    const { dedupe: l } = dedupe();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => l.claim(subject, `job-${i}`)));
    const firsts = results.filter((r) => r.first);
    expect(firsts).toHaveLength(1);
    const winner = `job-${results.indexOf(firsts[0]!)}`;
    expect(results.filter((r) => !r.first).every((r) => !r.first && r.existingJobId === winner)).toBe(true);
  });
});

test('dedupeSubjectForJob keys a job as the bot and the worker both see it', () => {
  const j = {
    check: 'dns',
    target: { kind: 'pod', name: 'web' },
    namespace: 'prod',
    container: 'app',
    positional: ['api'],
    options: { server: '10.0.0.10' },
    requestedBy: { teamId: 'T1', userId: 'U0BOB' },
  };
  expect(dedupeSubjectForJob(j)).toEqual({
    teamId: 'T1',
    userId: 'U0BOB',
    namespace: 'prod',
    target: { kind: 'pod', name: 'web' },
    container: 'app',
    check: 'dns',
    positional: ['api'],
    options: { server: '10.0.0.10' },
  });
  const other = { ...j, id: 'other' };
  expect(dedupeKey(dedupeSubjectForJob(other))).toBe(dedupeKey(dedupeSubjectForJob(j)));
});

test('--all is a request of its own: not the same as one pod of the workload', () => {
  const j = {
    check: 'dns',
    target: { kind: 'deployment', name: 'web' },
    namespace: 'prod',
    positional: [],
    options: {},
    requestedBy: { teamId: 'T1', userId: 'U0BOB' },
  };
  const all = { ...j, all: true };
  expect(dedupeSubjectForJob(all)).toMatchObject({ all: true });
  expect(dedupeKey(dedupeSubjectForJob(all))).not.toBe(dedupeKey(dedupeSubjectForJob(j)));
  expect(dedupeKey(dedupeSubjectForJob({ ...all, options: {} }))).toBe(dedupeKey(dedupeSubjectForJob(all)));
});

test('the same request for another cluster is another request', () => {
  const j = { check: 'dns', target: { kind: 'pod', name: 'web-0' }, namespace: 'prod', positional: [], options: {}, requestedBy: { teamId: 'T1', userId: 'U0BOB' } };
  expect(dedupeKey(dedupeSubjectForJob({ ...j, cluster: 'prod-us' }))).not.toBe(dedupeKey(dedupeSubjectForJob({ ...j, cluster: 'prod-eu' })));
  expect(dedupeKey(dedupeSubjectForJob({ ...j, cluster: 'prod-us' }))).not.toBe(dedupeKey(dedupeSubjectForJob(j)));
});
