// `kdebug playground` as a person runs it: the built CLI starts a private Redis, the simulated
// cluster, kdebug's bot and worker and the page; the page, driven in headless Chromium, answers
// /kdebug as Slack would. Also: without root (the tools run on the host, and the page says so),
// with --kubeconfig (another cluster than the simulated one), and the start-up errors.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { DnsServer } from '../../src/playground/dns-server.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';

const CLI = 'dist/cli.js';

interface Running {
  url: string;
  output: () => string;
  /** Ctrl-C, and its exit code once it has stopped. */
  stop(): Promise<number | null>;
}

/** Starts `kdebug playground` and waits for the line with its address. */
async function startPlayground(args: string[], opts: { env?: Record<string, string>; uid?: number } = {}): Promise<Running> {
  const argv = [CLI, 'playground', '--port', '0', ...args];
  const env = { PATH: process.env.PATH ?? '', ...opts.env };
  // setpriv drops to another user the way a person without root would start it.
  const child: ChildProcess =
    opts.uid === undefined
      ? spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const found = /kdebug playground: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (found) done(() => resolve(found));
    }, 100);
    const deadline = setTimeout(() => done(() => reject(new Error(`no address within 60 s. Output:\n${output}`))), 60_000);
    void exited.then(() => done(() => reject(new Error(`kdebug playground exited (code ${child.exitCode}) before it was up. Output:\n${output}`))));
    const done = (settle: () => void) => {
      clearInterval(timer);
      clearTimeout(deadline);
      settle();
    };
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      return child.exitCode;
    },
  };
}

/** The first of `locator`'s elements that shows `text`, once one does. */
async function shows(locator: Locator, text: string, timeoutMs = 10_000): Promise<Locator> {
  const match = locator.filter({ hasText: text }).first();
  await match.waitFor({ timeout: timeoutMs });
  return match;
}

/** Types a command in the composer and returns the root message it produced. */
async function send(page: Page, text: string) {
  const before = await page.getByTestId('message').count();
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
  const root = page.getByTestId('message').nth(before);
  await root.waitFor({ timeout: 15_000 });
  return root;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

describe('kdebug playground, simulated cluster (as root: pods in network namespaces)', () => {
  let playground: Running;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    playground = await startPlayground([]);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(playground.url);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await playground?.stop();
  }, 30_000);

  test('the page says what is simulated and offers commands to try', async () => {
    await shows(page.getByTestId('banner'), 'network namespace of its own');
    expect(await page.getByTestId('example').count()).toBeGreaterThan(3);
  });

  test('dns --all finds the pod on node-b with the broken resolver, in a thread as Slack shows it', async () => {
    const root = await send(page, '/kdebug dns deploy/web --all -n shop');
    await shows(root, 'dns');
    await root.getByTestId('replies-link').click({ timeout: 60_000 });
    const reply = await shows(page.getByTestId('thread-reply'), '1 of 3 pods', 60_000);
    expect(await reply.textContent()).toMatch(/web-7f9c5d-tz6rb[\s\S]*node-b/);
  }, 120_000);

  test('a statefulset in another namespace: conn --all tells the ledger pod on node-b apart', async () => {
    const root = await send(page, '/kdebug conn sts/ledger --all -n payments web.shop.svc.cluster.local 80');
    await root.getByTestId('replies-link').click({ timeout: 60_000 });
    const reply = await shows(page.getByTestId('thread-reply'), '1 of 2 pods', 60_000);
    expect(await reply.textContent()).toMatch(/ledger-1[\s\S]*node-b/);
  }, 120_000);

  test('tls finds the expired certificate and listen the loopback-only port', async () => {
    const tls = await send(page, '/kdebug tls deploy/web -n shop expired.tls.test');
    await tls.getByTestId('replies-link').click({ timeout: 60_000 });
    await shows(page.getByTestId('thread-reply'), 'expired 2 days ago', 60_000);
    const listen = await send(page, '/kdebug listen deploy/api -n shop 8080');
    await listen.getByTestId('replies-link').click({ timeout: 60_000 });
    await shows(page.getByTestId('thread-reply'), 'only at 127.0.0.1', 60_000);
  }, 120_000);

  test('a button on an answer runs what it offers', async () => {
    const root = await send(page, '/kdebug dns web-7f9c5d-tz6rb -n shop');
    await root.getByTestId('replies-link').click({ timeout: 60_000 });
    const reply = await shows(page.getByTestId('thread-reply'), 'No DNS server answered', 60_000);
    const roots = await page.getByTestId('message').count();
    await reply.getByTestId('button').first().click();
    // A next step is a new request: its own root message in the channel.
    await page.getByTestId('message').nth(roots).waitFor({ timeout: 15_000 });
  }, 120_000);

  test('a capture arrives as a .pcap file the page downloads', async () => {
    const pod = 'web-7f9c5d-4xk2p';
    const root = await send(page, `/kdebug capture ${pod} -n shop --duration 8s`);
    // Traffic for the capture to see: lookups in the same pod while it runs.
    for (const name of ['web.shop.svc.cluster.local', 'expired.tls.test']) {
      await new Promise((r) => setTimeout(r, 2000));
      await send(page, `/kdebug dns ${pod} -n shop ${name}`);
    }
    await root.getByTestId('replies-link').click({ timeout: 60_000 });
    const link = page.getByTestId('file-link').first();
    await link.waitFor({ timeout: 60_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/\.pcap$/);
    const bytes = readFileSync(await download.path());
    // The classic pcap magic number, either byte order.
    expect(['a1b2c3d4', 'd4c3b2a1']).toContain(bytes.subarray(0, 4).toString('hex'));
  }, 120_000);
});

