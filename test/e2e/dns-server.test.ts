// Real dig against the test DnsServer: the server must behave like a real authoritative server, and
// the dns check's parser must agree with what the server was told to do. This is what keeps the
// recorded fixtures in test/fixtures/dns honest.
import { spawn } from 'node:child_process';
import { dnsCheck } from '../../src/checks/dns.js';
import type { Finding, StepResult } from '../../src/checks/types.js';
import { DnsServer } from '../../src/playground/dns-server.js';

/** Run a command; stdout and stderr land in one string in arrival order, like a container log. */
function run(argv: string[]): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const [cmd = '', ...rest] = argv;
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, output }));
  });
}

const server = new DnsServer({ zones: ['cluster.local', '10.in-addr.arpa'] });
let at = '';

beforeAll(async () => {
  server
    .addRecord('payments.prod.svc.cluster.local', 'A', '10.96.3.7')
    .addRecord('www.cluster.local', 'CNAME', 'web.cluster.local')
    .addRecord('web.cluster.local', 'CNAME', 'web.prod.svc.cluster.local')
    .addRecord('web.prod.svc.cluster.local', 'A', '10.96.4.1')
    .addRecord('redis-headless.prod.svc.cluster.local', 'A', '10.244.1.5')
    .addRecord('redis-headless.prod.svc.cluster.local', 'A', '10.244.2.7')
    .addRecord('redis-headless.prod.svc.cluster.local', 'A', '10.244.3.9')
    .addRecord('ipv6-only.prod.svc.cluster.local', 'AAAA', 'fd00::38')
    .addRecord('_http._tcp.web.prod.svc.cluster.local', 'SRV', { priority: 0, weight: 10, port: 8080, target: 'web.prod.svc.cluster.local' })
    .addRecord('config.prod.svc.cluster.local', 'TXT', ['region=eu', 'tier=gold'])
    .addRecord('7.3.96.10.in-addr.arpa', 'PTR', 'payments.prod.svc.cluster.local')
    .addRecord('orders.prod.svc.cluster.local', 'A', '10.96.3.9')
    .servfail('orders.prod.svc.cluster.local')
    .refuse('secrets.prod.svc.cluster.local')
    .drop('slow.prod.svc.cluster.local');
  for (let i = 1; i <= 100; i++) server.addRecord('workers.prod.svc.cluster.local', 'A', `10.244.0.${i}`);
  await server.start();
  at = `${server.address.host}:${server.address.port}`;
});

afterAll(() => server.stop());

/** The whole check as the bot runs it, against our server. Trailing dots keep the host's search path out. */
async function check(name: string): Promise<Finding> {
  const parsed = dnsCheck.parseArgs([name], { server: at });
  if (!parsed.ok) throw new Error(parsed.message);
  const results: StepResult[] = [];
  for (const step of dnsCheck.steps(parsed.args)) results.push({ ...step, ...(await run(step.argv)) });
  return dnsCheck.interpret(parsed.args, results);
}

/** What the server itself says it answered for `name`, last query first. */
function outcomeFor(name: string): string | undefined {
  return server.queries.filter((q) => q.name === name).at(-1)?.outcome;
}

