// The interactive parts end to end, through the Slack emulator's real payloads (signed HTTP, then
// Socket Mode after a restart) and the real bot and worker processes: the buttons under an answer,
// the command builder with options from the workers' inventory, "did you mean" from that inventory,
// and the App Home.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0BUTTONS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const MALLORY = 'U0MALLORY';
const NAME = 'payments.prod.svc.cluster.local';

let stack: Stack;
let bot: RoleProcess;
let worker: RoleProcess;

beforeAll(async () => {
  // Alice and Bob may run dns and listen in prod; nobody may capture; Mallory may run nothing.
  const policy = join(mkdtempSync(join(tmpdir(), 'kdebug-interactive-')), 'policy.yaml');
  writeFileSync(
    policy,
    [
      'version: 1',
      'contact: "#sre"',
      'defaults:',
      '  rate: { requests: 1000, windowSeconds: 60 }',
      'rules:',
      '  - name: oncall',
      `    users: [${ALICE}, ${BOB}]`,
      '    namespaces: [prod]',
      '    checks: [dns, listen]',
      '',
    ].join('\n'),
  );
  stack = await startStack({
    channels: { [CHANNEL]: { members: [ALICE, BOB, MALLORY] } },
    pods: (kube) => {
      kube.addWorkload('deployment', { namespace: 'prod', name: 'web', matchLabels: { app: 'web' }, replicas: 2 });
      const rs = kube.addReplicaSet({ namespace: 'prod', deployment: 'web', hash: '7f9c6d' });
      return ['a', 'b'].map((s) => ({ namespace: 'prod', name: `web-7f9c6d-${s}`, owner: rs, containers: [{ name: 'app', image: 'registry.local/web:1' }] }));
    },
    env: { KDEBUG_POLICY_PATH: policy, KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30', KDEBUG_KUBERNETES_DEFAULT_NAMESPACE: 'prod' },
  });
  // Only pod b's resolver knows the name: a dns check of the deployment's first pod (a) fails.
  stack.pods.get('prod/web-7f9c6d-b')!.dns.addRecord(NAME, 'A', '10.96.3.7');
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/"msg":"bot started"/), worker.waitForOutput(/"msg":"worker started"/)]);
  // The worker's first inventory of the cluster, which the builder and "did you mean" read.
  const redis = new Redis(stack.redis!.url);
  for (const deadline = Date.now() + 10_000; !(await redis.exists(`${stack.redis!.prefix}:inventory`));) {
    if (Date.now() > deadline) throw new Error('the worker wrote no inventory within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  redis.disconnect();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) process.stderr.write(`--- bot ---\n${bot.output()}\n--- worker ---\n${worker.output()}\n`);
});

const roots = () => stack.roots(CHANNEL);
const final = (root: StoredMessage) => !/: (queued|running)/.test(stack.slack.message(CHANNEL, root.ts)?.text ?? '');
const answerOf = (root: StoredMessage) =>
  stack.slack.messages(CHANNEL).find((m) => m.thread_ts === root.ts && !m.files?.length && /"kdebug_next"/.test(JSON.stringify(m.blocks ?? [])));

/** Waits for the n-th root message of the channel to be final and answered; returns it and its answer. */
async function answered(n: number): Promise<{ root: StoredMessage; answer: StoredMessage }> {
  return stack.slack.waitFor(
    () => {
      const root = roots()[n];
      const answer = root && final(root) ? answerOf(root) : undefined;
      return root && answer ? { root, answer } : undefined;
    },
    60_000,
    `answer to root #${n}`,
  );
}

const buttons = (message: StoredMessage) =>
  ((message.blocks ?? []).find((b) => (b as { block_id?: string }).block_id === 'kdebug_next') as { elements: Array<{ action_id: string; text: { text: string }; value: string }> })
    .elements;

let firstAnswer: StoredMessage;

