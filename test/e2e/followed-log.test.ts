// A debug container's log is followed from when it runs, and the answer is read from it as soon as
// the last step has printed its end, not when the node gets round to reporting the container
// terminated. Through the real client-node against the Kubernetes emulator, whose kubelet runs
// the steps for real; what happens when the follow is cut; and that a cut never crashes the worker.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureCheck } from '../../src/checks/capture.js';
import { loadConfig } from '../../src/config/load.js';
import { UserFacingError } from '../../src/core/errors.js';
import { createKubeClients, type KubeClients } from '../../src/kube/client.js';
import { runInPod, type PodRun } from '../../src/runner/pod.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';

let kube: KubeEmulator;
let clients: KubeClients;
let runs = 0;

beforeEach(async () => {
  kube = new KubeEmulator();
  await kube.start();
  kube.addNamespace('prod');
  await kube.addPod({ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-followed-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  clients = createKubeClients(loadConfig({ env: { KUBECONFIG: kubeconfig } }));
});
afterEach(async () => {
  await kube.stop();
});

function run(steps: PodRun['steps'], overrides: Partial<PodRun> = {}): PodRun {
  return {
    namespace: 'prod',
    target: { kind: 'pod', name: 'web-0' },
    containerName: `kdebug-followed${String(++runs).padStart(5, '0')}`,
    image: 'nicolaka/netshoot',
    imagePullPolicy: 'IfNotPresent',
    capabilities: [],
    steps,
    timeoutSeconds: 30,
    deadline: Date.now() + 30_000,
    maxLogBytes: 1 << 20,
    ...overrides,
  };
}

const logRequests = () => kube.requests.filter((r) => r.resource === 'pods' && r.subresource === 'log').length;
const stateOf = (container: string) => kube.getPod('prod', 'web-0')!.status.ephemeralContainerStatuses!.find((s) => s.name === container)!.state;

test('the answer is read from the followed log when the last step ends, before the node reports the container terminated', async () => {
  // A kubelet that reports exits 20 s late: waiting for the terminated status would take that long.
  kube.setExitReportDelay(20_000);
  const started = Date.now();
  const progress: string[] = [];
  const request = run(
    [
      { id: 'first', argv: ['sh', '-c', 'echo one; exit 3'] },
      { id: 'second', argv: ['sh', '-c', 'sleep 0.3; echo two'] },
    ],
    { onProgress: (status) => progress.push(status) },
  );
  const result = await runInPod(clients, request);
  expect(result.results.map((r) => [r.id, r.exitCode, r.output.trim()])).toEqual([
    ['first', 3, 'one'],
    ['second', 0, 'two'],
  ]);
  expect(Date.now() - started).toBeLessThan(10_000);
  // The node has not reported the exit yet; the one log request was the follow.
  expect(stateOf(request.containerName).terminated).toBeUndefined();
  expect(logRequests()).toBe(1);
  expect(progress.at(-1)).toBe('debug container finished its steps');
});

test('the node reports the exit before the followed log is through: the answer comes when the text is complete, not when the follow ends', async () => {
  // The follow is answered late (the container has exited and been reported terminated by then),
  // and stays open a minute after the exit, where a kubelet ends it within a second.
  kube.injectFault('get', 'pods/log', { delayMs: 300 }, 1);
  kube.setFollowEndDelay(60_000);
  const progress: string[] = [];
  const request = run([{ id: 'quick', argv: ['echo', 'hello'] }], { onProgress: (status) => progress.push(status) });
  const started = Date.now();
  const result = await runInPod(clients, request);
  expect(result.results.map((r) => [r.exitCode, r.output.trim()])).toEqual([[0, 'hello']]);
  expect(progress).toContain('debug container terminated with exit code 0');
  // Waiting for the follow to end would take the 2 s the runner allows it once the exit is known.
  expect(Date.now() - started).toBeLessThan(1500);
  expect(logRequests()).toBe(1);
});

test('a follow cut mid-log: the log is read whole once the container terminates, and nothing crashes', async () => {
  kube.injectFault('get', 'pods/log', { dropAfterMs: 300 }, 1);
  const result = await runInPod(clients, run([{ id: 'slow', argv: ['sh', '-c', 'echo one; sleep 1; echo two'] }]));
  expect(result.results.map((r) => [r.exitCode, r.output.trim()])).toEqual([[0, 'one\ntwo']]);
  // The cut follow, then the read at the end.
  expect(logRequests()).toBe(2);
});

test('a follow refused (the log is not readable yet) is no failure: the log is read at the end', async () => {
  kube.injectFault('get', 'pods/log', { status: 503 }, 1);
  const result = await runInPod(clients, run([{ id: 'quick', argv: ['echo', 'hello'] }]));
  expect(result.results.map((r) => [r.exitCode, r.output.trim()])).toEqual([[0, 'hello']]);
  expect(logRequests()).toBe(2);
});

test('a log longer than maxLogBytes: the follow stops at the limit, and the answer keeps the first bytes', async () => {
  const result = await runInPod(clients, run([{ id: 'loud', argv: ['sh', '-c', 'yes kdebug | head -c 20000'] }], { maxLogBytes: 4096 }));
  // The limit cut the step before its end line: its exit code is unknown, its output the first bytes.
  expect(result.results[0]!.exitCode).toBeNull();
  expect(result.results[0]!.output.length).toBeGreaterThan(3000);
  expect(result.results[0]!.output.length).toBeLessThan(4096);
  expect(result.results[0]!.output.startsWith('kdebug\nkdebug\n')).toBe(true);
});

test("a decoded log (capture) cut mid-stream fails the run with a message, and the worker's process survives", async () => {
  kube.injectFault('get', 'pods/log', { dropAfterMs: 300 }, 1);
  const path = join(mkdtempSync(join(tmpdir(), 'kdebug-followed-')), 'cut.pcap');
  const running = runInPod(clients, {
    ...run([{ id: 'capture', argv: ['sh', '-c', 'echo waiting; sleep 1'] }]),
    output: { decoder: captureCheck.decoder!, maxBytes: 1 << 20, path },
  });
  await expect(running).rejects.toThrow(UserFacingError);
  await expect(running).rejects.toThrow(
    /connection to the Kubernetes API \(https:\/\/127\.0\.0\.1:\d+\) was cut while kdebug followed the log of debug container kdebug-followed\d+; run the command again/,
  );
});

test("the pod budget's reservation is released once the container is in the pod's spec, not when the answer is ready", async () => {
  let releasedAt: number | undefined;
  let inSpecAt: number | undefined;
  const request = run([{ id: 'slow', argv: ['sh', '-c', 'sleep 1; echo done'] }], {
    beforeAdd: async () => async () => {
      releasedAt = Date.now();
      // The container counts itself from now on: it is in the pod's spec.
      inSpecAt = kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.some((c) => c.name === request.containerName) ? Date.now() : undefined;
    },
  });
  await runInPod(clients, request);
  const answeredAt = Date.now();
  expect(inSpecAt).toBeDefined();
  // The release is no round trip on the answer's way: it happened while the container ran.
  expect(answeredAt - releasedAt!).toBeGreaterThan(500);
});
