// Cancellation: `/kdebug cancel <id>` and the Cancel button stop a job on whichever replica runs
// it (or take it off the queue before it runs), and the thread says it was cancelled.
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { jobIdOf, startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0CANCEL';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ channels: { [CHANNEL]: {} }, pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }] });
  await stack.start('bot').waitForOutput(/bot started/);
}, 60_000);

afterAll(() => stack?.stop());

async function worker(): Promise<RoleProcess> {
  const started = stack.start('worker');
  await started.waitForOutput(/worker started/);
  return started;
}

const containersOf = (jobId: string) => (stack.kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers ?? []).filter((c) => c.name === `kdebug-${jobId}`);

/** A cancel is acknowledged at once; its answer comes through the response URL. */
async function cancel(args: string, user = 'U0SRE'): Promise<string> {
  const { response, responseUrl } = await stack.command(`cancel ${args}`.trim(), { channel: CHANNEL, user });
  expect(response.status).toBe(200);
  if (response.body) return (JSON.parse(response.body) as { text: string }).text;
  const reply = await stack.slack.waitFor(() => stack.slack.responses(responseUrl)[0], 5000, 'cancel reply');
  return (reply.body as { text: string }).text;
}

async function startJob(user: string): Promise<StoredMessage> {
  const before = stack.roots(CHANNEL).length;
  const { response } = await stack.command('dns web-0 -n prod', { channel: CHANNEL, user });
  expect(response.status).toBe(200);
  return stack.slack.waitFor(() => stack.roots(CHANNEL)[before], 5000, 'root message');
}

async function cancelled(root: StoredMessage): Promise<void> {
  await stack.slack.waitFor(() => / cancelled$/.test(stack.slack.message(CHANNEL, root.ts)!.text) || undefined, 20_000, 'cancelled root');
  const thread = stack.slack.thread(CHANNEL, root.ts).map((m) => m.text);
  expect(thread.some((t) => /^Cancelled by <@U0\w+> after /.test(t))).toBe(true);
  expect(thread.some((t) => t.startsWith('ok: '))).toBe(false);
}

test('/kdebug cancel stops a running job; the thread says so', async () => {
  const running = await worker();
  stack.kube.setStartDelay(8000);
  const root = await startJob('U0A');
  const jobId = jobIdOf(root);
  // The root message offers a Cancel button while the job is queued or running.
  expect(JSON.stringify(root.blocks)).toContain('"action_id":"kdebug_cancel"');
  await stack.slack.waitFor(() => containersOf(jobId).length === 1 || undefined, 10_000, 'container added');
  expect(await cancel(jobId, 'U0A')).toMatch(/^Cancelling job `[0-9a-f]{16}`/);
  await cancelled(root);
  expect(stack.slack.thread(CHANNEL, root.ts).at(-1)!.text).toMatch(/may keep running until its own deadline/);
  expect(JSON.stringify(stack.slack.message(CHANNEL, root.ts)!.blocks)).not.toContain('kdebug_cancel');
  expect(containersOf(jobId)).toHaveLength(1);
  stack.kube.setStartDelay(50);
  await running.stop();
});

test('the Cancel button stops a running job', async () => {
  const running = await worker();
  stack.kube.setStartDelay(8000);
  const root = await startJob('U0B');
  const jobId = jobIdOf(root);
  await stack.slack.waitFor(() => containersOf(jobId).length === 1 || undefined, 10_000, 'container added');
  // Bob clicks the root message's Cancel button: Slack's signed block_actions, which the bot must answer 200 within 3 s.
  const click = await stack.slack.clickButton({ channel: CHANNEL, messageTs: root.ts, actionId: 'kdebug_cancel', user: 'U0B' });
  expect(click.payload.actions).toMatchObject([{ action_id: 'kdebug_cancel', value: jobId, type: 'button' }]);
  const reply = await stack.slack.waitFor(() => stack.slack.responses(click.responseUrl)[0], 5000, 'button reply');
  expect((reply.body as { text: string }).text).toMatch(/^Cancelling job/);
  await cancelled(root);
  stack.kube.setStartDelay(50);
  await running.stop();
});

test('a queued job is taken off the queue: nothing runs, and the answer comes when a worker is up', async () => {
  const root = await startJob('U0C');
  const jobId = jobIdOf(root);
  expect(await cancel(jobId, 'U0C')).toBe(`Cancelled job \`${jobId}\` before it started.`);
  await worker();
  await cancelled(root);
  expect(containersOf(jobId)).toHaveLength(0);
});

test('cancel needs a job id, and says when the job is unknown', async () => {
  expect(await cancel('')).toMatch(/^Which job\?/);
  expect(await cancel('0000000000000000')).toMatch(/^There's no job `0000000000000000`/);
});