test('a failing answer carries Re-run and the next checks; Re-run by another user is a new job of theirs', async () => {
  await stack.command(`dns deploy/web ${NAME} -n prod`, { channel: CHANNEL, user: ALICE });
  const { answer } = await answered(0);
  firstAnswer = answer;
  expect(answer.text).toMatch(/^nxdomain: /);
  expect(buttons(answer).map((b) => [b.text.text, b.value])).toEqual([
    ['Re-run', `dns deploy/web ${NAME} -n prod`],
    [expect.stringMatching(/^Ask the cluster DNS \(10\.213\.\d+\.\d+\) directly$/), expect.stringMatching(new RegExp(`^dns deploy/web ${NAME} -n prod --server 10\\.213\\.`))],
    ['Same check on every pod (--all)', `dns deploy/web ${NAME} -n prod --all`],
  ]);
  await stack.slack.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_run_0', user: BOB });
  const rerun = await answered(1);
  expect(JSON.stringify(rerun.root.blocks)).toContain(`requested by <@${BOB}>`);
  expect(rerun.answer.text).toMatch(/^nxdomain: /);
  // --all from the button: one comparison of both pods.
  await stack.slack.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_run_2', user: ALICE });
  const all = await stack.slack.waitFor(() => {
    const root = roots()[2];
    return root && final(root) ? stack.slack.messages(CHANNEL).find((m) => m.thread_ts === root.ts && /pods/.test(m.text ?? '')) : undefined;
  }, 60_000);
  expect(all.text).toBe('1 of 2 pods fails (nxdomain)');
}, 120_000);

test('a click by someone the policy refuses answers only them, and starts nothing', async () => {
  const before = roots().length;
  const click = await stack.slack.clickButton({ channel: CHANNEL, messageTs: firstAnswer.ts, actionId: 'kdebug_run_0', user: MALLORY });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(click.responseUrl)[0], 10_000, 'refusal');
  expect(reply.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  expect(String(reply.body.text)).toMatch(/default deny/);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(roots()).toHaveLength(before);
});

test('a tampered button value (validly signed) gets no more than typing it would: the policy refuses capture', async () => {
  const before = roots().length;
  const click = await stack.slack.clickButton({
    channel: CHANNEL,
    messageTs: firstAnswer.ts,
    actionId: 'kdebug_run_0',
    user: ALICE,
    value: 'capture web-7f9c6d-a -n prod --duration 5s',
  });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(click.responseUrl)[0], 10_000, 'refusal');
  expect(String(reply.body.text)).toMatch(/capture/);
  expect(String(reply.body.text)).toMatch(/not allowed|refused|may not|can't/i);
  expect(roots()).toHaveLength(before);
  expect(stack.kube.getPod('prod', 'web-7f9c6d-a')!.spec.ephemeralContainers?.some((c) => /tcpdump/.test(JSON.stringify(c.command)))).toBeFalsy();
});

test('a double click is one job: the second is told the first is already running', async () => {
  const before = roots().length;
  // A slow pod start keeps the first job in flight while the second click arrives.
  stack.kube.setStartDelay(1500);
  const first = await stack.slack.clickButton({ channel: CHANNEL, messageTs: firstAnswer.ts, actionId: 'kdebug_run_0', user: ALICE });
  await stack.slack.waitFor(() => roots().length > before, 10_000, 'first root');
  const second = await stack.slack.clickButton({ channel: CHANNEL, messageTs: firstAnswer.ts, actionId: 'kdebug_run_0', user: ALICE });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(second.responseUrl)[0], 10_000, 'duplicate answer');
  expect(String(reply.body.text)).toMatch(/already/i);
  expect(stack.slack.responses(first.responseUrl)).toEqual([]);
  await answered(before);
  stack.kube.setStartDelay(50);
  expect(roots()).toHaveLength(before + 1);
}, 60_000);

test('"did you mean" from the inventory: a mistyped pod is answered at once, nothing is queued', async () => {
  const before = roots().length;
  const { responseUrl } = await stack.command(`dns web-7f9c6d-bb ${NAME} -n prod`, { channel: CHANNEL, user: ALICE });
  const reply = await stack.slack.waitFor(() => stack.slack.responses(responseUrl)[0], 10_000, 'did you mean');
  expect(String(reply.body.text)).toMatch(
    /^There's no pod `web-7f9c6d-bb` in namespace `prod` \(as of \d+ s ago\)\. Did you mean `web-7f9c6d-b`\? If the pod is newer than that, run it as `pod\/web-7f9c6d-bb`\.$/,
  );
  expect(roots()).toHaveLength(before);
});

