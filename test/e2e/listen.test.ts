// The listen check through the whole path (signed slash command → bot → Redis → worker →
// ephemeral container in the pod's network namespace → threaded reply), against an "app" this
// test starts inside the pod: one port on 127.0.0.1 only (the 3 a.m. cause of connection refused
// through a Service), one on 0.0.0.0 whose clients it never closes (CLOSE-WAIT), and nothing on a
// third. The real ss reads the pod's own sockets.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { promisify } from 'node:util';
import type { PodNetwork } from '../../src/playground/netns.js';
import type { StoredMessage } from '../../src/playground/slack-emulator.js';
import { startStack, type Stack } from '../support/stack.js';

const run = promisify(execFile);
const CHANNEL = 'C0LISTEN';
const LOOPBACK_PORT = 8080;
const OPEN_PORT = 8081;
const NOTHING_PORT = 8082;
let stack: Stack;
let network: PodNetwork;
let app: ChildProcess | undefined;
const clients: Socket[] = [];

/** The pod's app: 127.0.0.1:8080 and 0.0.0.0:8081; it keeps every connection and never closes one. */
const APP = `
const net = require('node:net');
const held = [];
const serve = (port, host) => new Promise((resolve) => net.createServer({ allowHalfOpen: true }, (c) => held.push(c)).listen(port, host, resolve));
Promise.all([serve(${LOOPBACK_PORT}, '127.0.0.1'), serve(${OPEN_PORT}, '0.0.0.0')]).then(() => console.log('listening'));
`;

beforeAll(async () => {
  stack = await startStack({
    channels: { [CHANNEL]: {} },
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] }],
  });
  network = stack.pods.get('prod/web-0')!.network;
  const started = spawn('ip', ['netns', 'exec', network.netns, process.execPath, '-e', APP], { stdio: ['ignore', 'pipe', 'inherit'] });
  app = started;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the pod's app did not listen within 10 s")), 10_000);
    started.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    started.on('exit', (code) => reject(new Error(`the pod's app exited with code ${code}`)));
  });
  const bot = stack.start('bot');
  const worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/bot started/), worker.waitForOutput(/worker started/)]);
}, 60_000);

afterAll(async () => {
  for (const socket of clients) socket.destroy();
  app?.kill('SIGKILL');
  await stack?.stop();
});

const roots = () => stack.roots(CHANNEL);

async function runCommand(text: string): Promise<{ root: StoredMessage; thread: StoredMessage[] }> {
  const before = roots().length;
  const { response } = await stack.command(text, { channel: CHANNEL, user: 'U0SRE' });
  expect(response.status).toBe(200);
  const root = await stack.slack.waitFor(() => roots()[before], 5000, `root for ${text}`);
  const final = await stack.slack.waitFor(
    () => {
      const current = stack.slack.message(CHANNEL, root.ts)!;
      return /: queued$|: running/.test(current.text) ? undefined : current;
    },
    60_000,
    `final status for ${text}`,
  );
  return { root: final, thread: stack.slack.thread(CHANNEL, root.ts) };
}

/** Sockets in CLOSE-WAIT in the pod, as root sees them from outside the check. */
async function closeWaitInPod(): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'exec', network.netns, 'ss', '-Htan', 'state', 'close-wait']);
  return stdout.split('\n').filter((l) => l.trim() !== '').length;
}

const shown = (thread: StoredMessage[]) => thread.map((m) => JSON.stringify(m.blocks ?? m.text)).join('\n');

test('an app listening on 127.0.0.1 only: loopback-only, in a container without privileges', async () => {
  const { root, thread } = await runCommand(`listen web-0 -n prod ${LOOPBACK_PORT}`);
  expect(root.text).toBe(`listen web-0 in prod: loopback-only: Port ${LOOPBACK_PORT} is listened on only at 127.0.0.1: reachable only from inside the pod; bind 0.0.0.0`);
  expect(shown(thread)).toContain(`tcp 127.0.0.1:${LOOPBACK_PORT}, tcp 0.0.0.0:${OPEN_PORT}`);
  expect(shown(thread)).toContain('$ ss -Hltnu');
  // No capabilities: the debug container runs as nobody.
  const container = stack.kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.find((c) => c.command?.join(' ').includes("'ss'"));
  expect(container?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false });
  expect(container?.securityContext?.capabilities?.add).toBeUndefined();
});

test('an app listening on 0.0.0.0: ok', async () => {
  const { root } = await runCommand(`listen web-0 -n prod ${OPEN_PORT}`);
  expect(root.text).toBe(`listen web-0 in prod: ok: Port ${OPEN_PORT} is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP`);
});

test('nothing on the port asked about: not-listening, naming what is listened on', async () => {
  const { root } = await runCommand(`listen web-0 -n prod ${NOTHING_PORT}`);
  expect(root.text).toBe(`listen web-0 in prod: not-listening: Nothing listens on port ${NOTHING_PORT}; listening: tcp 127.0.0.1:${LOOPBACK_PORT}, tcp 0.0.0.0:${OPEN_PORT}`);
});

test('clients that closed while the app did not: a CLOSE-WAIT warning on top of the verdict', async () => {
  // From the host side of the pod's link: 20 connections closed by the client, which the app keeps.
  for (let i = 0; i < 20; i++) {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ host: network.podIp, port: OPEN_PORT }, () => resolve(s));
      s.on('error', reject);
    });
    clients.push(socket);
    socket.end();
  }
  // The pod's side turns CLOSE-WAIT as each FIN arrives: wait until all 20 have.
  const deadline = Date.now() + 10_000;
  while ((await closeWaitInPod()) < 20) {
    if (Date.now() > deadline) throw new Error(`only ${await closeWaitInPod()} of 20 connections reached CLOSE-WAIT in the pod`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const { root, thread } = await runCommand(`listen web-0 -n prod ${OPEN_PORT}`);
  expect(root.text).toBe(
    `listen web-0 in prod: ok: Port ${OPEN_PORT} is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP — 20 connections in CLOSE-WAIT: the app is not closing sockets`,
  );
  expect(shown(thread)).toContain(`port ${OPEN_PORT} (from clients): 20`);
});
