// Proves the Slack emulator against the real @slack/web-api WebClient and @slack/bolt App.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { ErrorCode, WebClient, WebClientEvent, type Logger, type WebClientOptions } from '@slack/web-api';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';
import { sendSlashCommand } from '../../src/playground/slack-signing.js';

const CHANNEL = 'C0KDEBUG01';
const OUTSIDE = 'C0OUTSIDE1';
const ALICE = 'U0ALICE001';
const MALLORY = 'U0MALLORY1';
const SIGNING_SECRET = 'emulator-signing-secret';

/** Keeps expected-error logging (e.g. invalid_blocks metadata) out of the test output. */
const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

let emu: SlackEmulator;

function webClient(opts: WebClientOptions = {}, token = emu.botToken): WebClient {
  return new WebClient(token, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: quietLogger, ...opts });
}

/** The error a call rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<{ code?: string; data?: Record<string, unknown>; retryAfter?: number; statusCode?: number }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  // These tests check Slack's answers (shapes, errors, faults) with many calls in one channel in
  // a few milliseconds; the rate limits have their own emulator below.
  emu = new SlackEmulator({ rateLimits: false });
  await emu.start();
  emu.addChannel(CHANNEL, { botIsMember: true, members: [ALICE, emu.botUserId], name: 'ops' });
  emu.addChannel(OUTSIDE, { botIsMember: false });
});

afterAll(async () => {
  await emu.stop();
});

describe('Web API with the real WebClient', () => {
  test('posts, threads and updates messages', async () => {
    const client = webClient();
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ ok: true, user_id: emu.botUserId, team_id: emu.teamId });

    const root = await client.chat.postMessage({ channel: CHANNEL, text: 'running dig', unfurl_links: false });
    expect(root).toMatchObject({ ok: true, channel: CHANNEL, message: { text: 'running dig', bot_id: emu.botId } });
    const rootTs = root.ts as string;
    expect(rootTs).toMatch(/^\d{10}\.\d{6}$/);

    const r1 = await client.chat.postMessage({ channel: CHANNEL, thread_ts: rootTs, text: 'step 1' });
    const r2 = await client.chat.postMessage({ channel: CHANNEL, thread_ts: rootTs, text: 'step 2' });
    expect(Number(r1.ts)).toBeGreaterThan(Number(rootTs));
    expect(Number(r2.ts)).toBeGreaterThan(Number(r1.ts));
    expect(emu.thread(CHANNEL, rootTs).map((m) => m.text)).toEqual(['step 1', 'step 2']);

    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*done*' } }];
    const updated = await client.chat.update({ channel: CHANNEL, ts: rootTs, text: 'dig finished', blocks });
    expect(updated).toMatchObject({ ok: true, ts: rootTs, message: { text: 'dig finished', blocks } });
    const stored = emu.message(CHANNEL, rootTs);
    expect(stored?.history.map((v) => v.text)).toEqual(['running dig', 'dig finished']);
    expect(stored?.history[1]?.editedTs).toBeDefined();

    // Complex args travel form-encoded as JSON strings, exactly as WebClient sends them.
    expect(emu.callsTo('chat.update')[0]?.args.blocks).toBe(JSON.stringify(blocks));

    const eph = await client.chat.postEphemeral({ channel: CHANNEL, user: ALICE, text: 'only you' });
    expect(eph.message_ts).toBeDefined();
    expect(emu.ephemerals(CHANNEL)).toEqual([expect.objectContaining({ user: ALICE, text: 'only you' })]);

    // waitFor resolves on the change event, not by sleeping.
    const later = emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'late'));
    await client.chat.postMessage({ channel: CHANNEL, text: 'late' });
    await expect(later).resolves.toMatchObject({ text: 'late' });
  });

  test('answers errors the way Slack does', async () => {
    const client = webClient();
    const errorOf = async (p: Promise<unknown>): Promise<unknown> => {
      const e = await failure(p);
      expect(e.code).toBe(ErrorCode.PlatformError);
      return e.data?.error;
    };

    expect(await errorOf(client.chat.postMessage({ channel: OUTSIDE, text: 'x' }))).toBe('not_in_channel');
    expect(await errorOf(client.chat.postMessage({ channel: 'C0NOWHERE1', text: 'x' }))).toBe('channel_not_found');
    expect(await errorOf(client.chat.postMessage({ channel: CHANNEL, text: 'x'.repeat(40_001) }))).toBe('msg_too_long');
    expect(await errorOf(client.chat.postEphemeral({ channel: CHANNEL, user: MALLORY, text: 'x' }))).toBe('user_not_in_channel');
    expect(await errorOf(webClient({}, 'xoxb-stolen').auth.test())).toBe('invalid_auth');
    expect(await errorOf(webClient({}, emu.appToken).chat.postMessage({ channel: CHANNEL, text: 'x' }))).toBe('not_allowed_token_type');
    expect(await errorOf(client.apiCall('kdebug.nonexistent'))).toBe('unknown_method');

    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    const blocksErr = await failure(client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: tooMany }));
    expect(blocksErr.data).toMatchObject({
      error: 'invalid_blocks',
      errors: ['no more than 50 items allowed [json-pointer:/blocks]'],
      response_metadata: { messages: ['[ERROR] no more than 50 items allowed [json-pointer:/blocks]'] },
    });
    const longSection = [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }];
    expect((await failure(client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: longSection }))).data?.errors).toEqual([
      'must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
    ]);
    const longHeader = [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }];
    expect(await errorOf(client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: longHeader }))).toBe('invalid_blocks');
    const wideContext = [{ type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) }];
    expect(await errorOf(client.chat.postEphemeral({ channel: CHANNEL, user: ALICE, text: 'x', blocks: wideContext }))).toBe('invalid_blocks');

    const mine = await client.chat.postMessage({ channel: CHANNEL, text: 'mine' });
    expect(await errorOf(client.chat.update({ channel: CHANNEL, ts: mine.ts as string, text: 'z'.repeat(4001) }))).toBe('msg_too_long');
    expect(await errorOf(client.chat.update({ channel: CHANNEL, ts: '1000000000.000100', text: 'x' }))).toBe('message_not_found');
    const human = emu.addMessage(CHANNEL, { user: ALICE, text: '/kdebug dig example.com' });
    expect(await errorOf(client.chat.update({ channel: CHANNEL, ts: human.ts, text: 'hijack' }))).toBe('cant_update_message');
  });

  test('filesUploadV2 lands the exact bytes in the thread', async () => {
    const client = webClient();
    const root = await client.chat.postMessage({ channel: CHANNEL, text: 'capturing' });
    const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);

    const res = await client.filesUploadV2({
      channel_id: CHANNEL,
      thread_ts: root.ts as string,
      file: bytes,
      filename: 'capture.pcap',
      title: 'tcpdump capture',
      initial_comment: 'here is the capture',
    });
    expect(res.ok).toBe(true);

    const [reply] = emu.thread(CHANNEL, root.ts as string);
    expect(reply).toMatchObject({ text: 'here is the capture', files: [{ name: 'capture.pcap', title: 'tcpdump capture', size: bytes.length }] });
    const file = emu.file(reply?.files?.[0]?.id ?? '');
    expect(file?.completed).toBe(true);
    expect(file?.declaredLength).toBe(bytes.length);
    expect(file?.bytes?.equals(bytes)).toBe(true);
  });

  test('injected faults surface as WebClient errors', async () => {
    emu.inject('chat.postMessage', { status: 429, retryAfter: 7 });
    const limited = await failure(webClient({ rejectRateLimitedCalls: true }).chat.postMessage({ channel: CHANNEL, text: 'x' }));
    expect(limited).toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 7 });

    emu.inject('chat.postMessage', { status: 503 });
    expect(await failure(webClient().chat.postMessage({ channel: CHANNEL, text: 'x' }))).toMatchObject({ code: ErrorCode.HTTPError, statusCode: 503 });

    emu.inject('chat.update', { error: 'not_in_channel' });
    expect((await failure(webClient().chat.update({ channel: CHANNEL, ts: '1.2', text: 'x' }))).data?.error).toBe('not_in_channel');

    // Without rejectRateLimitedCalls the WebClient honours Retry-After and retries.
    emu.inject('chat.postMessage', { status: 429, retryAfter: 1 });
    const retrying = webClient({ retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 } });
    const rateLimitedEvents: number[] = [];
    retrying.on(WebClientEvent.RATE_LIMITED, (sec: number) => rateLimitedEvents.push(sec));
    await expect(retrying.chat.postMessage({ channel: CHANNEL, text: 'after retry' })).resolves.toMatchObject({ ok: true });
    expect(rateLimitedEvents).toEqual([1]);
    expect(
      emu
        .callsTo('chat.postMessage')
        .slice(-2)
        .map((c) => c.status),
    ).toEqual([429, 200]);
  });
});

describe('Bolt App', () => {
  test('HTTP receiver: signed /kdebug command, respond() and chat.postMessage', async () => {
    const seenRetries: Array<number | undefined> = [];
    const app = new App({
      token: emu.botToken,
      signingSecret: SIGNING_SECRET,
      clientOptions: { slackApiUrl: emu.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    app.command('/kdebug', async ({ ack, respond, client, command, context }) => {
      await ack();
      seenRetries.push(context.retryNum);
      await respond({ response_type: 'ephemeral', text: `checking ${command.text}` });
      await client.chat.postMessage({ channel: command.channel_id, text: `result for ${command.text}` });
    });
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    try {
      const fields = emu.slashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: 'dig example.com' });
      const res = await sendSlashCommand(url, SIGNING_SECRET, fields);
      expect(res.status).toBe(200);

      const [response] = await emu.waitFor(() => emu.responses(fields.response_url).length > 0 && emu.responses(fields.response_url));
      expect(response).toMatchObject({ channel: CHANNEL, userId: ALICE, status: 200, body: { response_type: 'ephemeral', text: 'checking dig example.com' } });
      await emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'result for dig example.com'));

      const retried = await sendSlashCommand(url, SIGNING_SECRET, fields, { retryNum: 1, retryReason: 'http_timeout' });
      expect(retried.status).toBe(200);
      await emu.waitFor(() => seenRetries.length === 2);
      expect(seenRetries).toEqual([undefined, 1]);

      expect((await sendSlashCommand(url, SIGNING_SECRET, fields, { badSignature: true })).status).toBe(401);
      const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
      expect((await sendSlashCommand(url, SIGNING_SECRET, fields, { timestamp: sixMinutesAgo })).status).toBe(401);
      expect(seenRetries).toHaveLength(2);
    } finally {
      await app.stop();
    }
  });

  test('Socket Mode: hello handshake, slash command envelope and ack', async () => {
    const app = new App({
      token: emu.botToken,
      appToken: emu.appToken,
      socketMode: true,
      clientOptions: { slackApiUrl: emu.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    app.command('/kdebug', async ({ ack, respond, command }) => {
      await ack({ text: 'on it' });
      await respond({ text: `socket ${command.text}` });
    });
    await app.start(); // resolves only after the emulator's `hello`
    try {
      expect(emu.socketConnections).toBe(1);
      const fields = emu.slashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: 'ping 10.0.0.1' });
      const ack = await emu.sendSocketSlashCommand(fields);
      expect(ack).toEqual({ envelope_id: expect.any(String) as string, payload: { text: 'on it' } });
      await emu.waitFor(() => emu.responses(fields.response_url).find((r) => r.body.text === 'socket ping 10.0.0.1'));
    } finally {
      await app.stop();
    }
    await emu.waitFor(() => emu.socketConnections === 0, 5000, 'socket closed');
  });

  test('apps.connections.open wants an app-level token', async () => {
    expect((await failure(webClient().apps.connections.open())).data?.error).toBe('not_allowed_token_type');
    expect((await failure(webClient({}, 'xapp-1-bogus').apps.connections.open())).data?.error).toBe('invalid_auth');
  });
});

describe("Slack's rate limits", () => {
  let limited: SlackEmulator;
  beforeAll(async () => {
    limited = new SlackEmulator();
    await limited.start();
    limited.addChannel(CHANNEL, { botIsMember: true });
    limited.addChannel(OUTSIDE, { botIsMember: true });
  });
  afterAll(() => limited.stop());
  beforeEach(() => limited.reset());

  const client = () => new WebClient(limited.botToken, { slackApiUrl: limited.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logger: quietLogger });

  test('chat.postMessage: a burst of 4 per channel, then one a second, with Retry-After; other channels have their own budget', async () => {
    const web = client();
    for (let i = 0; i < 4; i++) await web.chat.postMessage({ channel: CHANNEL, text: `m${i}` });
    const over = await failure(web.chat.postMessage({ channel: CHANNEL, text: 'one too many' }));
    expect(over).toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 1 });
    await expect(web.chat.postMessage({ channel: OUTSIDE, text: 'elsewhere' })).resolves.toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 1000));
    await expect(web.chat.postMessage({ channel: CHANNEL, text: 'after a second' })).resolves.toMatchObject({ ok: true });
    expect(limited.rateLimited()).toBe(1);
    expect(limited.rateLimited('chat.postMessage')).toBe(1);
    expect(limited.callsTo('chat.postMessage').map((c) => c.status)).toEqual([200, 200, 200, 200, 429, 200, 200]);
  });

  test('chat.update: Tier 3 for the whole workspace (burst 20, then 50 a minute)', async () => {
    const web = client();
    const { ts } = await web.chat.postMessage({ channel: CHANNEL, text: 'root' });
    const other = await web.chat.postMessage({ channel: OUTSIDE, text: 'root' });
    for (let i = 0; i < 20; i++) await web.chat.update({ channel: i % 2 ? CHANNEL : OUTSIDE, ts: i % 2 ? ts! : other.ts!, text: `v${i}` });
    const over = await failure(web.chat.update({ channel: CHANNEL, ts: ts!, text: 'too many' }));
    expect(over).toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 2 });
    expect(limited.rateLimited('chat.update')).toBe(1);
  });

  test('limits can be changed per method, or lifted', async () => {
    // A configuration test: nothing here depends on Slack's real numbers.
    const custom = new SlackEmulator({ rateLimits: { 'chat.postMessage': { perMinute: 6, burst: 1, per: 'channel' }, 'auth.test': false } });
    await custom.start();
    try {
      custom.addChannel(CHANNEL, { botIsMember: true });
      const web = new WebClient(custom.botToken, { slackApiUrl: custom.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logger: quietLogger });
      await web.chat.postMessage({ channel: CHANNEL, text: 'one' });
      expect(await failure(web.chat.postMessage({ channel: CHANNEL, text: 'two' }))).toMatchObject({ retryAfter: 10 });
      for (let i = 0; i < 60; i++) await web.auth.test();
      expect(custom.rateLimited()).toBe(1);
    } finally {
      await custom.stop();
    }
  });
});
