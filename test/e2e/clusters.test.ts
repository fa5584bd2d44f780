// Many clusters, one bot, end to end: two Kubernetes emulators, a worker on each (its cluster named
// by KDEBUG_CLUSTER_NAME, its jobs from its cluster's queue), one bot. The workers' heartbeats
// through Redis tell the bot which clusters have a live worker; `--cluster` and the channel's
// default route a command to the right one; a cluster without a live worker is answered at once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';

const EU_CHANNEL = 'C0PRODEU';
const OTHER_CHANNEL = 'C0OTHER';
let stack: Stack;
let usKube: KubeEmulator;
let bot: RoleProcess;
let euWorker: RoleProcess;
let usWorker: RoleProcess;

beforeAll(async () => {
  // prod-eu is the stack's emulator, with pod web-0; prod-us another one, with pod api-0.
  stack = await startStack({
    channels: { [EU_CHANNEL]: {}, [OTHER_CHANNEL]: {} },
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }],
    env: { KDEBUG_CLUSTER_HEARTBEAT_SECONDS: '1', KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30' },
  });
  usKube = new KubeEmulator();
  await usKube.start();
  await usKube.addPod({ namespace: 'prod', name: 'api-0', containers: [{ name: 'app', image: 'api:1' }] });
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-clusters-'));
  usKube.writeKubeconfig(join(dir, 'kubeconfig'));
  // The bot: commands in the eu channel go to prod-eu unless they say otherwise. The policy: the SRE
  // may run anything anywhere, U0EUDEV only in prod-eu.
  writeFileSync(join(dir, 'bot.yaml'), `cluster:\n  channels:\n    ${EU_CHANNEL}: prod-eu\n`);
  writeFileSync(
    join(dir, 'policy.yaml'),
    [
      'version: 1',
      'contact: "#sre"',
      'defaults: { rate: { requests: 1000, windowSeconds: 60 } }',
      'rules:',
      '  - { name: sre, users: [U0SRE], namespaces: ["*"], checks: ["*"] }',
      '  - { name: eu-devs, users: [U0EUDEV], namespaces: ["*"], checks: ["*"], clusters: [prod-eu] }',
      '',
    ].join('\n'),
  );
  bot = stack.start('bot', { KDEBUG_CONFIG: join(dir, 'bot.yaml'), KDEBUG_POLICY_PATH: join(dir, 'policy.yaml') });
  euWorker = stack.start('worker', { KDEBUG_CLUSTER_NAME: 'prod-eu' });
  // prod-us's worker holds no Slack credentials: the bot's process delivers its answers.
  usWorker = stack.start('worker', { KDEBUG_CLUSTER_NAME: 'prod-us', KUBECONFIG: join(dir, 'kubeconfig'), SLACK_BOT_TOKEN: '' });
  await Promise.all([bot, euWorker, usWorker].map((p) => p.waitForOutput(/"msg":"(bot|worker) started"/)));
  // Both clusters reported.
  for (const deadline = Date.now() + 10_000; !/prod-eu`: 1 worker alive[^\n]*\n[^\n]*prod-us`: 1 worker alive/.test(await clusters());) {
    if (Date.now() > deadline) throw new Error(`both clusters never listed as alive: ${await clusters()}`);
  }
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await usKube?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts)
    process.stderr.write(`--- bot ---\n${bot.output()}\n--- eu worker ---\n${euWorker.output()}\n--- us worker ---\n${usWorker.output()}\n`);
});

async function ephemeralAnswer(text: string, channel = OTHER_CHANNEL, user = 'U0SRE'): Promise<string> {
  const { responseUrl } = await stack.command(text, { channel, user });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(responseUrl)[0], 10_000, `answer to ${text}`);
  return String(reply.body.text);
}

const clusters = () => ephemeralAnswer('clusters');

/** Runs a command; resolves with its root message once final. */
async function run(text: string, channel: string): Promise<StoredMessage> {
  const before = stack.roots(channel).length;
  await stack.command(text, { channel, user: 'U0SRE' });
  return stack.slack.waitFor(
    () => {
      const root = stack.roots(channel)[before];
      return root && !/: (queued|running)/.test(root.text) ? root : undefined;
    },
    60_000,
    `final root for ${text}`,
  );
}

const kdebugContainers = (kube: KubeEmulator, pod: string) => (kube.getPod('prod', pod)?.spec.ephemeralContainers ?? []).filter((c) => c.name.startsWith('kdebug-')).length;

test('/kdebug clusters lists each cluster with its live workers and the Kubernetes version they talk to', async () => {
  const text = await clusters();
  expect(text).toMatch(/^Clusters whose kdebug workers report here \(2 clusters\):\n/);
  expect(text).toMatch(/• `prod-eu`: 1 worker alive, Kubernetes v1\.33\.1, last seen \ds ago/);
  expect(text).toMatch(/• `prod-us`: 1 worker alive, Kubernetes v1\.33\.1, last seen \ds ago/);
});

