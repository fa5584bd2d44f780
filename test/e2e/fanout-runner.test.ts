// The `--all` runner on its own (runOnAllPods), and a check's live progress, through the real client-node against the Kubernetes
// emulator: how many pods it checks at once, the spread sample past the cap, progress as pods
// finish, pods that cannot be checked, nodes whose zone cannot be read, and a cancelled run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createKubeClients, type KubeClients } from '../../src/kube/client.js';
import { runOnAllPods, type FanoutRun } from '../../src/runner/fanout.js';
import { runInPod } from '../../src/runner/pod.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';

let kube: KubeEmulator;
let clients: KubeClients;
let runs = 0;

beforeEach(async () => {
  kube = new KubeEmulator();
  await kube.start();
  kube.addNode('n1', { zone: 'z1' });
  kube.addNode('n2', { zone: 'z2' });
  kube.addWorkload('deployment', { namespace: 'prod', name: 'web', matchLabels: { app: 'web' }, replicas: 5 });
  const rs = kube.addReplicaSet({ namespace: 'prod', deployment: 'web', hash: 'abc12' });
  for (const [name, nodeName] of [
    ['web-abc12-a', 'n1'],
    ['web-abc12-b', 'n1'],
    ['web-abc12-c', 'n1'],
    ['web-abc12-d', 'n2'],
  ] as const)
    await kube.addPod({ namespace: 'prod', name, owner: rs, nodeName, containers: [{ name: 'app', image: 'app:1' }] });
  await kube.addPod({ namespace: 'prod', name: 'web-abc12-e', owner: rs, nodeName: 'n2', phase: 'Pending', containers: [{ name: 'app', image: 'app:1' }] });
  // Matches the selector, but another Deployment's ReplicaSet owns it: not one of web's pods.
  kube.addWorkload('deployment', { namespace: 'prod', name: 'web-canary', matchLabels: { app: 'web' } });
  const canary = kube.addReplicaSet({ namespace: 'prod', deployment: 'web-canary', hash: 'def34' });
  await kube.addPod({ namespace: 'prod', name: 'web-canary-def34-a', owner: canary, nodeName: 'n2', containers: [{ name: 'app', image: 'app:1' }] });
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-fanout-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  clients = createKubeClients(loadConfig({ env: { KUBECONFIG: kubeconfig } }));
});
afterEach(async () => {
  await kube.stop();
});

function run(overrides: Partial<FanoutRun> = {}): FanoutRun {
  return {
    namespace: 'prod',
    target: { kind: 'deployment', name: 'web' },
    containerName: `kdebug-fanout${String(++runs).padStart(6, '0')}`,
    image: 'nicolaka/netshoot',
    imagePullPolicy: 'IfNotPresent',
    capabilities: [],
    steps: [{ id: 'nap', argv: ['sleep', '0.3'] }],
    timeoutSeconds: 30,
    deadline: Date.now() + 30_000,
    maxLogBytes: 1 << 20,
    maxPods: 10,
    maxParallel: 10,
    ...overrides,
  };
}

test('every Running pod the workload owns, at most maxParallel at once; the rest are rows with a reason', async () => {
  const progress: string[] = [];
  let running = 0;
  let most = 0;
  const outcome = await runOnAllPods(
    clients,
    run({
      maxParallel: 2,
      onProgress: (status) => progress.push(status),
      onContainerStatus: (_pod, status) => {
        if (/^added debug container/.test(status)) most = Math.max(most, ++running);
        if (/terminated|finished its steps/.test(status)) running -= 1;
      },
    }),
  );
  expect(outcome.pods.map((p) => [p.pod, p.node, p.zone, p.replicaSet, p.skipped ?? p.result?.results[0]?.exitCode])).toEqual([
    ['web-abc12-a', 'n1', 'z1', 'web-abc12', 0],
    ['web-abc12-b', 'n1', 'z1', 'web-abc12', 0],
    ['web-abc12-c', 'n1', 'z1', 'web-abc12', 0],
    ['web-abc12-d', 'n2', 'z2', 'web-abc12', 0],
    ['web-abc12-e', 'n2', 'z2', 'web-abc12', 'not running (Pending)'],
  ]);
  expect(outcome.sample).toBe('all 4 pods');
  expect(progress).toEqual(['1/4 pods done', '2/4 pods done', '3/4 pods done', '4/4 pods done']);
  // Containers were added two at a time: the patches never overlapped more than that.
  expect(most).toBe(2);
  expect(kube.getPod('prod', 'web-canary-def34-a')!.spec.ephemeralContainers ?? []).toEqual([]);
}, 60_000);

