// The other checks through the whole path (signed slash command → bot → Redis → worker →
// ephemeral container in the pod's network namespace → threaded reply): a packet capture whose
// .pcap arrives in the thread and opens with the real tcpdump, and ping/conn against the host side.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testCerts, type CertKind } from '../../src/playground/certs.js';
import type { PodNetwork } from '../../src/playground/netns.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';
import { startHttpServer, startHttpsServer, type Listening } from '../../src/playground/web-servers.js';
import { startSilentServer } from '../support/web-site.js';

const run = promisify(execFile);
const CHANNEL = 'C0CHECKS';
let stack: Stack;
let slack: Stack['slack'];
let kube: Stack['kube'];
let network: PodNetwork;
let tcp: Server;
let tcpPort: number;
let web: Listening;
let silent: Listening;
const tlsServers = new Map<CertKind, Listening>();

beforeAll(async () => {
  stack = await startStack({
    channels: { [CHANNEL]: {} },
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }],
    // curl and openssl give up after 2 s, so the server that never answers costs little time.
    env: { KDEBUG_CHECKS_HTTP_MAX_SECONDS: '2' },
  });
  ({ slack, kube } = stack);
  network = stack.pods.get('prod/web-0')!.network;
  // Services on the host side of the pod's link: TCP for conn, HTTP and TLS servers.
  tcp = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => tcp.listen(0, network.hostIp, resolve));
  tcpPort = (tcp.address() as { port: number }).port;
  web = await startHttpServer({ host: network.hostIp });
  silent = await startSilentServer({ host: network.hostIp });
  const certs = await testCerts();
  for (const kind of ['expired', 'not-yet-valid', 'self-signed', 'valid'] as const) tlsServers.set(kind, await startHttpsServer(certs.certs[kind], { host: network.hostIp }));
  const bot = stack.start('bot');
  const worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/bot started/), worker.waitForOutput(/worker started/)]);
}, 60_000);

afterAll(async () => {
  await new Promise((r) => tcp?.close(r));
  await web?.close();
  await silent?.close();
  for (const server of tlsServers.values()) await server.close();
  await stack?.stop();
});

let commands = 0;

/**
 * Each command in a channel of its own: Slack allows about one message a second per channel and
 * kdebug paces itself to that, so commands back to back in one channel would wait for it.
 */
async function runCommand(text: string): Promise<{ root: StoredMessage; thread: StoredMessage[] }> {
  const channel = `${CHANNEL}${++commands}`;
  slack.addChannel(channel, { botIsMember: true });
  const { response } = await stack.command(text, { channel, user: 'U0SRE' });
  expect(response.status).toBe(200);
  const root = await slack.waitFor(() => stack.roots(channel)[0], 5000, `root for ${text}`);
  const final = await slack.waitFor(
    () => {
      const current = slack.message(channel, root.ts)!;
      return /: queued$|: running/.test(current.text) ? undefined : current;
    },
    60_000,
    `final status for ${text}`,
  );
  // Files are shared into the thread after the reply; wait for deliveries to settle.
  await new Promise((r) => setTimeout(r, 300));
  return { root: final, thread: slack.thread(channel, root.ts) };
}