test('--cluster sends a command to that cluster, and the channel default to its own', async () => {
  const us = await run('listen api-0 -n prod --cluster prod-us', OTHER_CHANNEL);
  expect(us.text).toMatch(/^listen api-0 in prod-us\/prod: /);
  expect(us.text).not.toMatch(/failed/);
  expect(kdebugContainers(usKube, 'api-0')).toBe(1);
  // The eu channel's default cluster is prod-eu.
  const eu = await run('listen web-0 -n prod', EU_CHANNEL);
  expect(eu.text).toMatch(/^listen web-0 in prod-eu\/prod: /);
  expect(kdebugContainers(stack.kube, 'web-0')).toBe(1);
  // The audit records name the cluster.
  expect(usWorker.output()).toMatch(/"audit":true[^\n]*"cluster":"prod-us"/);
  // prod-us's worker has no Slack token: its answer reached Slack through the shared delivery queue,
  // which the processes that hold Slack credentials serve (the bot and prod-eu's worker, whichever
  // takes the delivery first).
  const usJob = /job `([0-9a-f]{16})`/.exec(JSON.stringify(us.blocks))![1]!;
  expect(usWorker.output()).not.toMatch(/results delivered/);
  expect(bot.output() + euWorker.output()).toMatch(new RegExp(`"jobId":"${usJob}"[^\n]*"msg":"results delivered"`));
}, 90_000);

test('a job of a worker without Slack credentials still shows live progress: the bot relays it, and the final status stays last', async () => {
  // The container starts after 4 s, so the job reports progress (3 s after it started) before its answer.
  usKube.setStartDelay(4000);
  try {
    const root = await run('listen api-0 -n prod --cluster prod-us', OTHER_CHANNEL);
    await new Promise((r) => setTimeout(r, 1000));
    const versions = stack.slack.message(OTHER_CHANNEL, root.ts)!.history.map((v) => v.text);
    expect(versions.some((text) => /^listen api-0 in prod-us\/prod: running/.test(text))).toBe(true);
    expect(versions.at(-1)).toMatch(/^listen api-0 in prod-us\/prod: (ok|loopback-only|not-listening)/);
  } finally {
    usKube.setStartDelay(50);
  }
}, 90_000);

test('the command builder asks which cluster when several are alive, and runs there', async () => {
  await stack.command('', { channel: OTHER_CHANNEL, user: 'U0SRE' });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0SRE'), 10_000, 'modal');
  const select = modal.blocks[0] as { block_id: string; element: { options: Array<{ value: string }> } };
  expect(select.block_id).toBe('cluster');
  expect(select.element.options.map((o) => o.value)).toEqual(['prod-eu', 'prod-us']);
  // What is typed is offered too, so the options requests below make these values submittable.
  await stack.slack.requestOptions({ viewId: modal.id, actionId: 'namespace', value: 'prod', user: 'U0SRE' });
  await stack.slack.requestOptions({ viewId: modal.id, actionId: 'target', value: 'api-0', user: 'U0SRE' });
  const before = stack.roots(OTHER_CHANNEL).length;
  const submitted = await stack.slack.submitView({ viewId: modal.id, user: 'U0SRE', values: { cluster: 'prod-us', namespace: 'prod', target: 'api-0', check: 'listen' } });
  expect(submitted.action).toBe('close');
  const root = await stack.slack.waitFor(
    () => {
      const r = stack.roots(OTHER_CHANNEL)[before];
      return r && !/: (queued|running)/.test(r.text) ? r : undefined;
    },
    60_000,
    'the built command',
  );
  expect(root.text).toMatch(/^listen api-0 in prod-us\/prod: /);
  expect(JSON.stringify(root.blocks)).toContain('/kdebug listen api-0 -n prod --cluster prod-us');
}, 90_000);

test('the policy can name clusters: a rule for prod-eu does not open prod-us', async () => {
  expect(await ephemeralAnswer('listen api-0 -n prod --cluster prod-us', OTHER_CHANNEL, 'U0EUDEV')).toMatch(
    /^You can't run `listen` in namespace `prod` of cluster `prod-us`: no rule allows it/,
  );
  const eu = await ephemeralAnswer('whoami', OTHER_CHANNEL, 'U0EUDEV');
  expect(eu).toContain('`eu-devs`: allow');
  expect(eu).toContain('of cluster `prod-eu`');
});

test('a cluster no worker ever reported, and one whose workers stopped, are answered at once', async () => {
  const before = stack.roots(OTHER_CHANNEL).length;
  expect(await ephemeralAnswer('listen api-0 -n prod --cluster staging')).toBe(
    'No worker has ever reported for cluster `staging`, so nothing was started. Clusters: `prod-eu`, `prod-us`. `/kdebug clusters` shows which are alive.',
  );
  await usWorker.stop();
  // Four missed beats (1 s each) and the worker counts as gone.
  await new Promise((resolve) => setTimeout(resolve, 5500));
  expect(await clusters()).toMatch(/• `prod-us`: no live worker, last seen \ds ago \(Kubernetes v1\.33\.1\): its jobs wait until one is back/);
  expect(await ephemeralAnswer('listen api-0 -n prod --cluster prod-us')).toMatch(
    /^No worker for cluster `prod-us` has been seen for \ds, so nothing was started\. Check its kdebug worker Deployment, or pick another cluster with `--cluster`/,
  );
  expect(stack.roots(OTHER_CHANNEL)).toHaveLength(before);
}, 60_000);
