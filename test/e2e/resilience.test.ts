// Health, readiness and metrics endpoints, graceful shutdown that hands a running job to another
// worker, and a Redis restart (AOF on, as shipped) that loses no acknowledged command.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../../src/playground/dns-server.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';
import { netnsAvailable } from '../../src/playground/netns.js';
import { startRole, type RoleProcess } from '../support/processes.js';
import { freePort } from '../support/redis.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';
import { sendSlashCommand } from '../../src/playground/slack-signing.js';

const SIGNING_SECRET = 'resilience-signing-secret';
// Redis with a password, as a real installation has: it must never show in a log or a message.
const REDIS_PASSWORD = 'r3dis-pa55word-do-not-log';
const CHANNEL = 'C0RESILIENCE';

let slack: SlackEmulator;
let kube: KubeEmulator;
let dns: DnsServer;
let kubeconfig: string;
let redisPort: number;
let redisDir: string;
let redisServer: ChildProcess | undefined;
const processes: RoleProcess[] = [];

async function startRedis(): Promise<void> {
  // As the Helm chart ships it: append-only file on, noeviction.
  redisServer = spawn(
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      redisDir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      '--requirepass',
      REDIS_PASSWORD,
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const ping = spawn('redis-cli', ['-p', String(redisPort), '--no-auth-warning', '-a', REDIS_PASSWORD, 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      ping.stdout.on('data', (d: Buffer) => (out += d.toString()));
      ping.on('close', () => resolve(out.trim() === 'PONG'));
      ping.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server did not answer on port ${redisPort}; is redis-server installed? (scripts/setup.sh installs it)`);
}

async function stopRedis(): Promise<void> {
  const server = redisServer;
  redisServer = undefined;
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}`,
    KUBECONFIG: kubeconfig,
    ...extra,
  };
}

function role(name: 'bot' | 'worker' | 'all', extra: Record<string, string> = {}): RoleProcess {
  const started = startRole(name, env(extra));
  processes.push(started);
  return started;
}

async function healthPort(p: RoleProcess): Promise<number> {
  await p.waitForOutput(/"port":\d+,"msg":"health endpoints/);
  return Number(/"port":(\d+),"msg":"health endpoints/.exec(p.output())![1]);
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

async function command(botPort: number, text: string): Promise<void> {
  const response = await sendSlashCommand(
    `http://127.0.0.1:${botPort}/slack/events`,
    SIGNING_SECRET,
    slack.slashCommand({ channel_id: CHANNEL, user_id: 'U0SRE', command: '/kdebug', text }),
  );
  expect(response.status).toBe(200);
}

const roots = () => slack.messages(CHANNEL).filter((m) => !m.thread_ts);
const finalText = (ts: string) => slack.message(CHANNEL, ts)!.text;
const kdebugContainers = (pod: string) => (kube.getPod('prod', pod)!.spec?.ephemeralContainers ?? []).filter((c) => c.name.startsWith('kdebug-'));

beforeAll(async () => {
  const missing = await netnsAvailable();
  if (missing) throw new Error(`this end-to-end test runs dig in per-pod network namespaces, and ${missing}`);
  slack = new SlackEmulator();
  await slack.start();
  slack.addChannel(CHANNEL, { botIsMember: true });
  kube = new KubeEmulator({ netns: true });
  await kube.start();
  kube.addNamespace('prod');
  for (const name of ['web-0', 'web-1', 'web-2']) {
    const { network } = await kube.addPod({ namespace: 'prod', name, containers: [{ name: 'app', image: 'web:1' }] });
    if (name === 'web-0') {
      dns = new DnsServer({ host: network!.hostIp, port: 53 });
      await dns.start();
      dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
    } else {
      // The other pods' resolvers point at their own host-side address: give each a server too.
      const extra = new DnsServer({ host: network!.hostIp, port: 53 });
      await extra.start();
      extra.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
      afterAllStops.push(() => extra.stop());
    }
  }
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-resilience-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  redisPort = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), 'kdebug-redis-'));
  await startRedis();
}, 60_000);

const afterAllStops: Array<() => Promise<void>> = [];

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await stopRedis();
  for (const stop of afterAllStops) await stop();
  await dns?.stop();
  await kube?.stop();
  await slack?.stop();
});

