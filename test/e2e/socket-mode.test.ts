// Socket Mode (the usual choice inside a cluster: no ingress) with both roles in one process,
// `kdebug all`: the real Bolt SocketModeClient connects to the Slack emulator's WebSocket, acks the
// slash command, and the same process runs the job.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../support/dns-server.js';
import { KubeEmulator } from '../support/kube-emulator.js';
import { netnsAvailable } from '../support/netns.js';
import { startRole, type RoleProcess } from '../support/processes.js';
import { testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator } from '../support/slack-emulator.js';

const CHANNEL = 'C0SOCKET';
let redis: TestRedis;
let slack: SlackEmulator;
let kube: KubeEmulator;
let dns: DnsServer;
let all: RoleProcess;

beforeAll(async () => {
  const missing = await netnsAvailable();
  if (missing) throw new Error(`this end-to-end test runs dig in per-pod network namespaces, and ${missing}`);
  redis = await testRedis();
  slack = new SlackEmulator();
  await slack.start();
  slack.addChannel(CHANNEL, { botIsMember: true });
  kube = new KubeEmulator({ netns: true });
  await kube.start();
  kube.addNamespace('default');
  const { network } = await kube.addPod({ namespace: 'default', name: 'api-0', containers: [{ name: 'api', image: 'api:1' }] });
  dns = new DnsServer({ host: network!.hostIp, port: 53 });
  await dns.start();
  dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-socket-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  all = startRole('all', {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    KDEBUG_REDIS_KEY_PREFIX: redis.prefix,
    KUBECONFIG: kubeconfig,
  });
  await all.waitForOutput(/"transport":"socket".*"msg":"bot started"/);
}, 60_000);

afterAll(async () => {
  await all?.stop();
  await dns?.stop();
  await kube?.stop();
  await slack?.stop();
  await redis?.stop();
});

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