describe('the dns check agrees with what the server was told to do', () => {
  test.each<[string, string, string, RegExp]>([
    ['an A record', 'payments.prod.svc.cluster.local', 'ok', /^payments\.prod\.svc\.cluster\.local → 10\.96\.3\.7 via 127\.0\.0\.1:\d+ \(\d+ ms\)$/],
    ['a CNAME chain inside the zone', 'www.cluster.local', 'ok', /^www\.cluster\.local → web\.cluster\.local → web\.prod\.svc\.cluster\.local → 10\.96\.4\.1 via /],
    ['several A records', 'redis-headless.prod.svc.cluster.local', 'ok', /→ 10\.244\.1\.5, 10\.244\.2\.7, 10\.244\.3\.9 via /],
    ['a name that does not exist', 'missing.prod.svc.cluster.local', 'nxdomain', /^NXDOMAIN for missing\.prod\.svc\.cluster\.local via 127\.0\.0\.1:\d+$/],
    ['a name with only AAAA (NODATA)', 'ipv6-only.prod.svc.cluster.local', 'no-answer', /^ipv6-only\.prod\.svc\.cluster\.local exists but has no A record via /],
    ['an empty non-terminal', 'prod.svc.cluster.local', 'no-answer', /^prod\.svc\.cluster\.local exists but has no A record/],
    ['servfail()', 'orders.prod.svc.cluster.local', 'servfail', /^SERVFAIL for orders\.prod\.svc\.cluster\.local via /],
    ['refuse()', 'secrets.prod.svc.cluster.local', 'refused', /^REFUSED for secrets\.prod\.svc\.cluster\.local by 127\.0\.0\.1:\d+$/],
    ['a name outside the zones', 'example.com', 'refused', /^REFUSED for example\.com by /],
    ['drop()', 'slow.prod.svc.cluster.local', 'timeout', /^No DNS server answered for slow\.prod\.svc\.cluster\.local \(tried 127\.0\.0\.1:\d+, timed out after 2 s\)$/],
  ])('%s', async (_label, name, verdict, headline) => {
    const finding = await check(`${name}.`);
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headline);
    const expectedOutcome = { ok: 'NOERROR', 'no-answer': 'NOERROR', nxdomain: 'NXDOMAIN', servfail: 'SERVFAIL', refused: 'REFUSED', timeout: 'dropped' }[verdict];
    expect(outcomeFor(name)).toBe(expectedOutcome);
    if (verdict !== 'timeout') expect(finding.facts.status).toBe(expectedOutcome);
  });

  test('an answer too big for UDP is truncated and dig retries over TCP', async () => {
    const finding = await check('workers.prod.svc.cluster.local.');
    expect(finding.verdict).toBe('ok');
    expect(finding.facts.answers).toHaveLength(100);
    expect(finding.facts.server).toMatch(/\(TCP\)$/);
    expect(server.queries.filter((q) => q.name === 'workers.prod.svc.cluster.local').map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });
});

describe('DnsServer on the wire', () => {
  const dig = (...args: string[]) => run(['dig', '-r', `@${server.address.host}`, '-p', String(server.address.port), '+time=2', '+tries=1', ...args]);

  test.each([
    ['A', 'payments.prod.svc.cluster.local.', '10.96.3.7'],
    ['AAAA', 'ipv6-only.prod.svc.cluster.local.', 'fd00::38'],
    ['SRV', '_http._tcp.web.prod.svc.cluster.local.', '0 10 8080 web.prod.svc.cluster.local.'],
    ['TXT', 'config.prod.svc.cluster.local.', '"region=eu" "tier=gold"'],
    ['PTR', '7.3.96.10.in-addr.arpa.', 'payments.prod.svc.cluster.local.'],
    ['CNAME', 'www.cluster.local.', 'web.cluster.local.'],
  ])('%s record', async (type, name, value) => {
    const { output } = await dig('+short', '-t', type, '-q', name);
    expect(output.trim()).toBe(value);
  });

  test('authoritative answers; NXDOMAIN carries the SOA; TCP works', async () => {
    const { output } = await dig('+tcp', '-t', 'A', '-q', 'nope.cluster.local.');
    expect(output).toMatch(/status: NXDOMAIN/);
    expect(output).toMatch(/;; flags: qr aa rd;/);
    expect(output).toMatch(/;; AUTHORITY SECTION:\ncluster\.local\.\s+\d+\s+IN\s+SOA\s+/);
    expect(output).toMatch(/\(TCP\)/);
    expect(server.queries.at(-1)).toEqual({ name: 'nope.cluster.local', type: 'A', transport: 'tcp', outcome: 'NXDOMAIN' });
  });

  test('the host is configurable', async () => {
    const other = new DnsServer({ host: '127.0.0.2', zones: ['example.test'] });
    other.addRecord('a.example.test', 'A', '192.0.2.1');
    await other.start();
    try {
      const { host, port } = other.address;
      expect(host).toBe('127.0.0.2');
      const { output } = await run(['dig', '-r', `@${host}`, '-p', String(port), '+short', '-q', 'a.example.test.']);
      expect(output.trim()).toBe('192.0.2.1');
    } finally {
      await other.stop();
    }
  });
});
