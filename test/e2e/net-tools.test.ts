// Real ping, nc and traceroute against a small lab network, each check from its arguments to its
// verdict: parseArgs → steps → the tool, run the way the worker runs it under the debug container's
// security context → interpret. This is what keeps the recorded fixtures in
// test/fixtures/{ping,conn,trace} honest. The lab (network namespaces chained pod → router1 →
// router2 → target, documentation addresses only, no default routes) is described in
// test/support/net-lab.ts.
//
// Counts and hop limits are lowered through the check context to keep the run short; the argv
// with the default settings is covered by the unit tests and the fixtures. A successful trace may
// show one silent hop: routers rate-limit their ICMP, and busybox's hop-by-hop probing sometimes
// misses an answer, so those headlines allow "(1 hop on the way did not answer)".
import { connCheck } from '../../src/checks/conn.js';
import { pingCheck } from '../../src/checks/ping.js';
import { traceCheck } from '../../src/checks/trace.js';
import type { CheckContext, CheckDefinition, Finding, StepResult } from '../../src/checks/types.js';
import { LAB, startLab, type Lab } from '../support/net-lab.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab();
}, 60_000);

afterAll(async () => {
  await lab?.destroy();
});

interface Run {
  /** Overrides the settings for this run. */
  settings?: CheckContext['settings'];
  /** Run with these capabilities instead of the ones the check declares. */
  capabilities?: readonly string[];
  /** Which tools the "image" has: iputils ping without file capability (default), Debian's own binaries, or busybox. */
  tools?: 'plain' | 'debian' | 'busybox';
}

/** The whole check as the bot runs it, inside the lab's pod. */
async function check<A, S extends object>(def: CheckDefinition<A, S>, positional: string[], run: Run = {}): Promise<Finding> {
  const parsed = def.parseArgs(positional, {});
  if (!parsed.ok) throw new Error(parsed.message);
  const context: CheckContext = { settings: run.settings ?? {}, now: new Date() };
  const path = { plain: [lab.bin.plain], debian: [], busybox: [lab.bin.busybox] }[run.tools ?? 'plain'];
  const results: StepResult[] = [];
  for (const step of def.steps(parsed.args, context)) {
    results.push(await lab.run(step, { capabilities: run.capabilities ?? def.capabilities, path, timeoutMs: 30_000 }));
  }
  return def.interpret(parsed.args, results, context);
}

describe('ping', () => {
  const quick = { settings: { ping: { count: 2 } } };

  test('ok: a name through the pod search path, three hops away', async () => {
    const finding = await check(pingCheck, [LAB.targetName], quick);
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(/^db\.prod \(203\.0\.113\.10\): 2\/2 replies, avg [\d.]+ ms$/);
  });

  test('packet-loss: router1 drops every even-numbered echo request', async () => {
    await lab.setEchoLoss(true);
    try {
      const finding = await check(pingCheck, [LAB.target], { settings: { ping: { count: 3 } } });
      expect(finding.verdict).toBe('packet-loss');
      expect(finding.headline).toMatch(/^33\.3% packet loss to 203\.0\.113\.10 \(1 of 3 lost\), avg [\d.]+ ms$/);
    } finally {
      await lab.setEchoLoss(false);
    }
  });

  test('unreachable: silently dropped', async () => {
    const finding = await check(pingCheck, [LAB.blackholed], quick);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.headline).toBe('No reply from 203.0.113.201: all 2 echo requests lost (ICMP may simply be blocked: try `conn` to a port)');
  });

  test('dns-failure', async () => {
    const finding = await check(pingCheck, [LAB.unresolvable], quick);
    expect(finding.verdict).toBe('dns-failure');
    expect(finding.headline).toBe('Could not resolve db.invalid: Name or service not known (run `dns db.invalid` for the details)');
  });

  test('permission-denied: the pod does not allow unprivileged ICMP', async () => {
    await lab.setUnprivilegedIcmp(false);
    try {
      const finding = await check(pingCheck, [LAB.target], quick);
      expect(finding.verdict).toBe('permission-denied');
      expect(finding.headline).toMatch(/^ping is not allowed in this pod: unprivileged ICMP is off/);
    } finally {
      await lab.setUnprivilegedIcmp(true);
    }
  });

  test("permission-denied: the image's ping carries a file capability", async () => {
    const finding = await check(pingCheck, [LAB.target], { ...quick, tools: 'debian' });
    expect(finding.verdict).toBe('permission-denied');
    expect(finding.headline).toMatch(/^ping could not run: the debug image's ping binary needs NET_RAW/);
  });
});

describe('conn', () => {
  test.each<[string, string[], string, RegExp]>([
    ['open', [LAB.targetName, String(LAB.openPort)], 'open', /^db\.prod:5432 accepted the connection \(203\.0\.113\.10\)$/],
    ['connection-refused', [`${LAB.target}:${LAB.closedPort}`], 'connection-refused', /^203\.0\.113\.10:5433 refused the connection: /],
    ['timeout: silently dropped', [LAB.blackholed, String(LAB.openPort)], 'timeout', /^203\.0\.113\.201:5432: no answer within 3 s /],
    ['timeout: no route to host', [LAB.rejected, String(LAB.openPort)], 'timeout', /^203\.0\.113\.209:5432 is unreachable: No route to host /],
    ['dns-failure', [LAB.unresolvable, String(LAB.openPort)], 'dns-failure', /^Could not resolve db\.invalid: Name or service not known /],
  ])('%s', async (_label, positional, verdict, headline) => {
    const finding = await check(connCheck, positional);
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headline);
  });
});

describe('trace', () => {
  const short = { settings: { trace: { maxHops: 5 } } };

  test.each<[string, string[], Run, string, RegExp]>([
    ['ok', [LAB.targetName], short, 'ok', /^db\.prod \(203\.0\.113\.10\) reached in 3 hops, [\d.]+ ms(?: \(1 hop on the way did not answer\))?$/],
    [
      'incomplete: silently dropped behind router1',
      [LAB.blackholed],
      short,
      'incomplete',
      /^route to 203\.0\.113\.201 stops after hop 1 \(192\.0\.2\.2\); nothing answered from hop 2 to 5$/,
    ],
    ['incomplete: router2 reports host unreachable', [LAB.rejected], short, 'incomplete', /^route to 203\.0\.113\.209 stops at hop 2: 198\.51\.100\.2 reports host unreachable$/],
    ['dns-failure', [LAB.unresolvable], short, 'dns-failure', /^Could not resolve db\.invalid: Name or service not known /],
    [
      "busybox traceroute (netshoot's), ok",
      [LAB.target],
      { ...short, tools: 'busybox' },
      'ok',
      /^203\.0\.113\.10 reached in 3 hops, [\d.]+ ms(?: \(1 hop on the way did not answer\))?$/,
    ],
    [
      'busybox traceroute without NET_RAW',
      [LAB.target],
      { ...short, tools: 'busybox', capabilities: [] },
      'incomplete',
      /^traceroute could not run: socket: Operation not permitted \(this traceroute needs the NET_RAW capability\)$/,
    ],
  ])('%s', async (_label, positional, run, verdict, headline) => {
    const finding = await check(traceCheck, positional, run);
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headline);
  });
});
