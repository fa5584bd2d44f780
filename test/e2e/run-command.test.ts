// `kdebug run`: the checks without Slack, in a pod of the kubeconfig's cluster or on this machine,
// with the exit codes and the single JSON object scripts rely on.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../support/dns-server.js';
import { KubeEmulator } from '../support/kube-emulator.js';
import { netnsAvailable } from '../support/netns.js';

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
    expect(JSON.parse(json.stdout)).toEqual({ check: 'dns', verdict: 'failed', headline: 'Pod web-9 not found in namespace prod. Similar pods there: web-0.', facts: { kind: 'not-found' }, steps: [] });
  });
});