describe('kdebug playground without root', () => {
  test('the tools run on this host, the page says so, and a check still answers', async () => {
    // nobody must be able to run the built program: a checkout under a private home is not readable.
    const readable = spawn('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '-e',
      `require('fs').accessSync(${JSON.stringify(join(process.cwd(), CLI))})`,
    ]);
    const ok = await new Promise<boolean>((resolve) => readable.once('exit', (code) => resolve(code === 0)));
    if (!ok) throw new Error(`user nobody (65534) cannot read ${join(process.cwd(), CLI)}: run the tests from a checkout others can read`);
    const playground = await startPlayground([], { uid: 65534 });
    try {
      const state = (await (await fetch(`${playground.url}/api/state`)).json()) as { notes: string[]; examples: string[] };
      expect(state.notes.join(' ')).toContain('Not running as root');
      const http = state.examples.find((e) => e.includes('http://127.0.0.1'))!;
      expect(http).toBeDefined();
      const sent = await fetch(`${playground.url}/api/command`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: http }) });
      expect(sent.status).toBe(200);
      expect(await waitForReply(playground.url, /^ok: /, 60_000)).toMatch(/answered 200 OK/);
    } finally {
      await playground.stop();
    }
  }, 120_000);
});

describe('kdebug playground --kubeconfig', () => {
  test('uses that cluster instead of the simulated one', async () => {
    const kube = new KubeEmulator({ netns: true });
    await kube.start();
    const { network } = await kube.addPod({ namespace: 'staging', name: 'checkout-0', containers: [{ name: 'app', image: 'shop/checkout:1' }] });
    const dns = new DnsServer({ host: network!.hostIp, port: 53 });
    await dns.start();
    dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-playground-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    kube.writeKubeconfig(kubeconfig);
    const playground = await startPlayground(['--kubeconfig', kubeconfig]);
    try {
      const state = (await (await fetch(`${playground.url}/api/state`)).json()) as { notes: string[] };
      expect(state.notes.join(' ')).toContain(kubeconfig);
      await fetch(`${playground.url}/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'dns checkout-0 -n staging' }),
      });
      expect(await waitForReply(playground.url, /10\.96\.0\.1/, 60_000)).toContain('kubernetes.default');
      // The check ran in this cluster's pod, and the simulated shop is nowhere.
      expect(kube.getPod('staging', 'checkout-0')?.spec.ephemeralContainers).toHaveLength(1);
      expect(kube.hasNamespace('shop')).toBe(false);
      // Ctrl-C stops everything and exits 0.
      expect(await playground.stop()).toBe(0);
      expect(playground.output()).not.toMatch(/kdebug playground: kdebug's bot and worker stopped/);
    } finally {
      await playground.stop();
      await dns.stop();
      await kube.stop();
    }
  }, 120_000);
});

describe('kdebug playground --policy', () => {
  test('uses that policy instead of allowing everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-playground-policy-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, ['version: 1', 'contact: "#sre"', 'rules:', '  - { name: dns-only, everyone: true, namespaces: [shop], checks: [dns] }', ''].join('\n'));
    const playground = await startPlayground(['--policy', policy]);
    try {
      await fetch(`${playground.url}/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'listen deploy/api -n shop 8080' }),
      });
      for (const deadline = Date.now() + 15_000; ;) {
        const state = (await (await fetch(`${playground.url}/api/state`)).json()) as { ephemerals: Array<{ text: string }> };
        const refusal = state.ephemerals.find((e) => e.text.includes("can't run"));
        if (refusal) {
          expect(refusal.text).toMatch(/^You can't run `listen` in namespace `shop`/);
          break;
        }
        if (Date.now() > deadline) throw new Error(`no refusal: ${JSON.stringify(state.ephemerals)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await playground.stop();
    }
  }, 60_000);

  test('a policy that does not load stops the start-up with its error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-playground-policy-'));
    writeFileSync(join(dir, 'bad.yaml'), 'version: 7\n');
    await expect(startPlayground(['--policy', join(dir, 'bad.yaml')])).rejects.toThrow(/kdebug playground: kdebug's bot and worker stopped \(exit code 1\)[\s\S]*bad\.yaml/);
  }, 60_000);
});

describe('kdebug playground start-up errors', () => {
  test('without redis-server it says what to install', async () => {
    // A PATH with node but no redis-server.
    const bin = mkdtempSync(join(tmpdir(), 'kdebug-nopath-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    chmodSync(bin, 0o755);
    const child = spawn(process.execPath, [CLI, 'playground', '--port', '0'], { env: { PATH: bin }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('kdebug playground: redis-server is not installed: install Redis (Debian/Ubuntu: apt-get install redis-server');
  }, 30_000);

  test('a bad --port is a usage error', async () => {
    const child = spawn(process.execPath, [CLI, 'playground', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(2);
    expect(stderr).toBe('kdebug playground: --port eighty is not a port number (0 to 65535)\n');
  });
});

/** The text of the first thread reply in the channel that matches `pattern`, once there is one. */
async function waitForReply(url: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await (await fetch(`${url}/api/state`)).json()) as { messages: Array<{ replies?: Array<{ text: string }> }> };
    const reply = state.messages.flatMap((m) => m.replies ?? []).find((r) => pattern.test(r.text));
    if (reply) return reply.text;
    if (Date.now() > deadline) throw new Error(`no thread reply within ${timeoutMs} ms: ${JSON.stringify(state.messages)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
