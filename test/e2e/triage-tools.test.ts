// The triage check end to end on this machine: parseArgs → steps → the real dig, ping, nc and
// curl run in sequence by the same script the debug container runs (runLocal) → interpret.
// Only loopback is used: an HTTP server and a DNS server this test starts on 127.0.0.1, and a
// port that was just closed. ping to 127.0.0.1 needs root or unprivileged ICMP, as in CI.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { triageCheck } from '../../src/checks/triage.js';
import type { CheckContext, Finding } from '../../src/checks/types.js';
import { runLocal } from '../../src/runner/local.js';
import { DnsServer } from '../../src/playground/dns-server.js';

/** Two echo requests keep ping at about a second; a short curl limit keeps failures quick. */
const context: CheckContext = { settings: { ping: { count: 2 }, http: { maxSeconds: 5 }, tls: { maxSeconds: 5 } }, now: new Date() };

let web: Server;
let webPort = 0;
let closedPort = 0;
const dns = new DnsServer({ host: '127.0.0.1', zones: ['cluster.local'] });

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

beforeAll(async () => {
  web = createServer((req, res) => {
    res.writeHead(req.url === '/broken' ? 503 : 200, { 'content-type': 'text/plain', server: 'kdebug-triage-test' });
    res.end('hello from the triage test\n');
  });
  webPort = await listen(web);
  // A port that was free a moment ago: nothing listens on it.
  const probe = createServer();
  closedPort = await listen(probe);
  await close(probe);
  dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
  await dns.start();
});

afterAll(async () => {
  if (web) await close(web);
  await dns.stop();
});

/** The whole check as `kdebug run --local` runs it. */
async function triage(positional: string[], options: Record<string, string> = {}): Promise<Finding> {
  const parsed = triageCheck.parseArgs(positional, options);
  if (!parsed.ok) throw new Error(parsed.message);
  const steps = triageCheck.steps(parsed.args, context);
  const { results } = await runLocal({ steps, timeoutSeconds: 60 });
  expect(results.map((r) => r.id)).toEqual(steps.map((s) => s.id));
  return triageCheck.interpret(parsed.args, results, { ...context, now: new Date() });
}

describe('triage: real tools on loopback', () => {
  test('ok: an HTTP server on 127.0.0.1 answers; conn open, http ok, ping ok, dns skipped', async () => {
    const url = `http://127.0.0.1:${webPort}/`;
    const finding = await triage([url]);
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(new RegExp(`^all 3 checks ok: http://127\\.0\\.0\\.1:${webPort}/ answered 200 OK in [\\d.]+ m?s$`));
    expect(finding.facts.dns).toBe('skipped — 127.0.0.1 is an IP address: nothing to look up');
    expect(finding.facts.ping).toMatch(/^ok — 127\.0\.0\.1: 2\/2 replies, avg [\d.]+ ms$/);
    expect(finding.facts.conn).toBe(`open — 127.0.0.1:${webPort} accepted the connection`);
    expect(finding.facts.http).toMatch(new RegExp(`^ok — http://127\\.0\\.0\\.1:${webPort}/ answered 200 OK`));
    expect(finding.facts['http.status']).toBe('200 OK');
    expect(finding.facts['http.remote']).toBe(`127.0.0.1:${webPort}`);
    expect(finding.steps.map((s) => [s.id, s.argv[0], s.exitCode])).toEqual([
      ['ping.ping', 'ping', 0],
      ['conn.nc', 'nc', 0],
      ['http.curl', 'curl', 0],
    ]);
  });

  test('connection-refused: nothing listens on the port; conn gives the headline, http is listed', async () => {
    const finding = await triage([`http://127.0.0.1:${closedPort}/`]);
    expect(finding.verdict).toBe('connection-refused');
    expect(finding.headline).toBe(
      `conn: 127.0.0.1:${closedPort} refused the connection: nothing listens on that port (or the Service has no ready endpoints); also http connection-refused`,
    );
    expect(finding.facts.ping).toMatch(/^ok — /);
    expect(finding.facts.conn).toMatch(/^connection-refused — /);
    expect(finding.facts.http).toBe(`connection-refused — connection refused by 127.0.0.1:${closedPort}`);
  });

  test('an error status: http-error, though the port is open', async () => {
    const finding = await triage([`http://127.0.0.1:${webPort}/broken`]);
    expect(finding.verdict).toBe('http-error');
    expect(finding.headline).toMatch(new RegExp(`^http: http://127\\.0\\.0\\.1:${webPort}/broken answered 503 Service Unavailable in `));
    expect(finding.facts.conn).toMatch(/^open — /);
  });

  test('host:port: ping and conn only', async () => {
    const finding = await triage([`127.0.0.1:${webPort}`]);
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe(`all 2 checks ok: 127.0.0.1:${webPort} accepted the connection`);
    expect(finding.steps.map((s) => s.id)).toEqual(['ping.ping', 'conn.nc']);
  });

  test('no host: dns of the default name only, through --server', async () => {
    const { host, port } = dns.address;
    const finding = await triage([], { server: `${host}:${port}` });
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(
      new RegExp(`^dns ok \\(no host given, so only DNS was checked\\): kubernetes\\.default\\.svc\\.cluster\\.local → 10\\.96\\.0\\.1 via 127\\.0\\.0\\.1:${port} \\(\\d+ ms\\)$`),
    );
    expect(finding.facts.scope).toMatch(/^no host given/);
    expect(finding.steps.map((s) => s.id)).toEqual(['dns.resolv.conf', 'dns.dig-1']);
  });
});
