// Socket Mode (the usual choice inside a cluster: no ingress) with both roles in one process,
// `kdebug all`: the real Bolt SocketModeClient connects to the Slack emulator's WebSocket, acks the
// slash command, and the same process runs the job.
import { startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0SOCKET';
let stack: Stack;
let slack: Stack['slack'];

beforeAll(async () => {
  stack = await startStack({ channels: { [CHANNEL]: {} }, pods: [{ namespace: 'default', name: 'api-0', containers: [{ name: 'api', image: 'api:1' }] }] });
  slack = stack.slack;
  // An app token selects Socket Mode; no signing secret or HTTP port is needed then.
  const all = stack.start('all', { SLACK_APP_TOKEN: slack.appToken, SLACK_SIGNING_SECRET: '' });
  await all.waitForOutput(/"transport":"socket".*"msg":"bot started"/);
}, 60_000);

afterAll(() => stack?.stop());

test('a slash command over Socket Mode is acked in time and answered in its thread', async () => {
  const started = Date.now();
  const ack = await slack.sendSocketSlashCommand({ channel_id: CHANNEL, user_id: 'U0SRE', command: '/kdebug', text: 'dns api-0' }, 3000);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(ack.envelope_id).toBeTruthy();
  const root = await slack.waitFor(() => slack.messages(CHANNEL).find((m) => !m.thread_ts), 5000, 'root message');
  expect(root.history[0]!.text).toBe('dns api-0 in default: queued');
  await slack.waitFor(() => /: ok: /.test(slack.message(CHANNEL, root.ts)!.text), 30_000, 'final status');
  const reply = slack.thread(CHANNEL, root.ts).find((m) => m.text.startsWith('ok: '));
  expect(reply?.text).toMatch(/^ok: kubernetes\.default\.svc\.cluster\.local → 10\.96\.0\.1/);
});

test('bad input over Socket Mode gets the usage text in the ack payload', async () => {
  const ack = await slack.sendSocketSlashCommand({ channel_id: CHANNEL, user_id: 'U0SRE', command: '/kdebug', text: 'dnss api-0' }, 3000);
  expect(JSON.stringify(ack.payload)).toMatch(/did you mean `dns`/i);
});
