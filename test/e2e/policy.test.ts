// Who may debug what, through the real bot and worker processes: policy refusals with the rule
// and whom to ask, whoami, the per-user rate limit, the per-pod container budget and its override,
// and one structured audit record per request, allowed or refused.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { SIGNING_SECRET, startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0POLICY';
const SRE = 'U0SRE';
const DEV = 'U0DEV';
const POLICY = `
version: 1
contact: "#platform-team"
defaults: { rate: { requests: 2, windowSeconds: 300 }, allowBudgetOverride: false }
rules:
  - name: sre-everything
    users: [${SRE}]
    namespaces: ["*"]
    checks: ["*"]
    limits: { rate: { requests: 100, windowSeconds: 60 }, allowBudgetOverride: true }
  - name: devs-dns-in-prod
    users: [${DEV}]
    namespaces: [prod]
    checks: [dns]
`;

let stack: Stack;
let slack: Stack['slack'];
let kube: Stack['kube'];
let bot: RoleProcess;
let worker: RoleProcess;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-policy-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  stack = await startStack({
    channels: { [CHANNEL]: {} },
    namespaces: { prod: {}, 'kube-system': {} },
    pods: [
      { namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] },
      { namespace: 'prod', name: 'api-0', containers: [{ name: 'app', image: 'api:1' }] },
    ],
    env: {
      KDEBUG_POLICY_PATH: join(dir, 'policy.yaml'),
      KDEBUG_LIMITS_POD_BUDGET_MAX_CONTAINERS: '2',
      KDEBUG_LIMITS_POD_BUDGET_OVERRIDE_MAX_CONTAINERS: '3',
      // One diagnostic at a time across all workers, so the cap is easy to see.
      KDEBUG_LIMITS_CONCURRENCY_MAX_RUNNING: '1',
    },
  });
  ({ slack, kube } = stack);
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/bot started/), worker.waitForOutput(/worker started/)]);
}, 60_000);

afterAll(() => stack?.stop());

let commands = 0;
type Audit = {
  audit: true;
  outcome: string;
  user: string;
  command: string;
  namespace?: string;
  pod?: string;
  container?: string;
  verdict?: string;
  durationMs?: number;
  policy?: { allowed: boolean; rule?: string; reason?: string };
  reason?: string;
  retryAfterSeconds?: number;
  jobId?: string;
  team: string;
  channel: string;
  requestTime: string;
};
const audits = (p: RoleProcess): Audit[] =>
  p
    .output()
    .split('\n')
    .filter((l) => l.includes('"audit":true'))
    .map((l) => JSON.parse(l) as Audit);

