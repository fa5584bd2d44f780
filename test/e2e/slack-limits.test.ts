// Slack's rate limits are the real budget (issue 10): 20 commands in one channel within 5 s, through
// the real bot and worker processes and the Slack emulator enforcing Slack's published limits. Every
// command gets its root message, its answer and its final root update, in the order the commands
// came, without a single 429: kdebug paces itself (one budget per method and channel, shared through
// Redis) instead of discovering the limits. A burst of injected 429s then still loses nothing.
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0BUSY';
/** Both processes post an audit line per command here (enqueued, done): one budget, shared through Redis. */
const AUDIT = 'C0AUDIT';
const COMMANDS = 20;
let stack: Stack;
let slack: Stack['slack'];
let bot: RoleProcess;
let worker: RoleProcess;

beforeAll(async () => {
  stack = await startStack({
    channels: { [CHANNEL]: {}, [AUDIT]: {} },
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }],
    env: { KDEBUG_POLICY_AUDIT_CHANNEL: AUDIT },
  });
  ({ slack } = stack);
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/bot started/), worker.waitForOutput(/worker started/)]);
}, 60_000);

afterAll(() => stack?.stop());

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) process.stderr.write(`--- bot ---\n${bot.output().slice(-8000)}\n--- worker ---\n${worker.output().slice(-8000)}\n`);
});

const isFinal = (root: StoredMessage) => /^dns web-0 in prod: (ok|failed): /.test(slack.message(CHANNEL, root.ts)!.text);
const answerOf = (root: StoredMessage) => slack.thread(CHANNEL, root.ts).find((m) => /^ok: /.test(m.text));

/** Sends `count` commands, a different user each (an identical request in flight would reuse its job), spread over `withinMs`. */
async function sendCommands(count: number, withinMs: number, tag: string): Promise<string[]> {
  const users: string[] = [];
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const user = `U0${tag}${String(i).padStart(2, '0')}`;
    const { response } = await stack.command('dns web-0 -n prod', { channel: CHANNEL, user });
    expect(response.status).toBe(200);
    users.push(user);
    const next = started + ((i + 1) * withinMs) / count;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  return users;
}

/** The root messages of these users' commands, in the order they were posted, once all are final. */
async function answered(users: string[], timeoutMs: number): Promise<StoredMessage[]> {
  const requester = (root: StoredMessage) => /requested by <@(U0\w+)>/.exec(JSON.stringify(root.blocks))?.[1];
  const roots = await slack.waitFor(
    () => {
      const mine = stack.roots(CHANNEL).filter((root) => users.includes(requester(root) ?? ''));
      return mine.length === users.length && mine.every((root) => isFinal(root) && answerOf(root)) ? mine : undefined;
    },
    timeoutMs,
    'every command answered',
  );
  // Root messages appear in the order the commands came.
  expect(roots.map(requester)).toEqual(users);
  return roots;
}

