// `/kdebug clusters` end to end: two Kubernetes emulators, a worker on each (its cluster named by
// KDEBUG_CLUSTER_NAME), one bot; the workers' heartbeats through Redis tell the bot which clusters
// have a live worker and which Kubernetes version each talks to.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeEmulator } from '../support/kube-emulator.js';
import type { RoleProcess } from '../support/processes.js';
import { startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0CLUSTERS';
let stack: Stack;
let otherKube: KubeEmulator;
let usWorker: RoleProcess;

beforeAll(async () => {
  stack = await startStack({ channels: { [CHANNEL]: {} }, pods: [], env: { KDEBUG_CLUSTER_HEARTBEAT_SECONDS: '1' } });
  otherKube = new KubeEmulator();
  await otherKube.start();
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-clusters-')), 'kubeconfig');
  otherKube.writeKubeconfig(kubeconfig);
  const bot = stack.start('bot');
  const euWorker = stack.start('worker', { KDEBUG_CLUSTER_NAME: 'prod-eu' });
  usWorker = stack.start('worker', { KDEBUG_CLUSTER_NAME: 'prod-us', KUBECONFIG: kubeconfig });
  await Promise.all([bot, euWorker, usWorker].map((p) => p.waitForOutput(/"msg":"(bot|worker) started"/)));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await otherKube?.stop();
});

async function clusters(): Promise<string> {
  const { responseUrl } = await stack.command('clusters', { channel: CHANNEL, user: 'U0SRE' });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(responseUrl)[0], 10_000, 'clusters reply');
  return String(reply.body.text);
}

test('each cluster with its live workers and Kubernetes version; a stopped worker shows as gone', async () => {
  let text = '';
  for (const deadline = Date.now() + 10_000; !/prod-eu.*\n.*prod-us/.test(text);) {
    if (Date.now() > deadline) throw new Error(`both clusters never listed: ${text}`);
    text = await clusters();
  }
  expect(text).toMatch(/^Clusters whose kdebug workers report here \(2 clusters\):\n/);
  expect(text).toMatch(/• `prod-eu`: 1 worker alive, Kubernetes v1\.33\.1, last seen \ds ago/);
  expect(text).toMatch(/• `prod-us`: 1 worker alive, Kubernetes v1\.33\.1, last seen \ds ago/);

  await usWorker.stop();
  // Four missed beats (1 s each) and the worker counts as gone.
  await new Promise((resolve) => setTimeout(resolve, 5500));
  text = await clusters();
  expect(text).toMatch(/• `prod-eu`: 1 worker alive/);
  expect(text).toMatch(/• `prod-us`: no live worker, last seen \ds ago \(Kubernetes v1\.33\.1\): its jobs wait until one is back/);
}, 60_000);