/** Waits for an audit record in a process's log (the log, not Slack, is where it appears). */
async function auditRecord(p: RoleProcess, matches: (a: Audit) => boolean, label: string): Promise<Audit> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = audits(p).find(matches);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${label} audit record in:\n${p.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Sends a command, in a channel of its own (Slack allows about one message a second per channel
 * and kdebug paces itself to that, so commands back to back in one channel would wait for it);
 * returns the channel, the ephemeral reply (if any) and the root message (if one was posted).
 */
async function send(user: string, text: string): Promise<{ channel: string; reply?: string; root?: StoredMessage }> {
  const channel = `${CHANNEL}${++commands}`;
  slack.addChannel(channel, { botIsMember: true });
  const { response, responseUrl } = await stack.command(text, { channel, user });
  expect(response.status).toBe(200);
  const outcome = await slack.waitFor(
    () => {
      const reply = slack.responses(responseUrl)[0];
      if (reply) return { channel, reply: (reply.body as { text: string }).text };
      const root = stack.roots(channel)[0];
      return root ? { channel, root } : undefined;
    },
    5000,
    `outcome of ${text}`,
  );
  return outcome;
}

async function finalText(root: StoredMessage): Promise<string> {
  return slack.waitFor(
    () => {
      const text = slack.message(root.channel, root.ts)!.text;
      return /: queued$|: running/.test(text) ? undefined : text;
    },
    40_000,
    'final status',
  );
}

test('a request no rule allows is refused with the reason and whom to ask, audited, and nothing is enqueued', async () => {
  const { reply, root, channel } = await send(DEV, 'dns coredns-0 -n kube-system');
  expect(root).toBeUndefined();
  expect(reply).toMatch(/^You can't run `dns` in namespace `kube-system`: .*default deny.*Ask #platform-team/);
  expect(stack.roots(channel)).toHaveLength(0);
  const record = await auditRecord(bot, (a) => a.outcome === 'refused' && a.namespace === 'kube-system', 'audit record');
  expect(record).toMatchObject({ user: DEV, channel, command: '/kdebug dns coredns-0 -n kube-system', policy: { allowed: false } });
  expect(record.requestTime).toMatch(/^\d{4}-\d\d-\d\dT/);
});

test('capture needs an explicit grant', async () => {
  const { reply } = await send(DEV, 'capture web-0 -n prod');
  expect(reply).toMatch(/You can't run `capture` in namespace `prod`/);
});

test('whoami shows what the user may run where', async () => {
  const { reply } = await send(DEV, 'whoami');
  expect(reply).toContain('devs-dns-in-prod');
  expect(reply).toMatch(/`dns`/);
  expect(reply).toMatch(/`prod`/);
});

test('an allowed request runs and both sides audit it: enqueued by the bot, done by the worker', async () => {
  const { root } = await send(DEV, 'dns web-0 -n prod');
  expect(await finalText(root!)).toMatch(/: ok: /);
  const enqueued = await auditRecord(bot, (a) => a.outcome === 'enqueued' && a.user === DEV, 'enqueued audit');
  const done = await auditRecord(worker, (a) => a.outcome === 'done' && a.jobId === enqueued.jobId, 'done audit');
  expect(enqueued.policy).toMatchObject({ allowed: true, rule: 'devs-dns-in-prod' });
  expect(done).toMatchObject({ user: DEV, namespace: 'prod', pod: 'web-0', verdict: 'ok', container: `kdebug-${enqueued.jobId}` });
  expect(done.durationMs).toBeGreaterThan(0);
});

test('the per-pod container budget refuses past its limit, and only a permitted override passes it', async () => {
  // Budget 2 (override ceiling 3); the previous test added one container to web-0.
  const second = await send(SRE, 'dns web-0 -n prod second.cluster.local.');
  expect(await finalText(second.root!)).toMatch(/: nxdomain: /);
  const third = await send(SRE, 'dns web-0 -n prod third.cluster.local.');
  expect(await finalText(third.root!)).toMatch(
    /failed: Not adding another debug container to pod web-0: this pod already has 2 kdebug debug containers \(budget 2\); ephemeral containers stay until the pod is replaced/,
  );
  expect(await auditRecord(worker, (a) => a.outcome === 'budget-exceeded', 'budget audit')).toMatchObject({ user: SRE });
  const devOverride = await send(DEV, 'dns web-0 -n prod devtry.cluster.local. --override-budget');
  expect(await finalText(devOverride.root!)).toMatch(/failed: Not adding another debug container/);
  const sreOverride = await send(SRE, 'dns web-0 -n prod override.cluster.local. --override-budget');
  expect(await finalText(sreOverride.root!)).toMatch(/: nxdomain: /);
  expect(kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.filter((c) => c.name.startsWith('kdebug-'))).toHaveLength(3);
});

test('the per-user rate limit answers with when to try again', async () => {
  // DEV's rule has the default rate: 2 requests per 300 s; both were used above.
  const { reply } = await send(DEV, 'dns web-0 -n prod again.cluster.local.');
  expect(reply).toMatch(/the most allowed\. Try again in \d+ s\./);
  expect(await auditRecord(bot, (a) => a.outcome === 'rate-limited', 'rate audit')).toMatchObject({ user: DEV });
});

test('the same request while one is in flight reuses it; the global cap makes a second job wait its turn', async () => {
  kube.setStartDelay(2500);
  const first = await send(SRE, 'dns api-0 -n prod');
  const again = await send(SRE, 'dns api-0 -n prod');
  expect(again.root).toBeUndefined();
  expect(again.reply).toMatch(/^The same `dns` on pod\/api-0 in `prod` is already running for you \(job [0-9a-f]{16}\)/);
  // A different request is accepted, but runs only once the first frees the single slot.
  const second = await send(SRE, 'dns api-0 -n prod other.cluster.local.');
  expect(await finalText(first.root!)).toMatch(/: ok: /);
  expect(await finalText(second.root!)).toMatch(/: nxdomain: /);
  kube.setStartDelay(50);
  const jobOf = (root: StoredMessage) => /job `([0-9a-f]{16})`/.exec(JSON.stringify(root.blocks))![1]!;
  const lines = worker
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { jobId?: string; msg?: string; status?: string; time: string });
  const firstDone = lines.findIndex((l) => l.jobId === jobOf(first.root!) && l.msg === 'job done');
  const secondAdded = lines.findIndex((l) => l.jobId === jobOf(second.root!) && /^added debug container/.test(l.status ?? ''));
  expect(firstDone).toBeGreaterThan(-1);
  expect(secondAdded).toBeGreaterThan(firstDone);
  // The freed slot goes straight to the waiting job, not at its next retry (which came every 5 s).
  const handOverMs = Date.parse(lines[secondAdded]!.time) - Date.parse(lines[firstDone]!.time);
  expect(handOverMs).toBeLessThan(1500);
  expect(kube.getPod('prod', 'api-0')!.spec.ephemeralContainers!.filter((c) => c.name.startsWith('kdebug-'))).toHaveLength(2);
});

test('no secret appears in anything the processes logged', () => {
  const logs = bot.output() + worker.output();
  for (const secret of [slack.botToken, SIGNING_SECRET]) expect(logs).not.toContain(secret);
});
