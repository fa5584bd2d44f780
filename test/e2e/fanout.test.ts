// `--all` end to end: a signed slash command reaches the bot process, one job goes through Redis to
// the worker process, which adds a debug container to every pod of the workload (each pod in its
// own network namespace, the real dig against a real DNS server per pod), compares the findings and
// answers with ONE threaded reply. The pods sit on emulated nodes in two zones; the failures are
// made by the pods' own resolvers, so the comparison has to find what the failing pods share.
import { execFile } from 'node:child_process';
import type { AddPodOptions, KubeObject } from '../../src/playground/kube-emulator.js';
import type { RoleProcess } from '../support/processes.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';

const CHANNEL = 'C0FANOUT';
const USER = 'U0ONCALL';
const NAME = 'payments.prod.svc.cluster.local';

const NODES = {
  'ip-10-0-1-4': 'eu-west-1a',
  'ip-10-0-1-9': 'eu-west-1a',
  'ip-10-0-2-5': 'eu-west-1b',
  'ip-10-0-3-7': 'eu-west-1b',
} as const;
type Node = keyof typeof NODES;

/** Pods whose resolver does not know NAME (NXDOMAIN); every other pod answers 10.96.3.7. */
const BROKEN = new Set([
  // deploy/web: the two pods on node ip-10-0-3-7
  'web-7c4b9d8f5-e',
  'web-7c4b9d8f5-f',
  // deploy/api: the new ReplicaSet of a rollout, on the same nodes as the old one
  'api-6c9d7f8b4-a',
  'api-6c9d7f8b4-b',
  // deploy/pay: the pods in zone eu-west-1b, on two different nodes
  'pay-7b8c9d-c',
  'pay-7b8c9d-d',
]);

let stack: Stack;
let bot: RoleProcess;
let worker: RoleProcess;

beforeAll(async () => {
  stack = await startStack({
    channels: { [CHANNEL]: { members: [USER] } },
    pods: (kube) => {
      for (const [node, zone] of Object.entries(NODES)) kube.addNode(node, { zone });
      const pods: AddPodOptions[] = [];
      const add = (owner: KubeObject, name: string, nodeName: Node, phase?: AddPodOptions['phase']) =>
        pods.push({ namespace: 'prod', name, owner, nodeName, containers: [{ name: 'app', image: 'registry.local/app:1' }], ...(phase ? { phase } : {}) });
      const deployment = (name: string, replicas: number) => kube.addWorkload('deployment', { namespace: 'prod', name, matchLabels: { app: name }, replicas });

      deployment('web', 6);
      const web = kube.addReplicaSet({ namespace: 'prod', deployment: 'web', hash: '7c4b9d8f5' });
      for (const [suffix, node] of [
        ['a', 'ip-10-0-1-4'],
        ['b', 'ip-10-0-1-4'],
        ['c', 'ip-10-0-2-5'],
        ['d', 'ip-10-0-2-5'],
        ['e', 'ip-10-0-3-7'],
        ['f', 'ip-10-0-3-7'],
      ] as const)
        add(web, `web-7c4b9d8f5-${suffix}`, node);

      deployment('api', 4);
      const oldApi = kube.addReplicaSet({ namespace: 'prod', deployment: 'api', hash: '5d9f8b7c6d', replicas: 2 });
      const newApi = kube.addReplicaSet({ namespace: 'prod', deployment: 'api', hash: '6c9d7f8b4', replicas: 2 });
      add(oldApi, 'api-5d9f8b7c6d-a', 'ip-10-0-1-4');
      add(oldApi, 'api-5d9f8b7c6d-b', 'ip-10-0-2-5');
      add(newApi, 'api-6c9d7f8b4-a', 'ip-10-0-1-4');
      add(newApi, 'api-6c9d7f8b4-b', 'ip-10-0-2-5');

      deployment('pay', 4);
      const pay = kube.addReplicaSet({ namespace: 'prod', deployment: 'pay', hash: '7b8c9d' });
      add(pay, 'pay-7b8c9d-a', 'ip-10-0-1-4');
      add(pay, 'pay-7b8c9d-b', 'ip-10-0-1-9');
      add(pay, 'pay-7b8c9d-c', 'ip-10-0-2-5');
      add(pay, 'pay-7b8c9d-d', 'ip-10-0-3-7');

      deployment('edge', 3);
      const edge = kube.addReplicaSet({ namespace: 'prod', deployment: 'edge', hash: '4f5g6h' });
      add(edge, 'edge-4f5g6h-a', 'ip-10-0-1-4');
      add(edge, 'edge-4f5g6h-b', 'ip-10-0-2-5', 'Pending');
      add(edge, 'edge-4f5g6h-c', 'ip-10-0-1-9');
      return pods;
    },
    // Two debug containers per pod at most: edge-4f5g6h-c is filled up before its --all.
    env: { KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30', KDEBUG_LIMITS_POD_BUDGET_MAX_CONTAINERS: '2' },
  });
  for (const [key, { dns }] of stack.pods) if (!BROKEN.has(key.split('/')[1]!)) dns.addRecord(NAME, 'A', '10.96.3.7');
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/"msg":"bot started"/), worker.waitForOutput(/"msg":"worker started"/)]);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) process.stderr.write(`--- bot ---\n${bot.output()}\n--- worker ---\n${worker.output()}\n`);
});

