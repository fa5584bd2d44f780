// JobThread (src/slack/web.ts) driving a real @slack/web-api WebClient, configured as the worker's
// delivery client, against Slack's Web API emulated at the network boundary with nock: what goes
// over the wire (Slack's form-encoded method calls) and how Slack's answers, a 429 among them, come back.
import { WebAPIPlatformError, WebAPIRateLimitedError, WebClient } from '@slack/web-api';
import nock from 'nock';
import { deliveryBackoff } from '../../../src/delivery/delivery-queue.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { SlackMessage } from '../../../src/slack/render.js';
import { JobThread, WEB_CLIENT_OPTIONS } from '../../../src/slack/web.js';

const SLACK = 'https://slack.test';
const CHANNEL = 'C0WEBTEST';
const ROOT_TS = '1700000000.000100';
const JOB = 'a1b2c3d4e5f60718';
const OTHER_JOB = 'f0e1d2c3b4a59687';

const message: SlackMessage = {
  text: 'dns deployment/web in prod: ok',
  blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*ok*: web.prod.svc.cluster.local resolves' } }],
};

/** One Web API call as the client sent it. */
interface SentCall {
  method: string;
  contentType: string | null;
  authorization: string | null;
  form: URLSearchParams;
}
let sent: SentCall[] = [];

/** Slack answers the next `times` calls of `method` with `answer` (HTTP 200), recording each call. */
function slackAnswers(method: string, answer: Record<string, unknown>, times = 1): nock.Scope {
  return nock(SLACK)
    .post(`/api/${method}`)
    .times(times)
    .reply(
      200,
      async (request: Request) => {
        sent.push({
          method,
          contentType: request.headers.get('content-type'),
          authorization: request.headers.get('authorization'),
          form: new URLSearchParams(await request.text()),
        });
        return answer;
      },
      { 'Content-Type': 'application/json; charset=utf-8' },
    );
}

/** kdebug's client (WEB_CLIENT_OPTIONS) pointed at the emulated Slack. */
const deliveryClient = () => new WebClient('xoxb-test', { slackApiUrl: `${SLACK}/api/`, ...WEB_CLIENT_OPTIONS });

// A thread as conversations.replies returns it with include_all_metadata: the root first, then the replies.
const root = { type: 'message', user: 'U0BOT', text: 'dns deployment/web in prod: ok', ts: ROOT_TS, thread_ts: ROOT_TS, reply_count: 6 };
const replyIn = (ts: string, extra: Record<string, unknown>) => ({ type: 'message', bot_id: 'B0KDEBUG', text: 'a reply', ts, thread_ts: ROOT_TS, ...extra });
const tagged = (ts: string, event_type: string, event_payload: Record<string, unknown>) => replyIn(ts, { metadata: { event_type, event_payload } });
const withFile = (ts: string, name: string) =>
  replyIn(ts, { files: [{ id: `F${ts.replace('.', '')}`, name, title: name, mimetype: 'application/vnd.tcpdump.pcap', filetype: 'pcap', size: 2048 }] });

