// The whole path for `/kdebug dns`, with every part real except Slack and the Kubernetes API
// (emulated at their wire protocols): a signed slash command reaches the bot process, the job
// goes through Redis to the worker process, which adds an ephemeral container to the pod; the
// emulated kubelet runs the real dig inside the pod's network namespace against a real DNS server,
// and the verdict and output come back as a threaded reply.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME, type DiagnosticJob } from '../../src/queue/job.js';
import type { DnsServer } from '../../src/playground/dns-server.js';
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { request, Agent } from 'node:http';
import { sendSlashCommand, signedHeaders, slashCommandBody } from '../../src/playground/slack-signing.js';
import { SIGNING_SECRET, startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0INCIDENT';
const QUIET_CHANNEL = 'C0QUIET';
const USER = 'U0ONCALL';

let stack: Stack;
let slack: Stack['slack'];
let kube: Stack['kube'];
let dns: DnsServer;
let bot: RoleProcess;
let worker: RoleProcess;
let botUrl: string;
let queue: Queue<DiagnosticJob>;
let queueRedis: Redis;

beforeAll(async () => {
  const search = ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
  stack = await startStack({
    channels: { [CHANNEL]: { members: [USER] }, [QUIET_CHANNEL]: { botIsMember: false, members: [USER] } },
    pods: [
      { namespace: 'prod', name: 'web-0', labels: { app: 'web' }, containers: [{ name: 'app', image: 'registry.local/web:1' }], network: { search, ndots: 5 } },
      { namespace: 'prod', name: 'web-1', labels: { app: 'web' }, containers: [{ name: 'app', image: 'registry.local/web:1' }], phase: 'Pending' },
    ],
    env: { KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30' },
  });
  ({ slack, kube } = stack);
  kube.addWorkload('deployment', { namespace: 'prod', name: 'web', matchLabels: { app: 'web' } });
  const web0 = stack.pods.get('prod/web-0')!.dns;
  web0.addRecord('payments.prod.svc.cluster.local', 'A', '10.96.3.7');
  dns = web0;
  botUrl = `http://127.0.0.1:${stack.botPort}`;
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/"msg":"bot started"/), worker.waitForOutput(/"msg":"worker started"/)]);

  queueRedis = new Redis(stack.redis!.url, { maxRetriesPerRequest: null });
  queue = new Queue<DiagnosticJob>(QUEUE_NAME, { connection: queueRedis, prefix: stack.redis!.prefix });
}, 60_000);

afterAll(async () => {
  await queue?.close();
  queueRedis?.disconnect();
  await stack?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) {
    process.stderr.write(`--- bot output ---\n${bot.output()}\n--- worker output ---\n${worker.output()}\n`);
  }
});

function command(text: string, extra: { channel_id?: string; trigger_id?: string } = {}) {
  return slack.slashCommand({
    channel_id: extra.channel_id ?? CHANNEL,
    user_id: USER,
    user_name: 'alice',
    command: '/kdebug',
    text,
    ...(extra.trigger_id ? { trigger_id: extra.trigger_id } : {}),
  });
}

async function send(text: string, extra: { channel_id?: string; trigger_id?: string } = {}, opts: { retryNum?: number } = {}) {
  const response = await sendSlashCommand(`${botUrl}/slack/events`, SIGNING_SECRET, command(text, extra), opts);
  expect(response.status).toBe(200);
  // Slack's limit for the acknowledgement is 3 seconds.
  expect(response.elapsedMs).toBeLessThan(3000);
  return response;
}

const rootsIn = (channel: string) => slack.messages(channel).filter((m) => !m.thread_ts);
/** The text a person sees in a message's blocks. */
function blockText(m: StoredMessage): string {
  type Block = { text?: { text?: string }; elements?: Array<{ text?: string }> };
  return ((m.blocks ?? []) as Block[]).flatMap((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => e.text ?? '')]).join('\n');
}

/** Every job this run's queue holds whose command matches, whatever its state. */
async function jobsWhere(predicate: (data: { commandText: string; reply: { channel: string } }) => boolean) {
  const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children']);
  return jobs.filter((job) => predicate(job.data));
}

