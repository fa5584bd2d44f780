// Nothing lost, nothing doubled: Slack rate-limiting and failing while answers are posted, and a
// worker killed (SIGKILL) at random points, again and again. Every accepted command must end in
// exactly one answer in its thread, and every job must add at most one ephemeral container.
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { jobIdOf, startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0FAULTS';
/**
 * The kill test's commands go to channels of their own: Slack allows about one message a second
 * per channel, and kdebug paces itself to that, so 20 commands and their answers in one channel
 * would make the test wait for Slack's budget rather than for the kills.
 */
const KILL_CHANNELS = ['C0FAULTS1', 'C0FAULTS2', 'C0FAULTS3', 'C0FAULTS4'];
let stack: Stack;
let slack: Stack['slack'];
let kube: Stack['kube'];
let bot: RoleProcess;

beforeAll(async () => {
  stack = await startStack({
    channels: Object.fromEntries([CHANNEL, ...KILL_CHANNELS].map((id) => [id, {}])),
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }],
    // A dead worker's job goes back to the queue within seconds instead of the default 30.
    env: { KDEBUG_QUEUE_LOCK_SECONDS: '2' },
  });
  ({ slack, kube } = stack);
  bot = stack.start('bot');
  await bot.waitForOutput(/bot started/);
}, 60_000);

afterAll(() => stack?.stop());

async function startWorker(): Promise<RoleProcess> {
  const worker = stack.start('worker');
  await worker.waitForOutput(/worker started/);
  return worker;
}

async function command(text: string, userId = 'U0SRE', channel = CHANNEL): Promise<StoredMessage> {
  const before = stack.roots(channel).length;
  const { response } = await stack.command(text, { channel, user: userId });
  expect(response.status).toBe(200);
  return slack.waitFor(() => stack.roots(channel)[before], 5000, 'root message');
}

const isFinal = (root: StoredMessage) => /: (ok|failed): /.test(slack.message(root.channel, root.ts)!.text);
const answers = (root: StoredMessage) => slack.thread(root.channel, root.ts).filter((m) => /^(ok|timeout|nxdomain): |^The diagnostic could not finish/.test(m.text));
const containersOf = (jobId: string) => (kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers ?? []).filter((c) => c.name === `kdebug-${jobId}`);

test('Slack rate-limiting and failing: the finding waits, posting honours Retry-After, the diagnostic runs once', async () => {
  const worker = await startWorker();
  kube.setStartDelay(1000); // time to arm the faults after the root message is posted
  const root = await command('dns web-0 -n prod');
  slack.inject('chat.postMessage', { status: 429, retryAfter: 2 }, 1);
  slack.inject('chat.postMessage', { status: 503 }, 1);
  await slack.waitFor(() => isFinal(root) || undefined, 40_000, 'final answer');
  kube.setStartDelay(50);
  const posts = slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === root.ts);
  expect(posts.map((c) => c.status)).toEqual([429, 503, 200]);
  // The second attempt came no sooner than Slack's Retry-After of 2 s.
  expect(posts[1]!.time - posts[0]!.time).toBeGreaterThanOrEqual(2000);
  expect(answers(root)).toHaveLength(1);
  expect(containersOf(jobIdOf(root))).toHaveLength(1);
  // Whichever process delivered it (the bot delivers too, for workers without Slack credentials).
  expect(`${worker.output()}${bot.output()}`).toMatch(/"retryAfter":2,"msg":"delivery failed; will retry"/);
  await worker.stop();
}, 60_000);

test('SIGKILL of the worker at random points, 20 times: 0 lost, 0 duplicated, 0 extra containers', async () => {
  const KILLS = 20;
  const sent: StoredMessage[] = [];
  let worker = await startWorker();
  // Container start and Slack posting are slowed a little, so kills land inside both.
  kube.setStartDelay(300);
  for (let i = 0; i < KILLS; i++) {
    // A different user each time: the same user's identical request in flight would reuse its job.
    sent.push(await command('dns web-0 -n prod', `U0SRE${i}`, KILL_CHANNELS[i % KILL_CHANNELS.length]));
    if (i % 2 === 1) slack.inject('chat.postMessage', { delayMs: 400 }, 1);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 900)));
    worker.child.kill('SIGKILL');
    await new Promise((r) => worker.child.once('exit', r));
    worker = await startWorker();
  }
  await slack.waitFor(() => sent.every(isFinal) || undefined, 120_000, 'every command answered');
  // Give a late duplicate, if there were one, the time to show up.
  await new Promise((r) => setTimeout(r, 3000));
  kube.setStartDelay(50);

  const answered = sent.filter((root) => answers(root).length >= 1).length;
  const duplicated = sent.filter((root) => answers(root).length > 1).length;
  const containers = sent.map((root) => containersOf(jobIdOf(root)).length);
  const extra = containers.reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const kdebugTotal = (kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers ?? []).filter((c) => c.name.startsWith('kdebug-')).length;
  process.stdout.write(
    `faults: kills=${KILLS} jobs=${sent.length} answers=${answered} lost=${sent.length - answered} duplicated=${duplicated} containers_added=${containers.reduce((a, b) => a + b, 0)} extra_containers=${extra}\n`,
  );
  expect(sent.length - answered).toBe(0);
  expect(duplicated).toBe(0);
  expect(extra).toBe(0);
  // Every container on the pod belongs to one of these jobs or the first test's.
  expect(kdebugTotal).toBeLessThanOrEqual(sent.length + 1);
}, 240_000);
