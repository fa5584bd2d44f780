// `kdebug run`: the checks without Slack, in a pod of the kubeconfig's cluster or on this machine,
// with the exit codes and the single JSON object scripts rely on.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../../src/playground/dns-server.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';
import { netnsAvailable } from '../../src/playground/netns.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kdebug(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['dist/cli.js', 'run', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('kdebug run --local: deadlines', () => {
  // A server that accepts and never says a word: openssl waits for a handshake that never comes.
  let silent: Server;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    // close() waits for open connections, and openssl's may outlive its timeout by a moment.
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test("a step's own time limit never exceeds the job's --timeout: tls answers within 5 s, not the 10 s setting", async () => {
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    const run = await kdebug(['tls', '--local', `127.0.0.1:${port}`, '--timeout', '5s', '--json']);
    const elapsed = Date.now() - started;
    const report = JSON.parse(run.stdout) as { verdict: string; headline: string; steps: Array<{ argv: string[] }> };
    expect(report.verdict).toBe('timeout');
    expect(report.headline).toMatch(/within [1-5] s/);
    expect(report.steps[0]!.argv.slice(0, 2)).toEqual(['timeout', expect.stringMatching(/^[1-5]$/)]);
    // Before the fix: 10.9 s and "no answer within 10 s".
    expect(elapsed).toBeLessThan(8000);
  });

  test('--timeout may go past 10 minutes when jobs.maxTimeoutSeconds allows it', async () => {
    const refused = await kdebug(['dns', '--local', 'example.invalid', '--timeout', '15m']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/too long: it must be between 5s and 10m/);
    const allowed = await kdebug(['dns', '--help'], { KDEBUG_JOBS_MAX_TIMEOUT_SECONDS: '3600' });
    expect(allowed.stdout).toContain('from 5s to 60m');
  });
});

describe('kdebug run --local', () => {
  const server = new DnsServer();
  beforeAll(async () => {
    server.addRecord('payments.prod.svc.cluster.local', 'A', '10.96.3.7');
    await server.start();
  });
  afterAll(() => server.stop());
  const at = () => `${server.address.host}:${server.address.port}`;

  test('--json prints exactly one object with the documented keys; exit 0 for ok', async () => {
    const run = await kdebug(['dns', '--local', 'payments.prod.svc.cluster.local.', '--server', at(), '--json']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['check', 'verdict', 'headline', 'facts', 'steps']);
    expect(report).toMatchObject({ check: 'dns', verdict: 'ok' });
    expect(report.headline).toMatch(/^payments\.prod\.svc\.cluster\.local → 10\.96\.3\.7 via 127\.0\.0\.1/);
    const steps = report.steps as Array<{ argv: string[]; exitCode: number; output: string }>;
    expect(steps.map((s) => s.argv[0])).toEqual(['cat', 'dig']);
    expect(steps[1]!.output).toContain('status: NOERROR');
    expect(Object.keys(steps[0]!)).toEqual(['argv', 'exitCode', 'output']);
  });

  test('any other verdict exits 1, with a readable report without --json', async () => {
    const run = await kdebug(['dns', '--local', 'nosuch.prod.svc.cluster.local.', '--server', at()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^✘ nxdomain: NXDOMAIN for nosuch\.prod\.svc\.cluster\.local/);
    expect(run.stdout).toContain('$ dig -r +search');
  });

  test('bad usage exits 2 with a friendly message', async () => {
    const run = await kdebug(['dsn', '--local']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^kdebug run: There's no check called `dsn`\. Did you mean `dns`\?/);
    const flag = await kdebug(['dns', '--local', '-n', 'prod']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/with --local the check runs on this machine/);
  });
});

describe('kdebug run in a pod', () => {
  let kube: KubeEmulator;
  let dns: DnsServer;
  let kubeconfig: string;

  beforeAll(async () => {
    const missing = await netnsAvailable();
    if (missing) throw new Error(`this test runs dig in a pod's network namespace, and ${missing}`);
    kube = new KubeEmulator({ netns: true });
    await kube.start();
    kube.addNamespace('prod');
    const { network } = await kube.addPod({ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
    dns = new DnsServer({ host: network!.hostIp, port: 53 });
    await dns.start();
    dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-run-')), 'kubeconfig');
    kube.writeKubeconfig(kubeconfig);
  }, 30_000);
  afterAll(async () => {
    await dns?.stop();
    await kube?.stop();
  });

  test('runs the check in an ephemeral container of the pod and reports it', async () => {
    const run = await kdebug(['dns', 'web-0', '-n', 'prod', '--json'], { KUBECONFIG: kubeconfig });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { verdict: string; headline: string };
    expect(report.verdict).toBe('ok');
    expect(report.headline).toMatch(/^kubernetes\.default\.svc\.cluster\.local → 10\.96\.0\.1/);
    expect(kube.getPod('prod', 'web-0')!.spec?.ephemeralContainers?.filter((c) => c.name.startsWith('kdebug-'))).toHaveLength(1);
  });

  test('a failure before any verdict exits 1 with the explanation', async () => {
    const run = await kdebug(['dns', 'web-9', '-n', 'prod'], { KUBECONFIG: kubeconfig });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('kdebug run: Pod web-9 not found in namespace prod. Similar pods there: web-0.\n');
    const json = await kdebug(['dns', 'web-9', '-n', 'prod', '--json'], { KUBECONFIG: kubeconfig });
    expect(JSON.parse(json.stdout)).toEqual({
      check: 'dns',
      verdict: 'failed',
      headline: 'Pod web-9 not found in namespace prod. Similar pods there: web-0.',
      facts: { kind: 'not-found' },
      steps: [],
    });
  });
});

describe('kdebug run listen --local', () => {
  // Listeners this test starts on this machine, which the local ss sees among the machine's own.
  const servers: Server[] = [];
  const listen = async (host: string): Promise<number> => {
    const server = createServer((socket) => socket.destroy());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return (server.address() as AddressInfo).port;
  };
  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  });

  test('a port listened on at 127.0.0.1 only: loopback-only, exit 1', async () => {
    const port = await listen('127.0.0.1');
    const run = await kdebug(['listen', '--local', String(port), '--json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { check: string; verdict: string; headline: string; facts: Record<string, unknown>; steps: Array<{ argv: string[] }> };
    expect(report).toMatchObject({ check: 'listen', verdict: 'loopback-only', facts: { port, protocol: 'tcp' } });
    expect(report.headline).toBe(`Port ${port} is listened on only at 127.0.0.1: reachable only from inside the pod; bind 0.0.0.0`);
    expect(report.facts.listeners).toContain(`tcp 127.0.0.1:${port}`);
    expect(report.steps.map((s) => s.argv)).toEqual([
      ['ss', '-Hltnu'],
      ['ss', '-Htan'],
    ]);
  });

  test('a port listened on at 0.0.0.0: ok, exit 0; a port nobody listens on: not-listening', async () => {
    const port = await listen('0.0.0.0');
    const ok = await kdebug(['listen', '--local', String(port), '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ verdict: 'ok', headline: `Port ${port} is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP` });
    // The port of a listener just closed: nothing listens there now.
    const closed = await listen('0.0.0.0');
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const none = await kdebug(['listen', '--local', String(closed), '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({
      verdict: 'not-listening',
      headline: expect.stringMatching(new RegExp(`^Nothing listens on port ${closed}; listening: `)) as string,
    });
  });

  test('a bad port is a usage error, exit 2', async () => {
    const run = await kdebug(['listen', '--local', '70000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^kdebug run: `70000` is not a port: give a number from 1 to 65535/);
  });
});