/** Sends a command and waits for its root message to reach a final state; returns root and thread. */
async function runToCompletion(text: string) {
  const before = rootsIn(CHANNEL).length;
  await send(text);
  const root = await slack.waitFor(() => rootsIn(CHANNEL)[before], 5000, `root message for "${text}"`);
  expect(root.history[0]!.text).toMatch(/: queued$/);
  const final = await slack
    .waitFor(
      () => {
        const current = slack.message(CHANNEL, root.ts)!;
        return /: (ok|nxdomain|servfail|refused|timeout|no-answer|failed)\b/.test(current.text) ? current : undefined;
      },
      45_000,
      `final status for "${text}"`,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}\n--- root ---\n${slack.message(CHANNEL, root.ts)!.text}\n--- worker ---\n${worker.output().slice(-6000)}`);
    });
  return { root: final, thread: slack.thread(CHANNEL, root.ts) };
}

describe('/kdebug dns, end to end', () => {
  test('a name that resolves: the real dig output with verdict ok, threaded under the root message', async () => {
    const { root, thread } = await runToCompletion('dns web-0 -n prod');
    expect(root.text).toMatch(/^dns web-0 in prod: ok: kubernetes\.default\.svc\.cluster\.local → 10\.96\.0\.1 via 10\.213\.\d+\.\d+/);
    expect(blockText(root)).toMatch(/requested by <@U0ONCALL>.*\(\d+\.\d s\)/);
    const reply = thread.find((m) => blockText(m).includes('*ok*'));
    expect(reply).toBeDefined();
    const shown = blockText(reply!);
    // Genuine dig output, run in the pod's namespace, against the pod's resolver.
    expect(shown).toContain('$ dig -r +search +time=2 +tries=1 -t A -q kubernetes.default.svc.cluster.local');
    expect(shown).toContain('status: NOERROR');
    expect(shown).toMatch(/^kubernetes\.default\.svc\.cluster\.local\.\s+\d+\s+IN\s+A\s+10\.96\.0\.1$/m);
    expect(shown).toContain('search prod.svc.cluster.local svc.cluster.local cluster.local');
    expect(dns.queries.some((q) => q.name === 'kubernetes.default.svc.cluster.local')).toBe(true);

    // Exactly one ephemeral container, with least privilege, targeting the pod's container.
    const pod = kube.getPod('prod', 'web-0')!;
    const containers = pod.spec?.ephemeralContainers ?? [];
    const ours = containers.filter((c) => c.name.startsWith('kdebug-'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({
      image: 'nicolaka/netshoot',
      targetContainerName: 'app',
      securityContext: { privileged: false, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(ours[0]!.securityContext?.capabilities?.add).toBeUndefined();
    expect(kube.requests).toContainEqual(expect.objectContaining({ verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'prod', name: 'web-0' }));
    expect(kube.requests).toContainEqual(expect.objectContaining({ verb: 'watch', resource: 'pods', namespace: 'prod' }));
  });

  test('a name that does not exist: verdict nxdomain', async () => {
    const { root, thread } = await runToCompletion('dns web-0 -n prod payments.prod.svc.cluster.local nosuch.prod.svc.cluster.local');
    expect(root.text).toMatch(/^dns web-0 in prod: nxdomain: NXDOMAIN for nosuch\.prod\.svc\.cluster\.local/);
    const shown = thread.map(blockText).join('\n');
    expect(shown).toContain('status: NXDOMAIN');
    expect(shown).toContain('10.96.3.7');
  });

  test('a deployment target picks a running pod and says which', async () => {
    const { root, thread } = await runToCompletion('dns deploy/web -n prod');
    expect(root.text).toMatch(/^dns deployment\/web in prod: ok/);
    expect(thread[0]!.text).toBe('deployment/web: picked pod web-0 (1 of 2 running)');
  });

  test('a slow progress update never overwrites the final status', async () => {
    // The container starts after 4 s, so the job sends one progress update (3 s after it started).
    kube.setStartDelay(4000);
    const before = rootsIn(CHANNEL).length;
    try {
      await send('dns web-0 -n prod');
      await slack.waitFor(() => rootsIn(CHANNEL)[before], 5000, 'root message');
      // The next chat.update (that progress update) answers late; the job finishes meanwhile.
      slack.inject('chat.update', { delayMs: 1500 }, 1);
      const root = rootsIn(CHANNEL)[before]!;
      await slack.waitFor(() => / ok: /.test(` ${slack.message(CHANNEL, root.ts)!.text}`) || undefined, 30_000, 'final status');
      await new Promise((r) => setTimeout(r, 2000));
      const versions = slack.message(CHANNEL, root.ts)!.history.map((v) => v.text);
      expect(versions.some((text) => /: running/.test(text))).toBe(true);
      expect(versions.at(-1)).toMatch(/^dns web-0 in prod: ok: /);
    } finally {
      kube.setStartDelay(50);
    }
  });

  test('progress updates coalesce: a job done within 3 s sends none, a longer one at most one every 3 s', async () => {
    const quick = await runToCompletion('dns web-0 -n prod');
    // The root message: posted (queued), then its final status; nothing in between.
    expect(slack.message(CHANNEL, quick.root.ts)!.history).toHaveLength(2);
    kube.setStartDelay(7000);
    try {
      const slow = await runToCompletion('dns web-0 -n prod');
      const updates = slack.callsTo('chat.update').filter((c) => c.args.ts === slow.root.ts);
      const progress = updates.slice(0, -1);
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress.length).toBeLessThanOrEqual(3);
      for (let i = 1; i < updates.length - 1; i++) expect(updates[i]!.time - updates[i - 1]!.time).toBeGreaterThanOrEqual(2900);
      expect(updates.at(-1)!.args.text).toMatch(/: ok: /);
    } finally {
      kube.setStartDelay(50);
    }
  });

  test('a pod that does not exist: a clear failure naming similar pods', async () => {
    const { root, thread } = await runToCompletion('dns web-9 -n prod');
    expect(root.text).toMatch(/failed: Pod web-9 not found in namespace prod\. Similar pods there: web-0, web-1\./);
    expect(thread.map((m) => m.text)).toContain('Pod web-9 not found in namespace prod. Similar pods there: web-0, web-1.');
  });

  test('a pod that is not running is refused with its state', async () => {
    const { root } = await runToCompletion('dns web-1 -n prod');
    expect(root.text).toMatch(/failed: Pod web-1 in prod is Pending.*not Running/);
  });

  test.each([
    ['dsn web-0 -n prod', /did you mean `dns`/i],
    ['dns', /which pod/i],
    ['dns Web-0 -n prod', /lower-case/],
    ['dns web-0 --namespce prod', /did you mean `--namespace`/i],
    ['dns web-0 -n prod --timeout 2h', /timeout/i],
  ])('bad input "%s" gets a usage reply and enqueues nothing', async (text, pattern) => {
    const rootsBefore = rootsIn(CHANNEL).length;
    const response = await send(text);
    const body = JSON.parse(response.body) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toMatch(pattern);
    expect(body.text).not.toMatch(/at \w+ \(|Error:/); // never a stack trace
    await new Promise((r) => setTimeout(r, 300));
    expect(rootsIn(CHANNEL)).toHaveLength(rootsBefore);
    expect(await jobsWhere((data) => data.commandText === `/kdebug ${text}`)).toHaveLength(0);
  });

  test('help answers only the requester', async () => {
    const body = JSON.parse((await send('help dns')).body) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('dns &lt;target&gt;');
  });

  test("the bot keeps an idle connection open longer than Node's 5 s, so a proxy's pooled connections are still open when a burst comes", async () => {
    // One keep-alive connection, as a reverse proxy's upstream pool holds it: a command, 6 s idle
    // (Node's default keepAliveTimeout is 5 s), then a command over the same connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (text: string) =>
      new Promise<{ status: number; reusedSocket: boolean }>((resolve, reject) => {
        const body = slashCommandBody(command(text));
        const headers = signedHeaders(SIGNING_SECRET, body, 'application/x-www-form-urlencoded');
        const req = request(`${botUrl}/slack/events`, { method: 'POST', agent, headers });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reusedSocket: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect(await post('help')).toEqual({ status: 200, reusedSocket: false });
      await new Promise((r) => setTimeout(r, 6000));
      expect(await post('help dns')).toEqual({ status: 200, reusedSocket: true });
    } finally {
      agent.destroy();
    }
  }, 20_000);

  test("Slack's retries of one command create one root message and one job", async () => {
    const trigger = `retry-${Date.now()}`;
    const rootsBefore = rootsIn(CHANNEL).length;
    const jobsBefore = (await jobsWhere(() => true)).length;
    const containersBefore = kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers?.length ?? 0;
    await send('dns web-0 -n prod', { trigger_id: trigger });
    await send('dns web-0 -n prod', { trigger_id: trigger }, { retryNum: 1 });
    await send('dns web-0 -n prod', { trigger_id: trigger }, { retryNum: 2 });
    const root = await slack.waitFor(() => rootsIn(CHANNEL)[rootsBefore], 5000, 'root message');
    await slack.waitFor(() => /: ok:/.test(slack.message(CHANNEL, root.ts)!.text), 45_000, 'final status');
    expect(rootsIn(CHANNEL)).toHaveLength(rootsBefore + 1);
    expect(await jobsWhere(() => true)).toHaveLength(jobsBefore + 1);
    expect(kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers).toHaveLength(containersBefore + 1);
    expect(slack.thread(CHANNEL, root.ts).filter((m) => blockText(m).includes('*ok*'))).toHaveLength(1);
  });

  test('a channel the bot is not in: the user is told how to invite it, and nothing is started', async () => {
    const fields = command('dns web-0 -n prod', { channel_id: QUIET_CHANNEL });
    const response = await sendSlashCommand(`${botUrl}/slack/events`, SIGNING_SECRET, fields);
    expect(response.status).toBe(200);
    const posted = await slack.waitFor(() => slack.responses(fields.response_url)[0], 5000, 'response_url post');
    const body = posted.body as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('/invite <@U0KDEBUGBOT>');
    expect(body.text).toContain('/kdebug dns web-0 -n prod');
    expect(rootsIn(QUIET_CHANNEL)).toHaveLength(0);
    expect(await jobsWhere((data) => data.reply.channel === QUIET_CHANNEL)).toHaveLength(0);
  });

  test('badly signed and stale requests are refused with 401', async () => {
    expect((await sendSlashCommand(`${botUrl}/slack/events`, SIGNING_SECRET, command('dns web-0 -n prod'), { badSignature: true })).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    expect((await sendSlashCommand(`${botUrl}/slack/events`, SIGNING_SECRET, command('dns web-0 -n prod'), { timestamp: stale })).status).toBe(401);
  });

  test('one request id follows a command from Slack through the queue to the reply, in JSON logs', () => {
    type Line = { msg?: string; jobId?: string };
    const lines = (p: RoleProcess): Line[] =>
      p
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
    const enqueued = lines(bot).find((l) => l.msg === 'job enqueued');
    expect(enqueued?.jobId).toMatch(/^[0-9a-f]{16}$/);
    const messagesOf = (p: RoleProcess) =>
      lines(p)
        .filter((l) => l.jobId === enqueued!.jobId)
        .map((l) => l.msg);
    expect(messagesOf(worker)).toEqual(expect.arrayContaining(['debug container progress', 'job done']));
    // The answer is delivered by whichever process takes its delivery job: the worker, or the bot
    // (which delivers for workers without Slack credentials too).
    expect([...messagesOf(worker), ...messagesOf(bot)]).toContain('results delivered');
  });

  test('no secret appears in anything the processes logged', () => {
    const logs = bot.output() + worker.output();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [slack.botToken, SIGNING_SECRET]) expect(logs).not.toContain(secret);
  });
});
