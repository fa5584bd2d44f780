// PodWatches on its own, against the Kubernetes emulator through the real client-node: which events
// reach which waiter, when a waiter must read its pod again, and when the shared watch opens and closes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { PodWatches, type PodUpdate, type PodWaiter } from '../../src/kube/pod-watches.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';

let dir: string;
let kube: KubeEmulator;
let kc: KubeConfig;
let core: CoreV1Api;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kdebug-watches-'));
  kube = new KubeEmulator();
  await kube.start();
  for (const name of ['a', 'b', 'c']) await kube.addPod({ namespace: 'prod', name, containers: [{ name: 'app', image: 'x:1' }] });
  await kube.addPod({ namespace: 'staging', name: 'a', containers: [{ name: 'app', image: 'x:1' }] });
  kube.writeKubeconfig(join(dir, 'kubeconfig'));
  kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  core = kc.makeApiClient(CoreV1Api);
});
afterEach(async () => {
  await kube.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pod = (namespace: string, name: string) => kube.getPod(namespace, name) as unknown as V1Pod;
const next = (waiter: PodWaiter, ms = 2000): Promise<PodUpdate> => waiter.next(Date.now() + ms);
const watchRequests = () => kube.requests.filter((r) => r.verb === 'watch' && r.resource === 'pods').length;

async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('no watch until a waiter starts; one per namespace; each waiter gets its own pod only; closed when the last leaves', async () => {
  const watches = new PodWatches(kc, core);
  const a = watches.join('prod', 'a');
  const b = watches.join('prod', 'b');
  const other = watches.join('staging', 'a');
  // Joined only (a job's patch in flight): nothing open yet.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(kube.openPodWatches()).toBe(0);

  a.seen(pod('prod', 'a'));
  b.seen(pod('prod', 'b'));
  other.seen(pod('staging', 'a'));
  await until(() => kube.openPodWatches('prod') === 1 && kube.openPodWatches('staging') === 1);

  kube.setPodPhase('prod', 'b', 'Failed');
  kube.setPodPhase('prod', 'c', 'Failed');
  kube.setPodPhase('prod', 'a', 'Failed');
  const forA = await next(a);
  const forB = await next(b);
  expect(forA.kind === 'pod' && forA.pod.metadata?.name).toBe('a');
  expect(forA.kind === 'pod' && forA.pod.status?.phase).toBe('Failed');
  expect(forB.kind === 'pod' && forB.pod.metadata?.name).toBe('b');
  // Nothing for the pod in the other namespace, nor a second event for a: 'idle' at the deadline.
  expect(await next(other, 300)).toEqual({ kind: 'idle' });
  expect(await next(a, 300)).toEqual({ kind: 'idle' });
  expect(watchRequests()).toBe(2);

  a.leave();
  b.leave();
  await until(() => kube.openPodWatches('prod') === 0);
  expect(kube.openPodWatches('staging')).toBe(1);
  other.leave();
  await until(() => kube.openPodWatches() === 0);
});

test('events between the join and the patch reach the waiter; a waiter behind the open watch reads its pod again', async () => {
  const watches = new PodWatches(kc, core);
  const a = watches.join('prod', 'a');
  a.seen(pod('prod', 'a'));
  await until(() => kube.openPodWatches('prod') === 1);

  // Joined before the change ("the patch"), started with the changed pod: the change's own event
  // is older than what it knows and skipped; the next one comes through.
  const b = watches.join('prod', 'b');
  const patched = kube.setPodPhase('prod', 'b', 'Failed') as unknown as V1Pod;
  b.seen(patched);
  expect(await next(b, 300)).toEqual({ kind: 'idle' });
  kube.setPodPhase('prod', 'b', 'Running');
  const running = await next(b);
  expect(running.kind === 'pod' && running.pod.status?.phase).toBe('Running');

  // A pod read before the watch moved past it (a retried job's container found in place): the
  // events in between may be lost to it, so it reads the pod again, once.
  const stale = pod('prod', 'c');
  kube.setPodPhase('prod', 'a', 'Failed');
  await next(a);
  const c = watches.join('prod', 'c');
  c.seen(stale);
  expect(await next(c)).toEqual({ kind: 'reread' });
  c.seen(pod('prod', 'c'));
  expect(await next(c, 300)).toEqual({ kind: 'idle' });

  // A resourceVersion that is not a number is never trusted.
  const odd = watches.join('prod', 'c');
  odd.seen({ ...stale, metadata: { ...stale.metadata, resourceVersion: 'v7' } });
  expect(await next(odd)).toEqual({ kind: 'reread' });

  // A DELETED event has the waiters of that pod read it again (and find it gone).
  kube.deletePod('prod', 'c');
  expect(await next(c)).toEqual({ kind: 'reread' });
  for (const w of [a, b, c, odd]) w.leave();
  await until(() => kube.openPodWatches() === 0);
});

test('a watch the API server refuses has the waiters read their pods, with back-off; nothing more once they leave', async () => {
  kube.deny('watch', 'pods');
  const watches = new PodWatches(kc, core, { maxBackoffMs: 200 });
  const a = watches.join('prod', 'a');
  a.seen(pod('prod', 'a'));
  expect(await next(a, 5000)).toEqual({ kind: 'reread' });
  // Three refusals before the first re-read, then more at most 200 ms apart.
  expect(watchRequests()).toBeGreaterThanOrEqual(3);
  a.leave();
  const after = watchRequests();
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(watchRequests()).toBe(after);
});

test('a job joining within a second of the last one leaving takes the open watch; with nobody joining it closes', async () => {
  const watches = new PodWatches(kc, core);
  const first = watches.join('prod', 'a');
  first.seen(pod('prod', 'a'));
  await until(() => kube.openPodWatches('prod') === 1);
  first.leave();
  // The next command of an incident, 200 ms later: same watch, and it gets its pod's events.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = watches.join('prod', 'b');
  try {
    // As a job does: join, change the pod (its patch), start waiting from the changed pod.
    second.seen(kube.setPodPhase('prod', 'b', 'Pending') as unknown as V1Pod);
    kube.setPodPhase('prod', 'b', 'Failed');
    const update = await next(second);
    expect(update.kind === 'pod' && update.pod.status?.phase).toBe('Failed');
    expect(watchRequests()).toBe(1);
    expect(kube.openPodWatches('prod')).toBe(1);
  } finally {
    // Left even when an expectation fails: a waiter left behind keeps its watch retrying after the emulator stops.
    second.leave();
  }
  // Nobody joins: closed after the linger, and nothing opens again.
  const left = Date.now();
  await until(() => kube.openPodWatches('prod') === 0);
  expect(Date.now() - left).toBeGreaterThanOrEqual(900);
  expect(watchRequests()).toBe(1);
});