const text = (m: StoredMessage) => `${m.text ?? ''}\n${JSON.stringify(m.blocks ?? [])}`;

/** Sends a command; resolves with its root message and its thread's replies once the root shows a final status. */
async function ask(command: string): Promise<{ root: StoredMessage; replies: StoredMessage[] }> {
  const before = stack.roots(CHANNEL).length;
  const { response } = await stack.command(command, { channel: CHANNEL, user: USER });
  expect(response.status).toBe(200);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const root = stack.roots(CHANNEL)[before];
    if (root && !/: (queued|running)/.test(root.text ?? '')) {
      // The attached files are shared into the thread as messages of their own; the answer is the rest.
      const replies = stack.slack.messages(CHANNEL).filter((m) => m.thread_ts === root.ts && !m.files?.length);
      if (replies.length > 0) return { root, replies };
    }
    if (Date.now() > deadline) throw new Error(`no final answer to ${command}; roots: ${JSON.stringify(stack.roots(CHANNEL).slice(before))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The table of a comparison reply: { pod: [odd, verdict] }. */
function tableOf(reply: StoredMessage): Map<string, { odd: boolean; line: string }> {
  const table = (reply.blocks ?? []).map((b) => JSON.stringify(b)).find((b) => b.includes('verdict') && b.includes('```'));
  if (!table) throw new Error(`no table in ${JSON.stringify(reply.blocks)}`);
  const lines = (JSON.parse(table) as { text: { text: string } }).text.text.replace(/```/g, '').split('\n').slice(1);
  return new Map(lines.filter((l) => l.trim()).map((line) => [line.slice(1).trim().split(/\s+/)[0]!, { odd: line.startsWith('!'), line }]));
}

const oddPods = (reply: StoredMessage) => [...tableOf(reply)].filter(([, row]) => row.odd).map(([pod]) => pod);

test('one node with a broken resolver: one reply names the node and exactly its two pods', async () => {
  const { root, replies } = await ask(`dns deploy/web --all ${NAME} -n prod`);
  expect(replies).toHaveLength(1);
  const [reply] = replies;
  expect(reply!.text).toBe('2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7');
  expect(oddPods(reply!)).toEqual(['web-7c4b9d8f5-e', 'web-7c4b9d8f5-f']);
  const table = tableOf(reply!);
  expect([...table.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `web-7c4b9d8f5-${s}`));
  // Node and zone in every row, the key figure: the answer or NXDOMAIN.
  expect(table.get('web-7c4b9d8f5-e')!.line).toMatch(/ip-10-0-3-7\s+eu-west-1b\s+nxdomain\s+NXDOMAIN/);
  expect(table.get('web-7c4b9d8f5-a')!.line).toMatch(/ip-10-0-1-4\s+eu-west-1a\s+ok\s+10\.96\.3\.7/);
  expect(text(reply!)).toContain('all 6 pods');
  // The root message says the same, with the job's status; each pod got its own debug container.
  expect(root.text).toBe('dns deployment/web --all in prod: 2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7');
  for (const pod of table.keys()) expect(stack.kube.getPod('prod', pod)!.spec.ephemeralContainers?.filter((c) => c.name.startsWith('kdebug-'))).toHaveLength(1);
  // Every pod's output in one file (6 dig transcripts do not fit inline).
  const files = stack.slack.files().filter((f) => f.thread_ts === root.ts);
  expect(files.map((f) => f.name)).toEqual([expect.stringMatching(/^dns-web-[0-9a-f]{16}\.txt$/)]);
  const content = files[0]!.bytes!.toString('utf8');
  for (const pod of table.keys()) expect(content).toContain(`== ${pod} (node `);
  expect(content).toMatch(/== web-7c4b9d8f5-e \(node ip-10-0-3-7, zone eu-west-1b\): nxdomain:/);
}, 90_000);

test('a rollout whose new ReplicaSet fails: the ReplicaSet explains it, not a node or a zone', async () => {
  const { replies } = await ask(`dns deploy/api --all ${NAME} -n prod`);
  expect(replies[0]!.text).toBe('2 of 4 pods fail (nxdomain): all failing pods belong to ReplicaSet api-6c9d7f8b4');
  expect(oddPods(replies[0]!)).toEqual(['api-6c9d7f8b4-a', 'api-6c9d7f8b4-b']);
  // Two ReplicaSets: the table shows which pod belongs to which.
  expect(tableOf(replies[0]!).get('api-5d9f8b7c6d-a')!.line).toContain('api-5d9f8b7c6d');
}, 90_000);

test('failures in one zone across two nodes, through a label selector (-l, --all implied)', async () => {
  const { root, replies } = await ask(`dns -l app=pay ${NAME} -n prod`);
  expect(replies[0]!.text).toBe('2 of 4 pods fail (nxdomain), both in zone eu-west-1b');
  expect(oddPods(replies[0]!)).toEqual(['pay-7b8c9d-c', 'pay-7b8c9d-d']);
  expect(root.text).toMatch(/^dns -l app=pay in prod: /);
}, 90_000);

test('a pod not Running and a pod over its container budget are rows with their reason, not a failure', async () => {
  // Fill edge-4f5g6h-c's budget (2 debug containers) with two single-pod runs first.
  for (const n of [1, 2]) {
    const { replies } = await ask(`dns edge-4f5g6h-c ${NAME} -n prod --timeout ${20 + n}s`);
    expect(replies.at(-1)!.text).toMatch(/^ok: /);
  }
  const { replies } = await ask(`dns deploy/edge --all ${NAME} -n prod`);
  const table = tableOf(replies[0]!);
  expect(table.get('edge-4f5g6h-a')!.line).toMatch(/\sok\s+10\.96\.3\.7/);
  expect(table.get('edge-4f5g6h-b')!.line).toMatch(/\sskipped\s+not running \(Pending\)/);
  expect(table.get('edge-4f5g6h-c')!.line).toMatch(/\sskipped\s+over its container budget/);
  expect(replies[0]!.text).toBe('1 checked pod ok; 2 pods skipped: 1 not running (Pending), 1 over its container budget');
  // The whole reason for each skipped pod is in its part of the output.
  expect(text(replies[0]!)).toMatch(/Not adding another debug container to pod edge-4f5g6h-c/);
  expect(stack.kube.getPod('prod', 'edge-4f5g6h-b')!.spec.ephemeralContainers ?? []).toEqual([]);
  expect(stack.kube.getPod('prod', 'edge-4f5g6h-c')!.spec.ephemeralContainers).toHaveLength(2);
}, 120_000);

test('--all on a pod is refused with what to type instead; nothing is queued', async () => {
  const before = stack.roots(CHANNEL).length;
  const { response } = await stack.command(`dns web-7c4b9d8f5-a --all -n prod`, { channel: CHANNEL, user: USER });
  expect(response.body).toMatch(/--all runs `dns` on every pod of a workload: name one \(`deploy\/NAME`/);
  expect(stack.roots(CHANNEL)).toHaveLength(before);
});

/** `kdebug run` against the same emulated cluster. */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/cli.js', 'run', ...args],
      { env: { PATH: process.env.PATH ?? '', KUBECONFIG: stack.env.KUBECONFIG!, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr }),
    );
  });
}

test('kdebug run --all --json: one object, a spread sample past fanout.maxPods, exit code 1 when a pod is not good', async () => {
  const { code, stdout, stderr } = await run(['dns', 'deploy/web', '--all', NAME, '-n', 'prod', '--json'], { KDEBUG_FANOUT_MAX_PODS: '3' });
  expect(stderr).toBe('');
  const out = JSON.parse(stdout) as {
    check: string;
    target: string;
    sample: string;
    pods: Array<{ pod: string; node: string; zone: string; verdict: string; headline: string; facts: Record<string, unknown>; steps: unknown[] }>;
    summary: { pods: number; good: number; bad: number };
  };
  expect(out.check).toBe('dns');
  expect(out.target).toBe('deployment/web');
  expect(out.sample).toBe('3 of 6 pods, one per node first');
  // One pod per node: the sample covers all three of web's nodes.
  expect(new Set(out.pods.map((p) => p.node))).toEqual(new Set(['ip-10-0-1-4', 'ip-10-0-2-5', 'ip-10-0-3-7']));
  for (const pod of out.pods) expect(Object.keys(pod)).toEqual(expect.arrayContaining(['pod', 'node', 'zone', 'verdict', 'headline', 'facts', 'steps']));
  const bad = out.pods.filter((p) => p.verdict === 'nxdomain');
  expect(bad.map((p) => p.node)).toEqual(['ip-10-0-3-7']);
  expect(bad[0]!.headline).toMatch(/NXDOMAIN/);
  expect(out.summary).toMatchObject({ pods: 3, good: 2, bad: 1 });
  expect(code).toBe(1);
}, 90_000);

test('kdebug run --all: exit code 0 when every pod is good, and a readable table', async () => {
  const { code, stdout } = await run(['dns', 'deploy/pay', '--all', 'kubernetes.default.svc.cluster.local', '-n', 'prod']);
  expect(stdout).toMatch(/^✔ all 4 pods ok/);
  expect(stdout).toMatch(/pod\s+node\s+zone\s+verdict\s+result/);
  expect(code).toBe(0);
}, 90_000);
