// The playground's Slack stand-in page, driven in a real (headless) Chromium against the real bot
// and worker processes: the page server talks to kdebug only as Slack does (signed slash commands
// and interaction payloads to the bot's Request URL; kdebug's Web API calls land in the emulator),
// so what the browser shows is what kdebug posted. Typed commands and their threads, a next-step
// button, a capture's .pcap downloaded through the page, the command builder modal, the Home tab,
// and message text that must stay text. Then the page server's API on its own, over plain HTTP.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { startPageServer, type PageServer } from '../../src/playground/page-server.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import type { RoleProcess } from '../support/processes.js';
import { freePort } from '../support/redis.js';
import { SIGNING_SECRET, startStack, type Stack } from '../support/stack.js';

const CHANNEL = { id: 'C0PLAYGROUND', name: 'incident-42' };
const USER = { id: 'U0ALICE', name: 'alice' };
const NAME = 'payments.prod.svc.cluster.local';
const MISSING = 'ledger.prod.svc.cluster.local';
/** pcap's magic number, in either byte order, microsecond or nanosecond timestamps. */
const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1];

let stack: Stack;
let bot: RoleProcess;
let worker: RoleProcess;
let server: PageServer;
let browser: TestBrowser;
let tab: Page;

beforeAll(async () => {
  stack = await startStack({
    channels: { [CHANNEL.id]: { members: [USER.id] } },
    pods: [{ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'registry.local/web:1' }] }],
    env: { KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '30', KDEBUG_KUBERNETES_DEFAULT_NAMESPACE: 'prod' },
  });
  // The channel's name, as the page shows it in its header.
  stack.slack.addChannel(CHANNEL.id, { botIsMember: true, members: [USER.id], name: CHANNEL.name });
  stack.pods.get('prod/web-0')!.dns.addRecord(NAME, 'A', '10.96.3.7');
  bot = stack.start('bot');
  worker = stack.start('worker');
  await Promise.all([bot.waitForOutput(/"msg":"bot started"/), worker.waitForOutput(/"msg":"worker started"/)]);
  // The builder offers pods from the worker's inventory.
  const redis = new Redis(stack.redis!.url);
  for (const deadline = Date.now() + 10_000; !(await redis.exists(`${stack.redis!.prefix}:inventory`));) {
    if (Date.now() > deadline) throw new Error('the worker wrote no inventory within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  redis.disconnect();
  server = await startPageServer({
    slack: stack.slack,
    channel: CHANNEL,
    user: USER,
    botEventsUrl: `http://127.0.0.1:${stack.botPort}/slack/events`,
    signingSecret: SIGNING_SECRET,
    notes: ['tools run on this host (not root)', 'a simulated cluster: namespace `prod`, pod `web-0`'],
    examples: [`dns web-0 -n prod ${NAME}`, 'help'],
  });
  browser = await launchBrowser();
  tab = await browser.context.newPage();
  await tab.goto(server.url);
  await tab.locator('[data-testid="connection"]', { hasText: 'live' }).waitFor();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await stack?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) process.stderr.write(`--- bot ---\n${bot.output()}\n--- worker ---\n${worker.output()}\n`);
});

/** Types a command in the composer and presses Enter, as a person would. */
async function type(command: string): Promise<void> {
  const composer = tab.getByTestId('composer');
  await composer.fill(command);
  await composer.press('Enter');
  // (Page functions are strings: the tests compile without the DOM's types.)
  await tab.waitForFunction(`document.querySelector('[data-testid="composer"]').value === ''`);
}

/** The root message whose text matches, once it is final (no longer queued or running). */
function finalRoot(text: RegExp) {
  return tab
    .getByTestId('message')
    .filter({ hasText: text })
    .filter({ hasNotText: /: (queued|running)/ });
}

const thread = () => tab.getByTestId('thread-pane');

test('a typed dns command: its root message in the channel, and the verdict in its thread', async () => {
  await expect(tab.getByTestId('channel-name').textContent()).resolves.toBe(CHANNEL.name);
  await expect(tab.getByTestId('banner').textContent()).resolves.toContain('tools run on this host (not root)');
  // An example chip fills the composer.
  await tab.getByTestId('example').first().click();
  await expect(tab.getByTestId('composer').inputValue()).resolves.toBe(`/kdebug dns web-0 -n prod ${NAME}`);
  await type(`/kdebug dns web-0 -n prod ${NAME}`);

  const root = finalRoot(/dns web-0 in prod/);
  await root.waitFor({ timeout: 60_000 });
  expect(await root.textContent()).toMatch(/✅ dns web-0 in prod, requested by @alice: ok: /);
  await root.getByTestId('replies-link').click();
  const reply = thread()
    .getByTestId('thread-reply')
    .filter({ hasText: /✅ ok: / });
  await reply.waitFor();
  expect(await reply.textContent()).toContain('10.96.3.7');
  // The raw output is a code block, drawn as preformatted text.
  expect(await reply.locator('pre').first().textContent()).toMatch(/^\$ dig /m);
}, 90_000);