test('the command builder: options from the inventory, errors stay in the modal, a submission runs as typed', async () => {
  await stack.command('', { channel: CHANNEL, user: BOB });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(BOB), 10_000, 'modal');
  const namespaces = (await stack.slack.requestOptions({ viewId: modal.id, actionId: 'namespace', value: 'pr', user: BOB })) as { options: Array<{ value: string }> };
  expect(namespaces.options.map((o) => o.value)).toEqual(['prod']);
  const targets = (await stack.slack.requestOptions({ viewId: modal.id, actionId: 'target', value: 'web', user: BOB })) as { options: Array<{ value: string }> };
  expect(targets.options.map((o) => o.value)).toEqual(['deployment/web', 'web-7f9c6d-a', 'web-7f9c6d-b']);

  // "Show the command": the modal shows what the choices so far would be as a typed command.
  await stack.slack.clickButton({ viewId: modal.id, user: BOB, actionId: 'kdebug_builder_preview', values: { target: 'deployment/web', args: NAME } });
  const shown = await stack.slack.waitFor(() => JSON.stringify(stack.slack.openModal(BOB)?.blocks ?? []).match(/The same as typing `([^`]+)`/)?.[1], 10_000, 'command shown');
  expect(shown).toBe(`/kdebug dns deployment/web -n prod ${NAME}`);
  const wrong = await stack.slack.submitView({ viewId: modal.id, user: BOB, values: { namespace: 'prod', target: 'web-7f9c6d-b', check: 'dns', args: '--server bogus' } });
  expect(wrong.action).toBe('errors');
  expect(wrong.errors?.args).toMatch(/bogus/);

  const before = roots().length;
  const done = await stack.slack.submitView({ viewId: modal.id, user: BOB, values: { namespace: 'prod', target: 'web-7f9c6d-b', check: 'dns', args: NAME } });
  expect(done.action).toBe('close');
  const { root, answer } = await answered(before);
  expect(JSON.stringify(root.blocks)).toContain(`/kdebug dns web-7f9c6d-b -n prod ${NAME}`);
  expect(answer.text).toMatch(/^ok: /);
  expect(stack.slack.ephemerals(CHANNEL).map((e) => e.text)).toContain(`Running \`/kdebug dns web-7f9c6d-b -n prod ${NAME}\`: next time you can type just that.`);
}, 60_000);

test('the App Home lists the user’s requests with their verdicts, and what they may run', async () => {
  await stack.slack.openAppHome(BOB);
  const home = await stack.slack.waitFor(() => stack.slack.homeView(BOB), 10_000, 'home view');
  const text = JSON.stringify(home.blocks);
  expect(text).toContain('Your recent kdebug requests');
  expect(text).toMatch(/dns web-7f9c6d-b in prod: \*ok\*/);
  expect(text).toMatch(/dns deployment\/web in prod: \*nxdomain\*/);
  expect(text).toContain(`/archives/${CHANNEL}/p`);
  expect(text).toContain('`oncall`');
  // An --all request shows its comparison's headline.
  await stack.slack.openAppHome(ALICE);
  const alice = await stack.slack.waitFor(() => stack.slack.homeView(ALICE), 10_000, "Alice's home view");
  expect(JSON.stringify(alice.blocks)).toMatch(/dns deployment\/web --all in prod: 1 of 2 pods fails \(nxdomain\)/);
});

test('buttons keep working after the bot restarts, now over Socket Mode', async () => {
  await bot.stop();
  bot = stack.start('bot', { SLACK_APP_TOKEN: stack.slack.appToken });
  await bot.waitForOutput(/"msg":"bot started"/);
  // With a Socket Mode connection open, the emulator delivers the click over it, not to the request URL.
  await stack.slack.waitFor(() => stack.slack.socketConnections > 0, 10_000, 'socket connection');
  const before = roots().length;
  await stack.slack.clickButton({ channel: CHANNEL, messageTs: firstAnswer.ts, actionId: 'kdebug_run_0', user: BOB });
  const { answer } = await answered(before);
  expect(answer.text).toMatch(/^nxdomain: /);
}, 60_000);