test('capture: the .pcap arrives in the thread and the real tcpdump reads it', async () => {
  // Traffic into the pod while it captures: UDP datagrams from the host side to the pod.
  const sender = createSocket('udp4');
  const timer = setInterval(() => sender.send(Buffer.from('kdebug-capture-probe'), 9999, network.podIp), 100);
  try {
    const { root, thread } = await runCommand('capture web-0 -n prod udp port 9999 --duration 8s --timeout 30s');
    expect(root.text).toMatch(/^capture web-0 in prod: ok: /);
    // While it ran, the root message said how far it was (paced: at most one update every 3 s).
    const progress = slack.calls.filter((c) => c.method === 'chat.update' && c.args.ts === root.ts && /capturing: /.test(String(c.args.blocks)));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(String(progress.at(-1)!.args.blocks)).toMatch(/running \(capturing: [\d,]+ packets? so far, \d+ s left\)/);
    const withFile = thread.find((m) => m.files?.some((f) => f.name?.endsWith('.pcap')));
    expect(withFile).toBeDefined();
    const file = slack.files().find((f) => f.name?.endsWith('.pcap'))!;
    expect(file.bytes?.length).toBeGreaterThan(24);
    const path = join(mkdtempSync(join(tmpdir(), 'kdebug-pcap-')), file.name);
    writeFileSync(path, file.bytes!);
    const { stdout } = await run('tcpdump', ['-r', path, '-nn'], { encoding: 'utf8' });
    const packets = stdout.trim().split('\n').filter(Boolean);
    expect(packets.length).toBeGreaterThan(5);
    expect(packets.every((line) => line.includes(`${network.podIp}.9999`))).toBe(true);
    // The reply's summary agrees with what tcpdump read.
    const summary = thread.map((m) => JSON.stringify(m.blocks)).join('\n');
    expect(summary).toContain(`${packets.length} packets`);
    // NET_RAW and nothing more, in the container kdebug added.
    const container = kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.find((c) => c.command?.join(' ').includes('tcpdump'));
    expect(container?.securityContext).toMatchObject({ capabilities: { drop: ['ALL'], add: ['NET_RAW'] }, privileged: false, allowPrivilegeEscalation: false });
  } finally {
    clearInterval(timer);
    sender.close();
  }
});

test('conn: open and refused ports, from inside the pod', async () => {
  const open = await runCommand(`conn web-0 -n prod ${network.hostIp} ${tcpPort}`);
  expect(open.root.text).toMatch(/^conn web-0 in prod: open: /);
  const closed = await runCommand(`conn web-0 -n prod ${network.hostIp} 1`);
  expect(closed.root.text).toMatch(/^conn web-0 in prod: connection-refused: /);
});

test('http: a healthy endpoint, a failing one and one that never answers, from inside the pod', async () => {
  const ok = await runCommand(`http web-0 -n prod http://${network.hostIp}:${web.port}/healthz`);
  expect(ok.root.text).toMatch(/^http web-0 in prod: ok: /);
  const failing = await runCommand(`http web-0 -n prod http://${network.hostIp}:${web.port}/status/503`);
  expect(failing.root.text).toMatch(/^http web-0 in prod: http-error: .*503/);
  const never = await runCommand(`http web-0 -n prod http://${network.hostIp}:${silent.port}/`);
  expect(never.root.text).toMatch(/^http web-0 in prod: timeout: /);
});

test.each([
  ['expired', /^tls web-0 in prod: expired: certificate .* expired .* ago \(notAfter \d{4}-\d\d-\d\d\)/],
  ['not-yet-valid', /^tls web-0 in prod: not-yet-valid: /],
  ['self-signed', /^tls web-0 in prod: (self-signed|hostname-mismatch): /],
  // The test CA is not in the pod's trust store, so a certificate that is otherwise fine is untrusted there.
  ['valid', /^tls web-0 in prod: (untrusted-issuer|hostname-mismatch): /],
] as const)('tls: certificate %s, from inside the pod', async (kind, verdict) => {
  const { root } = await runCommand(`tls web-0 -n prod ${network.hostIp}:${tlsServers.get(kind)!.port}`);
  expect(root.text).toMatch(verdict);
});

test('triage: dns, ping, conn and http in one container, one verdict table', async () => {
  const { root, thread } = await runCommand(`triage web-0 -n prod http://${network.hostIp}:${web.port}/healthz`);
  expect(root.text).toMatch(/^triage web-0 in prod: ok: all \d checks ok/);
  const shown = thread.map((m) => JSON.stringify(m.blocks)).join('\n');
  for (const part of ['ping', 'conn', 'http']) expect(shown).toMatch(new RegExp(`\\*${part}:\\* (ok|open) — `));
  expect(shown).toContain('*dns:* skipped');
  expect(kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.filter((c) => c.command?.join(' ').includes('curl') && c.command.join(' ').includes('nc'))).toHaveLength(1);
});

test('ping and trace reach the host side of the pod link', async () => {
  const ping = await runCommand(`ping web-0 -n prod ${network.hostIp}`);
  expect(ping.root.text).toMatch(/^ping web-0 in prod: ok: /);
  const trace = await runCommand(`trace web-0 -n prod ${network.hostIp}`);
  expect(trace.root.text).toMatch(/^trace web-0 in prod: ok: /);
});
