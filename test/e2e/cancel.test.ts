// Cancellation: `/kdebug cancel <id>` and the Cancel button stop a job on whichever replica runs
// it (or take it off the queue before it runs), and the thread says it was cancelled.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../support/dns-server.js';
import { KubeEmulator } from '../support/kube-emulator.js';
import { netnsAvailable } from '../support/netns.js';
import { startRole, type RoleProcess } from '../support/processes.js';
import { freePort, testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator, type StoredMessage } from '../support/slack-emulator.js';
import { sendSignedRequest, sendSlashCommand } from '../support/slack-signing.js';

const SIGNING_SECRET = 'cancel-signing-secret';
const CHANNEL = 'C0CANCEL';
let redis: TestRedis;
let slack: SlackEmulator;
let kube: KubeEmulator;
let dns: DnsServer;
let env: Record<string, string>;
let bot: RoleProcess;
let botPort: number;
const others: RoleProcess[] = [];

beforeAll(async () => {
  const missing = await netnsAvailable();
  if (missing) throw new Error(`this end-to-end test runs dig in per-pod network namespaces, and ${missing}`);
  redis = await testRedis();
  slack = new SlackEmulator();
  await slack.start();
  slack.addChannel(CHANNEL, { botIsMember: true });
  kube = new KubeEmulator({ netns: true });
  await kube.start();
  kube.addNamespace('prod');
  const { network } = await kube.addPod({ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
  dns = new DnsServer({ host: network!.hostIp, port: 53 });
  await dns.start();
  dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-cancel-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  botPort = await freePort();
  env = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    KDEBUG_REDIS_KEY_PREFIX: redis.prefix,
    KUBECONFIG: kubeconfig,
    PORT: String(botPort),
  };
  bot = startRole('bot', env);
  await bot.waitForOutput(/bot started/);
}, 60_000);

afterAll(async () => {
  await Promise.all([bot, ...others].map((p) => p?.stop()));
  await dns?.stop();
  await kube?.stop();
  await slack?.stop();
  await redis?.stop();
});

async function worker(): Promise<RoleProcess> {
  const started = startRole('worker', env);
  others.push(started);
  await started.waitForOutput(/worker started/);
  return started;
}

const roots = () => slack.messages(CHANNEL).filter((m) => !m.thread_ts);
const jobIdOf = (root: StoredMessage) => /job `([0-9a-f]{16})`/.exec(JSON.stringify(root.blocks))![1]!;
const containersOf = (jobId: string) => (kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers ?? []).filter((c) => c.name === `kdebug-${jobId}`);

async function command(text: string, user = 'U0SRE'): Promise<string> {
  const response = await sendSlashCommand(`http://127.0.0.1:${botPort}/slack/events`, SIGNING_SECRET, slack.slashCommand({ channel_id: CHANNEL, user_id: user, command: '/kdebug', text }));
  expect(response.status).toBe(200);
  return response.body;
}

/** A cancel is acknowledged at once; its answer comes through the response URL. */
async function cancel(args: string, user = 'U0SRE'): Promise<string> {
  const fields = slack.slashCommand({ channel_id: CHANNEL, user_id: user, command: '/kdebug', text: `cancel ${args}`.trim() });
  const response = await sendSlashCommand(`http://127.0.0.1:${botPort}/slack/events`, SIGNING_SECRET, fields);
  expect(response.status).toBe(200);
  if (response.body) return (JSON.parse(response.body) as { text: string }).text;
  const reply = await slack.waitFor(() => slack.responses(fields.response_url)[0], 5000, 'cancel reply');
  return (reply.body as { text: string }).text;
}

async function startJob(user: string): Promise<StoredMessage> {
  const before = roots().length;
  await command('dns web-0 -n prod', user);
  return slack.waitFor(() => roots()[before], 5000, 'root message');
}

async function cancelled(root: StoredMessage): Promise<void> {
  await slack.waitFor(() => / cancelled$/.test(slack.message(CHANNEL, root.ts)!.text) || undefined, 20_000, 'cancelled root');
  const thread = slack.thread(CHANNEL, root.ts).map((m) => m.text);
  expect(thread.some((t) => /^Cancelled by <@U0\w+> after /.test(t))).toBe(true);
  expect(thread.some((t) => t.startsWith('ok: '))).toBe(false);
}

test('/kdebug cancel stops a running job; the thread says so', async () => {
  const running = await worker();
  kube.setStartDelay(8000);
  const root = await startJob('U0A');
  const jobId = jobIdOf(root);
  // The root message offers a Cancel button while the job is queued or running.
  expect(JSON.stringify(root.blocks)).toContain('"action_id":"kdebug_cancel"');
  await slack.waitFor(() => containersOf(jobId).length === 1 || undefined, 10_000, 'container added');
  expect(await cancel(jobId, 'U0A')).toMatch(/^Cancelling job `[0-9a-f]{16}`/);
  await cancelled(root);
  expect(slack.thread(CHANNEL, root.ts).at(-1)!.text).toMatch(/may keep running until its own deadline/);
  expect(JSON.stringify(slack.message(CHANNEL, root.ts)!.blocks)).not.toContain('kdebug_cancel');
  expect(containersOf(jobId)).toHaveLength(1);
  kube.setStartDelay(50);
  await running.stop();
});

test('the Cancel button stops a running job', async () => {
  const running = await worker();
  kube.setStartDelay(8000);
  const root = await startJob('U0B');
  const jobId = jobIdOf(root);
  await slack.waitFor(() => containersOf(jobId).length === 1 || undefined, 10_000, 'container added');
  const responseUrl = slack.responseUrl(CHANNEL, 'U0B');
  const payload = {
    type: 'block_actions',
    team: { id: slack.teamId, domain: slack.teamDomain },
    user: { id: 'U0B', username: 'bob', team_id: slack.teamId },
    api_app_id: slack.appId,
    token: 'legacyVerificationToken0',
    container: { type: 'message', message_ts: root.ts, channel_id: CHANNEL, is_ephemeral: false },
    trigger_id: `${Date.now()}.1.abc`,
    channel: { id: CHANNEL, name: 'incident' },
    message: { type: 'message', ts: root.ts, text: root.text },
    response_url: responseUrl,
    actions: [{ action_id: 'kdebug_cancel', block_id: 'b1', value: jobId, type: 'button', action_ts: `${Date.now() / 1000}` }],
  };
  const response = await sendSignedRequest(`http://127.0.0.1:${botPort}/slack/events`, SIGNING_SECRET, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
  expect(response.status).toBe(200);
  const reply = await slack.waitFor(() => slack.responses(responseUrl)[0], 5000, 'button reply');
  expect((reply.body as { text: string }).text).toMatch(/^Cancelling job/);
  await cancelled(root);
  kube.setStartDelay(50);
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