test('a next-step button under a failing answer runs the next check', async () => {
  await type(`/kdebug dns web-0 -n prod ${MISSING}`);
  const root = finalRoot(new RegExp(`dns web-0 in prod.*nxdomain`));
  await root.waitFor({ timeout: 60_000 });
  await root.getByTestId('replies-link').click();
  const answer = thread()
    .getByTestId('thread-reply')
    .filter({ hasText: /❌ nxdomain: / });
  await answer.waitFor();
  // Re-run first, then "Ask the cluster DNS (…) directly", which adds --server.
  const ask = answer.locator('[data-action-id="kdebug_run_1"]');
  expect(await answer.locator('[data-action-id="kdebug_run_0"]').textContent()).toBe('Re-run');
  expect(await ask.textContent()).toMatch(/^Ask the cluster DNS \([\d.]+\) directly$/);
  await ask.click();
  const next = finalRoot(/dns web-0 in prod/).filter({ hasText: /--server/ });
  await next.waitFor({ timeout: 60_000 });
  expect(await next.textContent()).toMatch(new RegExp(`/kdebug dns web-0 -n prod ${MISSING.replace(/\./g, '\\.')} --server [\\d.]+`));
}, 120_000);

test("a capture's .pcap downloads through the page", async () => {
  const network = stack.pods.get('prod/web-0')!.network;
  const sender = createSocket('udp4');
  const timer = setInterval(() => sender.send(Buffer.from('kdebug-playground-probe'), 9999, network.podIp), 100);
  try {
    await type('/kdebug capture web-0 -n prod udp port 9999 --duration 3s');
    const root = finalRoot(/capture web-0 in prod/);
    await root.waitFor({ timeout: 60_000 });
    await root.getByTestId('replies-link').click();
    const link = thread()
      .getByTestId('file-link')
      .filter({ hasText: /\.pcap/ });
    await link.waitFor({ timeout: 15_000 });
    const [download] = await Promise.all([tab.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/\.pcap$/);
    const bytes = readFileSync(await download.path());
    expect(bytes.length).toBeGreaterThan(24);
    expect(PCAP_MAGICS).toContain(bytes.readUInt32BE(0));
    const file = stack.slack.files().find((f) => f.name === download.suggestedFilename())!;
    expect(bytes.equals(file.bytes!)).toBe(true);
  } finally {
    clearInterval(timer);
    sender.close();
  }
}, 90_000);

test('the command builder: /kdebug alone opens the modal; errors show under the input; a submission runs', async () => {
  await type('/kdebug');
  const modal = tab.getByTestId('modal');
  await modal.waitFor();
  expect(await modal.getByTestId('modal-title').textContent()).toBe('kdebug');
  // The target is an external select: typing asks kdebug, which answers from its inventory.
  const target = modal.locator('[data-testid="external-select"][data-action-id="target"]');
  await target.click();
  await target.fill('web');
  await modal.getByTestId('option').filter({ hasText: 'web-0' }).click();
  expect(await target.inputValue()).toBe('web-0');
  await modal.locator('[data-action-id="args"]').fill('--server bogus');
  await modal.getByTestId('modal-submit').click();
  const error = modal.locator('[data-block-id="args"] [data-testid="input-error"]');
  await error.waitFor();
  expect(await error.textContent()).toMatch(/bogus/);

  // "Show the command" (a button in the view) shows what it would type; the values stay.
  await modal.locator('[data-action-id="args"]').fill(NAME);
  await modal.locator('[data-action-id="kdebug_builder_preview"]').click();
  await modal.getByText(`The same as typing /kdebug dns web-0 -n prod ${NAME}`).waitFor();
  expect(await target.inputValue()).toBe('web-0');

  await modal.getByTestId('modal-submit').click();
  await modal.waitFor({ state: 'detached' });
  const note = tab.getByTestId('ephemeral').filter({ hasText: `Running /kdebug dns web-0 -n prod ${NAME}: next time you can type just that.` });
  await note.waitFor();
  expect(await note.textContent()).toContain('Only visible to you');
  await finalRoot(/dns web-0 in prod/)
    .filter({ hasText: `/kdebug dns web-0 -n prod ${NAME}` })
    .nth(1)
    .waitFor({ timeout: 60_000 });

  // Cancel closes a modal without a submission.
  await type('/kdebug');
  await modal.waitFor();
  await modal.getByTestId('modal-close').click();
  await modal.waitFor({ state: 'detached' });
  expect(stack.slack.openModal(USER.id)).toBeUndefined();
}, 120_000);

test('the Home tab lists the requests; its thread link opens the thread', async () => {
  await tab.getByTestId('home-button').click();
  const home = tab.getByTestId('home');
  await home.getByText('Your recent kdebug requests').waitFor();
  const line = home.locator('.section').filter({ hasText: `capture web-0 in prod` });
  await line.getByTestId('permalink').click();
  await tab.getByTestId('channel-view').waitFor();
  await thread()
    .getByTestId('thread-root')
    .filter({ hasText: /capture web-0 in prod/ })
    .waitFor();
}, 30_000);

test('what people type is shown as text, never run as markup', async () => {
  const payload = 'dns web-0 -n prod "<img src=x onerror=window.__xss=1>"';
  await type(`/kdebug ${payload}`);
  // kdebug's usage answer echoes the name: the page shows it as the characters typed.
  const answer = tab.getByTestId('ephemeral').filter({ hasText: '<img src=x onerror=window.__xss=1>' });
  await answer.waitFor();
  expect(await tab.evaluate(`document.querySelectorAll('.messages img, .thread-pane img').length`)).toBe(0);
  expect(await tab.evaluate(`typeof window.__xss`)).toBe('undefined');

  if (process.env.KDEBUG_PLAYGROUND_SCREENSHOT) {
    await tab.evaluate(`document.querySelector('[data-testid="messages"]').scrollTop = 1e9`);
    await tab.screenshot({ path: process.env.KDEBUG_PLAYGROUND_SCREENSHOT });
  }
}, 30_000);

describe('the page server over plain HTTP', () => {
  const post = (path: string, body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers, body });

  test('serves the page with a strict Content-Security-Policy, and the state as JSON', async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await page.text()).toContain('data-testid="composer"');
    const state = (await (await fetch(`${server.url}/api/state`)).json()) as { channel: unknown; messages: Array<{ replies: unknown[] }>; ephemerals: unknown[] };
    expect(state.channel).toEqual(CHANNEL);
    expect(state.messages.length).toBeGreaterThan(0);
    expect(state.messages[0]!.replies.length).toBeGreaterThan(0);
  });

  test('bad input is a 4xx JSON error', async () => {
    const bad = await post('/api/command', '{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ ok: false, error: 'the body is not valid JSON' });
    expect((await post('/api/command', '{"text":"help"}', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post('/api/command', '[]')).status).toBe(400);
    expect((await post('/api/command', '{"text":42}')).status).toBe(400);
    expect((await fetch(`${server.url}/files/F0000000999`)).status).toBe(404);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/command`)).status).toBe(405);
    const click = await post('/api/click', JSON.stringify({ messageTs: '1.000100', actionId: 'kdebug_run_0' }));
    expect(click.status).toBe(404);
    expect(((await click.json()) as { error: string }).error).toMatch(/no message/);
    expect((await post('/api/submit', JSON.stringify({ viewId: 'VNOPE' }))).status).toBe(404);
    expect((await post('/api/options', JSON.stringify({ viewId: 'VNOPE', actionId: 'target', value: '' }))).status).toBe(404);
    // Another site's page cannot drive it, nor can a name rebound to 127.0.0.1.
    expect((await post('/api/command', '{"text":"help"}', { 'Content-Type': 'application/json', Origin: 'http://evil.example' })).status).toBe(403);
    const rebound = await new Promise<number | undefined>((resolve, reject) =>
      get(`${server.url}/api/state`, { headers: { Host: 'evil.example' } }, (res) => resolve(res.resume().statusCode)).on('error', reject),
    );
    expect(rebound).toBe(403);
  });

  test('downloads a shared file with its name, as an attachment', async () => {
    const file = stack.slack.files().find((f) => f.name.endsWith('.pcap'))!;
    const res = await fetch(`${server.url}/files/${file.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.tcpdump.pcap');
    expect(res.headers.get('content-disposition')).toContain(`attachment; filename="${file.name}"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(file.bytes!)).toBe(true);
  });

  test("says so when kdebug's bot is not answering", async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/slack/events`;
    const lonely = await startPageServer({ slack: stack.slack, channel: CHANNEL, user: USER, botEventsUrl: nowhere, signingSecret: SIGNING_SECRET, notes: [], examples: [] });
    try {
      const res = await fetch(`${lonely.url}/api/command`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"help"}' });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: string }).error).toBe(`kdebug's bot is not answering at ${nowhere} (ECONNREFUSED)`);
    } finally {
      await lonely.close();
    }
  });

  test('tells the page about changes as Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    const read = async (pattern: RegExp) => {
      while (!pattern.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    };
    await read(/event: change/);
    seen = '';
    stack.slack.addMessage(CHANNEL.id, { user: 'U0BOB', text: 'anyone else seeing timeouts?' });
    await read(/event: change/);
    controller.abort();
  });
});