test('past maxPods, a sample with one pod per node first', async () => {
  const outcome = await runOnAllPods(clients, run({ maxPods: 2 }));
  expect(outcome.sample).toBe('2 of 4 pods, one per node first');
  const checked = outcome.pods.filter((p) => p.result);
  expect(checked.map((p) => p.node).sort()).toEqual(['n1', 'n2']);
}, 60_000);

test('nodes the worker may not read: the comparison goes on without zones, and says why', async () => {
  kube.deny('get', 'nodes');
  const outcome = await runOnAllPods(clients, run({ target: { kind: 'selector', name: 'app=web' } }));
  expect(outcome.zonesProblem).toBe('zones unknown: the worker may not get nodes (RBAC)');
  // A selector has no owner to check: the canary pod it matches is included.
  expect(outcome.pods.map((p) => p.pod)).toContain('web-canary-def34-a');
  expect(outcome.pods.every((p) => p.zone === undefined)).toBe(true);
}, 60_000);

test('a workload with no running pod at all fails the request with what exists', async () => {
  kube.addWorkload('deployment', { namespace: 'prod', name: 'idle', matchLabels: { app: 'idle' } });
  await expect(runOnAllPods(clients, run({ target: { kind: 'deployment', name: 'idle' } }))).rejects.toThrow(
    'deployment idle in prod has no running pod (no pods match its selector).',
  );
}, 30_000);

test('a cancelled run stops, and rejects with the reason rather than a row per pod', async () => {
  const controller = new AbortController();
  const running = runOnAllPods(clients, run({ steps: [{ id: 'nap', argv: ['sleep', '5'] }], signal: controller.signal }));
  setTimeout(() => controller.abort(new Error('cancelled by U0BOB')), 500);
  await expect(running).rejects.toThrow('cancelled by U0BOB');
}, 30_000);

test('live progress of a check without a decoder reads its output so far from the followed log, with no request of its own', async () => {
  const seen: Array<{ elapsedSeconds: number; output?: string }> = [];
  await runInPod(clients, {
    ...run({ steps: [{ id: 'slow', argv: ['sh', '-c', 'echo hop-1; sleep 2; echo hop-2; sleep 1'] }] }),
    target: { kind: 'pod', name: 'web-abc12-a' },
    liveProgress: { everyMs: 300, describe: (progress) => JSON.stringify(progress), report: (line) => seen.push(JSON.parse(line) as { elapsedSeconds: number; output?: string }) },
  });
  // Partway through, the output held the first line but not yet the second.
  expect(seen.some((p) => p.output?.includes('hop-1') && !p.output.includes('hop-2'))).toBe(true);
  expect(seen.at(-1)!.elapsedSeconds).toBeGreaterThan(1.5);
  expect(kube.requests.filter((r) => r.subresource === 'log')).toHaveLength(1);
}, 30_000);

test('a pod whose namespace Pod Security refuses the container is a row with that reason', async () => {
  kube.addNamespace('locked', { 'pod-security.kubernetes.io/enforce': 'baseline' });
  kube.addWorkload('deployment', { namespace: 'locked', name: 'api', matchLabels: { app: 'api' } });
  const rs = kube.addReplicaSet({ namespace: 'locked', deployment: 'api', hash: 'f00d1' });
  for (const name of ['api-f00d1-a', 'api-f00d1-b']) await kube.addPod({ namespace: 'locked', name, owner: rs, nodeName: 'n1', containers: [{ name: 'app', image: 'app:1' }] });
  // NET_RAW (what capture needs) is beyond "baseline".
  const outcome = await runOnAllPods(clients, run({ namespace: 'locked', target: { kind: 'deployment', name: 'api' }, capabilities: ['NET_RAW'] }));
  expect(outcome.pods.map((p) => [p.pod, p.skipped])).toEqual([
    ['api-f00d1-a', 'refused by Pod Security'],
    ['api-f00d1-b', 'refused by Pod Security'],
  ]);
  expect(outcome.pods[0]!.detail).toMatch(/^Pod Security Admission refused the debug container in namespace locked \(policy "baseline:latest"\)/);
}, 30_000);