beforeAll(() => {
  // nock intercepts from the moment it is imported (and patches node:http, which every test file in
  // this jest worker shares): nothing here may reach the network, and restore() undoes the patching.
  if (!nock.isActive()) nock.activate();
  nock.disableNetConnect();
});
beforeEach(() => {
  sent = [];
});
afterEach(() => {
  // Every interceptor a test set up was used, and none is left for the next test.
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('alreadyPosted', () => {
  test('a reply: only a message whose kdebug_reply metadata carries exactly that job and seq', async () => {
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS);
    slackAnswers(
      'conversations.replies',
      {
        ok: true,
        messages: [
          root,
          tagged('1700000001.000200', 'kdebug_reply', { job: JOB, seq: 0 }),
          tagged('1700000002.000300', 'another_apps_event', { job: JOB, seq: 1 }),
          tagged('1700000003.000400', 'kdebug_reply', { job: OTHER_JOB, seq: 2 }),
          tagged('1700000004.000500', 'kdebug_reply', { job: JOB, seq: '3' }),
          tagged('1700000005.000600', 'kdebug_reply', { job: JOB }),
          replyIn('1700000006.000700', { text: `job ${JOB} seq 4` }),
        ],
        has_more: false,
      },
      7,
    );

    expect(await thread.alreadyPosted({ reply: { job: JOB, seq: 0 } })).toBe(true);
    expect(await thread.alreadyPosted({ reply: { job: OTHER_JOB, seq: 2 } })).toBe(true);
    expect(await thread.alreadyPosted({ reply: { job: JOB, seq: 1 } })).toBe(false); // another event type
    expect(await thread.alreadyPosted({ reply: { job: JOB, seq: 2 } })).toBe(false); // another job's seq 2
    expect(await thread.alreadyPosted({ reply: { job: JOB, seq: 3 } })).toBe(false); // "3", not 3
    expect(await thread.alreadyPosted({ reply: { job: OTHER_JOB, seq: 0 } })).toBe(false);
    expect(await thread.alreadyPosted({ reply: { job: JOB, seq: 4 } })).toBe(false); // only in the text

    // Each asked for the whole thread with its metadata, with the bot token in the header, not the form.
    expect(sent).toHaveLength(7);
    for (const call of sent) {
      expect(call).toMatchObject({ method: 'conversations.replies', contentType: 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-test' });
      expect(Object.fromEntries(call.form)).toEqual({ channel: CHANNEL, ts: ROOT_TS, include_all_metadata: 'true', limit: '1000' });
    }
  });

  test('a file: only when a file of exactly that name is in the thread', async () => {
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS);
    const messages = [
      { ...root, text: 'capture pod/web-0 in prod: done, see capture-web-0.pcap' },
      tagged('1700000001.000200', 'kdebug_reply', { job: JOB, seq: 0 }),
      withFile('1700000002.000300', 'capture-web-0-a1b2c3d4e5f60718.pcap'),
      withFile('1700000003.000400', 'trace.txt'),
    ];
    slackAnswers('conversations.replies', { ok: true, messages, has_more: false }, 4);

    expect(await thread.alreadyPosted({ file: 'capture-web-0-a1b2c3d4e5f60718.pcap' })).toBe(true);
    expect(await thread.alreadyPosted({ file: 'trace.txt' })).toBe(true);
    expect(await thread.alreadyPosted({ file: 'capture-web-0.pcap' })).toBe(false); // named in a text, not attached
    expect(await thread.alreadyPosted({ file: 'capture-web-0-a1b2c3d4e5f60718' })).toBe(false);
    expect(sent.map((c) => c.form.get('include_all_metadata'))).toEqual(['true', 'true', 'true', 'true']);
  });
});

describe('reply and updateRoot', () => {
  test('reply: into the thread, without unfurls, its tag as kdebug_reply message metadata', async () => {
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS);
    slackAnswers('chat.postMessage', { ok: true, channel: CHANNEL, ts: '1700000010.000100', message: { type: 'message', text: message.text } });

    await thread.reply(message, { job: JOB, seq: 3 });

    expect(sent).toHaveLength(1);
    const [call] = sent;
    expect(call).toMatchObject({ method: 'chat.postMessage', contentType: 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-test' });
    const form = call!.form;
    expect([...form.keys()].sort()).toEqual(['blocks', 'channel', 'metadata', 'text', 'thread_ts', 'unfurl_links', 'unfurl_media']);
    expect(form.get('channel')).toBe(CHANNEL);
    expect(form.get('thread_ts')).toBe(ROOT_TS);
    expect(form.get('text')).toBe(message.text);
    expect(form.get('unfurl_links')).toBe('false');
    expect(form.get('unfurl_media')).toBe('false');
    // Structured arguments travel as JSON strings inside the form, as Slack's form-encoded API takes them.
    expect(JSON.parse(form.get('blocks')!)).toEqual(message.blocks);
    expect(JSON.parse(form.get('metadata')!)).toEqual({ event_type: 'kdebug_reply', event_payload: { job: JOB, seq: 3 } });
  });

  test('reply without a tag sends no metadata', async () => {
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS);
    slackAnswers('chat.postMessage', { ok: true, channel: CHANNEL, ts: '1700000010.000100' });

    await thread.reply(message);

    expect(sent[0]?.form.has('metadata')).toBe(false);
    expect(sent[0]?.form.get('thread_ts')).toBe(ROOT_TS);
  });

  test('updateRoot: chat.update of the root message', async () => {
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS);
    slackAnswers('chat.update', { ok: true, channel: CHANNEL, ts: ROOT_TS, text: message.text });

    await thread.updateRoot(message);

    expect(sent).toHaveLength(1);
    expect(sent[0]?.method).toBe('chat.update');
    const form = sent[0]!.form;
    expect([...form.keys()].sort()).toEqual(['blocks', 'channel', 'text', 'ts']);
    expect(form.get('channel')).toBe(CHANNEL);
    expect(form.get('ts')).toBe(ROOT_TS);
    expect(form.get('text')).toBe(message.text);
    expect(JSON.parse(form.get('blocks')!)).toEqual(message.blocks);
  });
});

describe('failures', () => {
  test("a 429 rejects at once with Slack's Retry-After, which the delivery queue waits before its next attempt", async () => {
    const metrics = new Metrics(false);
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS, metrics);
    nock(SLACK).post('/api/chat.postMessage').reply(429, { ok: false, error: 'ratelimited' }, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '30' });

    const started = Date.now();
    const err: unknown = await thread.reply(message, { job: JOB, seq: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    // At once: not after the 30 s a client without rejectRateLimitedCalls would sleep, and no retry
    // (a second request would find no interceptor and fail differently).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect(err).toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 30 });
    expect(deliveryBackoff(1, err as WebAPIRateLimitedError)).toBe(30_000);
    expect((await metrics.slackErrors.get()).values).toEqual([{ labels: { method: 'chat.postMessage', error: 'slack_webapi_rate_limited_error' }, value: 1 }]);
  });

  test("an error answer rejects with Slack's error code, counted by method and code", async () => {
    const metrics = new Metrics(false);
    const thread = new JobThread(deliveryClient(), CHANNEL, ROOT_TS, metrics);
    slackAnswers('conversations.replies', { ok: false, error: 'thread_not_found' });

    const err: unknown = await thread.alreadyPosted({ reply: { job: JOB, seq: 0 } }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err).toMatchObject({ data: { ok: false, error: 'thread_not_found' } });
    // Not a rate limit: the delivery queue backs off exponentially instead.
    expect(deliveryBackoff(1, err as WebAPIPlatformError)).toBe(1000);
    expect((await metrics.slackErrors.get()).values).toEqual([{ labels: { method: 'conversations.replies', error: 'thread_not_found' }, value: 1 }]);
  });
});