test(`${COMMANDS} commands in one channel within 5 s: all answered, in order, with no 429`, async () => {
  const started = Date.now();
  const callsBefore = slack.calls.length;
  const users = await sendCommands(COMMANDS, 5000, 'A');
  expect(Date.now() - started).toBeLessThan(5500);
  const roots = await answered(users, 150_000);
  const elapsed = Date.now() - started;

  for (const root of roots) {
    const message = slack.message(CHANNEL, root.ts)!;
    // Posted as queued; any progress in between; the final status last, after the answer.
    expect(message.history[0]!.text).toMatch(/: queued$/);
    expect(message.history.at(-1)!.text).toMatch(/^dns web-0 in prod: ok: /);
    const answer = answerOf(root)!;
    const finalUpdate = slack
      .callsTo('chat.update')
      .filter((c) => c.args.ts === root.ts && c.status === 200)
      .at(-1)!;
    const answerPost = slack.callsTo('chat.postMessage').find((c) => c.args.thread_ts === root.ts && c.status === 200 && String(c.args.text).startsWith('ok: '))!;
    expect(Number(answer.ts)).toBeGreaterThan(Number(root.ts));
    expect(finalUpdate.time).toBeGreaterThanOrEqual(answerPost.time);
  }
  // The answers, too, came in the order of the commands.
  const answerOrder = roots.map((root) => Number(answerOf(root)!.ts));
  expect([...answerOrder].sort((a, b) => a - b)).toEqual(answerOrder);

  // The audit lines of both processes (enqueued by the bot, done by the worker) all reach the audit
  // channel, paced in one budget, without holding up the answers.
  const audited = await slack.waitFor(() => (slack.messages(AUDIT).length >= 2 * COMMANDS ? Date.now() - started : undefined), 60_000, 'audit lines');

  const calls = slack.calls.slice(callsBefore).filter((c) => c.args.channel !== AUDIT);
  const byMethod: Record<string, number> = {};
  for (const c of calls) byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
  const perJob = Object.entries(byMethod)
    .map(([method, n]) => `${method}=${(n / COMMANDS).toFixed(2)}`)
    .join(' ');
  const progress = roots.reduce((sum, root) => sum + slack.message(CHANNEL, root.ts)!.history.length - 2, 0);
  process.stdout.write(
    `slack-limits: commands=${COMMANDS} fully_answered_s=${(elapsed / 1000).toFixed(1)} audit_lines_posted_s=${(audited / 1000).toFixed(1)} 429s=${slack.rateLimited()} calls_per_job: ${perJob} progress_updates=${progress}\n`,
  );
  expect(slack.rateLimited()).toBe(0);
  expect(slack.calls.slice(callsBefore).filter((c) => c.status === 429)).toHaveLength(0);
}, 180_000);

test('a burst of injected 429s loses nothing: each rate-limited call is retried after its Retry-After', async () => {
  const callsBefore = slack.calls.length;
  slack.inject('chat.postMessage', { status: 429, retryAfter: 1 }, 6);
  slack.inject('chat.update', { status: 429, retryAfter: 1 }, 4);
  const users = await sendCommands(6, 1500, 'B');
  const roots = await answered(users, 90_000);
  for (const root of roots) {
    expect(slack.thread(CHANNEL, root.ts).filter((m) => /^ok: /.test(m.text))).toHaveLength(1);
    expect(slack.message(CHANNEL, root.ts)!.text).toMatch(/^dns web-0 in prod: ok: /);
  }
  const injected = slack.calls.slice(callsBefore).filter((c) => c.status === 429);
  process.stdout.write(`slack-limits: injected_429s_met=${injected.length} emulator_429s=${slack.rateLimited()} lost=0\n`);
  expect(injected.length).toBe(10);
  // Only the injected ones: the emulator's own limits were never reached.
  expect(slack.rateLimited()).toBe(0);
}, 120_000);

test("a slow root post does not eat the job's deadline: it counts from when the job is queued", async () => {
  // The audit lines of the commands above are all posted, so the next chat.postMessage is this root message.
  await slack.waitFor(() => slack.messages(AUDIT).length >= 2 * (COMMANDS + 6) || undefined, 30_000, 'audit lines');
  const before = stack.roots(CHANNEL).length;
  // The root message takes 4 s to post and the container 2.5 s to start: 6.5 s in all, more than
  // the job's 5 s, yet the job has its 5 s once queued.
  slack.inject('chat.postMessage', { delayMs: 4000 }, 1);
  stack.kube.setStartDelay(2500);
  try {
    const { response } = await stack.command('dns web-0 -n prod --timeout 5s', { channel: CHANNEL, user: 'U0SLOWROOT' });
    expect(response.status).toBe(200);
    expect(response.elapsedMs).toBeLessThan(3000);
    const root = await slack.waitFor(() => stack.roots(CHANNEL)[before], 10_000, 'root message');
    await slack.waitFor(() => isFinal(root) || undefined, 30_000, 'final status');
    expect(slack.message(CHANNEL, root.ts)!.text).toMatch(/^dns web-0 in prod: ok: /);
  } finally {
    stack.kube.setStartDelay(50);
  }
}, 60_000);