test('health, readiness and metrics endpoints', async () => {
  const port = await freePort();
  const all = role('all', { PORT: String(port) });
  const health = await healthPort(all);
  expect(await get(health, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  expect(await get(health, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
  await command(port, 'dns web-0 -n prod');
  const root = await slack.waitFor(() => roots()[0], 5000, 'root');
  await slack.waitFor(() => / ok: /.test(` ${finalText(root.ts)}`) || undefined, 30_000, 'answer');
  const metrics = await get(health, '/metrics');
  expect(metrics.body).toMatch(/^kdebug_requests_total\{check="dns",outcome="enqueued"\} 1$/m);
  expect(metrics.body).toMatch(/^kdebug_verdicts_total\{check="dns",verdict="ok"\} 1$/m);
  expect(metrics.body).toMatch(/^kdebug_ephemeral_containers_added_total\{namespace="prod"\} 1$/m);
  expect(metrics.body).toMatch(/^kdebug_job_duration_seconds_count\{check="dns"\} 1$/m);
  expect(metrics.body).toMatch(/^kdebug_queue_jobs\{state="completed"\} \d+$/m);
  // Each step from the answer to Slack, once for the one job.
  for (const step of ['handover', 'pickup', 'post']) expect(metrics.body).toMatch(new RegExp(`^kdebug_answer_step_seconds_count\\{step="${step}"\\} 1$`, 'm'));
  await all.stop();
  expect(all.child.exitCode).toBe(0);
});

test('SIGTERM past the grace period hands the running job to another worker: one container, one answer', async () => {
  const port = await freePort();
  const bot = role('bot', { PORT: String(port) });
  const first = role('worker', { KDEBUG_SHUTDOWN_GRACE_SECONDS: '1' });
  await Promise.all([bot.waitForOutput(/bot started/), first.waitForOutput(/worker started/)]);
  kube.setStartDelay(4000); // the container sits in ContainerCreating while the worker is stopped
  const before = roots().length;
  await command(port, 'dns web-1 -n prod');
  const root = await slack.waitFor(() => roots()[before], 5000, 'root');
  await slack.waitFor(() => kdebugContainers('web-1').length === 1, 10_000, 'container added');
  await first.stop();
  expect(first.output()).toContain('handing the job back to the queue');
  const second = role('worker');
  await slack
    .waitFor(() => /: ok: /.test(finalText(root.ts)) || undefined, 30_000, 'answer from the second worker')
    .catch((err: Error) => {
      const thread = JSON.stringify(slack.thread(CHANNEL, root.ts).map((m) => m.blocks));
      throw new Error(`${err.message}\n--- thread ---\n${thread}\n--- first worker ---\n${first.output()}\n--- second worker ---\n${second.output()}`);
    });
  kube.setStartDelay(50);
  expect(kdebugContainers('web-1')).toHaveLength(1);
  expect(slack.thread(CHANNEL, root.ts).filter((m) => m.text.startsWith('ok: '))).toHaveLength(1);
  expect(second.output()).toMatch(/found debug container kdebug-[0-9a-f]{16} in pod \S+ from an earlier attempt/);
  await Promise.all([bot.stop(), second.stop()]);
});

test('SIGTERM to the bot: a command it already acknowledged still gets its root message and job', async () => {
  const port = await freePort();
  const bot = role('bot', { PORT: String(port) });
  const worker = role('worker');
  await Promise.all([bot.waitForOutput(/bot started/), worker.waitForOutput(/worker started/)]);
  const before = roots().length;
  // Slack is slow to take the root message: the command is still being handled when SIGTERM comes.
  slack.inject('chat.postMessage', { delayMs: 1500 }, 1);
  await command(port, 'dns web-0 -n prod');
  const stopping = bot.stop();
  const root = await slack.waitFor(() => roots()[before], 5000, 'root message posted during shutdown');
  await stopping;
  expect(bot.child.exitCode).toBe(0);
  await slack.waitFor(() => /: ok: /.test(finalText(root.ts)) || undefined, 30_000, 'answer');
  await worker.stop();
});

test('a Redis restart loses no acknowledged command; readiness follows the outage', async () => {
  const port = await freePort();
  const bot = role('bot', { PORT: String(port) });
  const worker = role('worker');
  const [botHealth] = await Promise.all([healthPort(bot), worker.waitForOutput(/worker started/)]);
  await worker.stop(); // nobody takes the job before the restart
  const before = roots().length;
  await command(port, 'dns web-2 -n prod');
  const root = await slack.waitFor(() => roots()[before], 5000, 'root');
  await new Promise((r) => setTimeout(r, 1200)); // appendfsync everysec

  await stopRedis();
  let ready = await get(botHealth, '/readyz');
  for (let i = 0; i < 50 && ready.status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await get(botHealth, '/readyz');
  }
  expect(ready.status).toBe(503);
  expect(ready.body).toMatch(/^redis: connection is /m);

  await startRedis();
  for (let i = 0; i < 100 && ready.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await get(botHealth, '/readyz');
  }
  expect(ready.status).toBe(200);

  const replacement = role('worker');
  await replacement.waitForOutput(/worker started/);
  await slack.waitFor(() => /: ok: /.test(finalText(root.ts)) || undefined, 30_000, 'the command acknowledged before the restart is answered');
  // And the bot, reconnected by itself, still takes new commands.
  await command(port, 'dns web-0 -n prod');
  const next = await slack.waitFor(() => roots()[before + 1], 5000, 'second root');
  await slack.waitFor(() => /: ok: /.test(finalText(next.ts)) || undefined, 30_000, 'answer after the restart');

  // A longer outage with the worker running all along (BullMQ workers have been known to stop
  // taking jobs after one): once Redis is back, the same worker answers a new command.
  await stopRedis();
  await new Promise((r) => setTimeout(r, 8000));
  await startRedis();
  for (let i = 0; i < 100 && (await get(botHealth, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  await command(port, 'dns web-0 -n prod');
  const afterLongOutage = await slack.waitFor(() => roots()[before + 2], 10_000, 'third root');
  await slack.waitFor(() => /: ok: /.test(finalText(afterLongOutage.ts)) || undefined, 40_000, 'answer from the worker that lived through the outage');
  await Promise.all([bot.stop(), replacement.stop()]);
}, 120_000);

test('the Redis password never appears in what the processes logged or posted', () => {
  const logs = processes.map((p) => p.output()).join('\n');
  expect(logs.length).toBeGreaterThan(0);
  expect(logs).not.toContain(REDIS_PASSWORD);
  expect(logs).not.toContain(slack.botToken);
  expect(logs).not.toContain(SIGNING_SECRET);
  const posted = JSON.stringify(slack.calls.map((c) => c.args));
  for (const secret of [REDIS_PASSWORD, SIGNING_SECRET]) expect(posted).not.toContain(secret);
});
