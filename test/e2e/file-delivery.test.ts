// A file's way from the worker's disk into the thread: streamed into the outbox in Redis as chunks,
// then streamed from Redis to Slack's upload URL by the real JobThread and @slack/web-api WebClient,
// against the Slack emulator. An upload cut off half-way is retried from the outbox and lands
// byte-identical, once; an upload Slack completed before the worker could record it is not posted
// again; the upload URL holds Slack's line on lengths; and no call reaches Slack before its in-flight
// marker is in Redis.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { createAnswers } from '../../src/delivery/answer-sink.js';
import { startDeliveryWorker } from '../../src/delivery/delivery-queue.js';
import { FILE_CHUNK_BYTES, Outbox, type AnswerOp, type FileOp } from '../../src/delivery/outbox.js';
import { postOutbox } from '../../src/delivery/post-outbox.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { DiagnosticJob } from '../../src/queue/job.js';
import { SlackPacer } from '../../src/slack/pacer.js';
import { postUpload } from '../../src/slack/upload.js';
import { JobThread } from '../../src/slack/web.js';
import { testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';

let slack: SlackEmulator;
let client: WebClient;
let redis: TestRedis;
let redisClient: Redis;
let outbox: Outbox;
let dir: string;
let counter = 0;

beforeAll(async () => {
  redis = await testRedis();
  redisClient = new Redis(redis.url);
  outbox = new Outbox(redisClient, redis.prefix);
  // Slack's limits stay on, but for files.getUploadURLExternal (Tier 2, 20 a minute for the
  // workspace): the length checks below ask for a dozen upload URLs within seconds.
  slack = new SlackEmulator({ rateLimits: { 'files.getUploadURLExternal': false } });
  await slack.start();
  // The worker's delivery client: a 429 or a failure rejects at once, no hidden retries.
  client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  dir = mkdtempSync(join(tmpdir(), 'kdebug-file-delivery-'));
});
afterAll(async () => {
  await slack.stop();
  redisClient.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * A job's thread, in a channel of its own (chat.postMessage's limit is per channel): a root message,
 * and the JobThread the delivery posts with.
 */
async function newThread(): Promise<{ channel: string; jobId: string; rootTs: string; thread: JobThread }> {
  const n = counter++;
  const channel = `C0FILES${String(n).padStart(3, '0')}`;
  slack.addChannel(channel, { botIsMember: true });
  const root = await client.chat.postMessage({ channel, text: 'capture web-0 in prod: running' });
  const jobId = `${Date.now().toString(16)}${String(n).padStart(4, '0')}`;
  return { channel, jobId, rootTs: root.ts!, thread: new JobThread(client, channel, root.ts!) };
}

/** A capture-sized file on disk of `bytes` random bytes (the decoder's output, in the worker). */
function captureFile(name: string, bytes: number): { path: string; content: Buffer } {
  const content = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

const answer = (jobId: string, path: string): AnswerOp[] => [
  { kind: 'reply', text: 'ok: 2113 packets', blocks: [] },
  { kind: 'file', filename: `capture-web-0-${jobId}.pcap`, title: 'packet capture from web-0 (prod)', source: { path } },
  { kind: 'root', text: 'capture web-0 in prod: ok', blocks: [] },
];

const chunkKey = (jobId: string, op: FileOp) => `${redis.prefix}:outbox:${jobId}:${op.content}`;

async function fileOp(jobId: string): Promise<FileOp> {
  const op = (await outbox.pending(jobId)).map((p) => p.op).find((o) => o.kind === 'file');
  if (!op) throw new Error('no file in the outbox');
  return op;
}

test('a multi-chunk capture arrives byte-identical, once, after an upload cut off half-way and retried', async () => {
  const { channel, jobId, rootTs, thread } = await newThread();
  const size = 3 * FILE_CHUNK_BYTES + 123_457;
  const { path, content } = captureFile('interrupted.pcap', size);
  expect(await outbox.write(jobId, answer(jobId, path))).toBe(true);
  rmSync(path); // the worker removes its copy once the outbox holds the file

  // In Redis: a reference and the length, the bytes in chunks of at most 1 MiB beside the outbox.
  const op = await fileOp(jobId);
  expect(op).toEqual({ kind: 'file', filename: `capture-web-0-${jobId}.pcap`, title: 'packet capture from web-0 (prod)', content: 'file:1', bytes: size });
  const chunks = await redisClient.lrangeBuffer(chunkKey(jobId, op), 0, -1);
  expect(chunks.map((c) => c.length)).toEqual([FILE_CHUNK_BYTES, FILE_CHUNK_BYTES, FILE_CHUNK_BYTES, 123_457]);
  expect(sha256(Buffer.concat(chunks))).toBe(sha256(content));

  // The connection drops after 1.5 MiB of the body: the delivery fails with the file in flight.
  slack.interruptUploads(FILE_CHUNK_BYTES + FILE_CHUNK_BYTES / 2);
  await expect(postOutbox(jobId, outbox, thread)).rejects.toThrow();
  expect(await outbox.inflight(jobId)).toBe(1);
  expect((await outbox.pending(jobId)).map((p) => p.seq)).toEqual([1, 2]);
  expect(slack.thread(channel, rootTs).map((m) => m.text)).toEqual(['ok: 2113 packets']);
  expect(slack.callsTo('upload_url').at(-1)).toMatchObject({ status: 0 });

  // The retry (the delivery queue's next attempt, or another worker's after a crash) finds the file
  // not in the thread, uploads it again from Redis, and finishes the answer.
  expect(await postOutbox(jobId, outbox, new JobThread(client, channel, rootTs))).toBe(2);
  const replies = slack.thread(channel, rootTs);
  expect(replies.map((m) => m.files?.map((f) => f.name) ?? m.text)).toEqual(['ok: 2113 packets', [`capture-web-0-${jobId}.pcap`]]);
  const stored = slack.file(replies[1]!.files![0]!.id)!;
  expect(stored).toMatchObject({
    name: `capture-web-0-${jobId}.pcap`,
    title: 'packet capture from web-0 (prod)',
    declaredLength: size,
    completed: true,
    channel,
    thread_ts: rootTs,
  });
  expect(stored.bytes!.length).toBe(size);
  expect(stored.bytes!.equals(content)).toBe(true);
  expect(slack.message(channel, rootTs)!.text).toBe('capture web-0 in prod: ok');

  // Two upload URLs asked for, the first cut off, the second whole; one file shared.
  const uploads = slack.callsTo('upload_url').slice(-2);
  expect(uploads.map((c) => c.status)).toEqual([0, 200]);
  expect(uploads[1]!.args).toMatchObject({ bytes: size });
  // On the wire: the name and length, then the file's id and title shared into the job's thread.
  expect(slack.callsTo('files.getUploadURLExternal').at(-1)!.args).toEqual({ filename: `capture-web-0-${jobId}.pcap`, length: String(size) });
  const completed = slack.callsTo('files.completeUploadExternal').at(-1)!.args;
  expect(completed).toEqual({ files: JSON.stringify([{ id: stored.id, title: 'packet capture from web-0 (prod)' }]), channel_id: channel, thread_ts: rootTs });
  expect(slack.files().filter((f) => f.name === `capture-web-0-${jobId}.pcap` && f.completed)).toHaveLength(1);
  // Delivered: the chunks are gone from Redis, the cursor is past the end.
  expect(await redisClient.exists(chunkKey(jobId, op))).toBe(0);
  expect(await outbox.pending(jobId)).toEqual([]);
  expect(await outbox.inflight(jobId)).toBeUndefined();
});

test('through the delivery queue: the next attempt after an upload cut off half-way lands the file whole', async () => {
  const { channel, jobId, rootTs } = await newThread();
  const size = 2 * FILE_CHUNK_BYTES + 5;
  const { path, content } = captureFile('queued.pcap', size);
  const logged: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString());
        done();
      },
    }),
  );
  const answers = createAnswers(redisClient, redis.prefix, 60);
  const worker = startDeliveryWorker({
    redisUrl: redis.url,
    redis: redisClient,
    prefix: redis.prefix,
    outbox: answers.outbox,
    slack: client,
    logger,
    metrics: new Metrics(false),
    pacer: new SlackPacer(redisClient, redis.prefix),
  });
  try {
    slack.interruptUploads(FILE_CHUNK_BYTES);
    expect(await answers.sink.write(jobId, answer(jobId, path))).toBe(true);
    await answers.sink.deliver({ id: jobId, reply: { channel, rootTs } } as DiagnosticJob);
    await slack.waitFor(() => slack.message(channel, rootTs)!.text === 'capture web-0 in prod: ok', 20_000, 'the answer delivered');
  } finally {
    await worker.close();
    // The connection startDeliveryWorker made is shared with BullMQ, which leaves it open on close().
    await worker.disconnect();
    await answers.close();
  }
  const files = slack.thread(channel, rootTs).flatMap((m) => m.files ?? []);
  expect(files.map((f) => f.name)).toEqual([`capture-web-0-${jobId}.pcap`]);
  expect(slack.file(files[0]!.id)!.bytes!.equals(content)).toBe(true);
  expect(
    slack
      .callsTo('upload_url')
      .slice(-2)
      .map((c) => c.status),
  ).toEqual([0, 200]);
  expect(logged.join('')).toMatch(new RegExp(`"jobId":"${jobId}","attempt":1,.*"msg":"delivery failed; will retry"`));
});

test('an upload Slack completed before the worker could record it is not posted again', async () => {
  const { channel, jobId, rootTs, thread } = await newThread();
  const { path, content } = captureFile('completed.pcap', FILE_CHUNK_BYTES + 1);
  await outbox.write(jobId, answer(jobId, path));
  const op = await fileOp(jobId);
  // The first attempt: the reply, then the whole upload of the file, and the process dies before done().
  await outbox.begin(jobId, 0);
  await thread.reply({ text: 'ok: 2113 packets', blocks: [] }, { job: jobId, seq: 0 });
  await outbox.done(jobId, 0);
  await outbox.begin(jobId, 1);
  await thread.attach({ filename: op.filename, title: op.title, bytes: op.bytes, content: outbox.content(jobId, op) });
  const uploadsBefore = slack.callsTo('upload_url').length;

  expect(await postOutbox(jobId, outbox, new JobThread(client, channel, rootTs))).toBe(1); // only the root update
  expect(slack.callsTo('upload_url')).toHaveLength(uploadsBefore);
  const files = slack.thread(channel, rootTs).flatMap((m) => m.files ?? []);
  expect(files.map((f) => f.name)).toEqual([`capture-web-0-${jobId}.pcap`]);
  expect(slack.file(files[0]!.id)!.bytes!.equals(content)).toBe(true);
  expect(await redisClient.exists(chunkKey(jobId, op))).toBe(0);
});

describe('the upload URL and files.completeUploadExternal hold to the declared length and known files', () => {
  async function uploadUrl(length: number, filename = 'capture.pcap'): Promise<{ url: string; id: string }> {
    const res = await client.files.getUploadURLExternal({ filename, length });
    return { url: res.upload_url!, id: res.file_id! };
  }
  const complete = (id: string, channel: string, rootTs: string) =>
    client.files.completeUploadExternal({ files: [{ id, title: 'capture' }], channel_id: channel, thread_ts: rootTs });
  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (err: { data?: { error?: string } }) => err.data?.error,
    );
  const rawPost = (url: string, body: Buffer) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(body) });

  test('fewer or more bytes than declared are refused, and the file cannot be completed', async () => {
    const { channel, rootTs } = await newThread();
    const bytes = randomBytes(4096);
    const short = await uploadUrl(4097);
    const res = await rawPost(short.url, bytes);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('length mismatch: 4096 bytes received, 4097 declared');
    expect(await errorOf(complete(short.id, channel, rootTs))).toBe('file_not_found');

    const long = await uploadUrl(4095);
    expect((await rawPost(long.url, bytes)).status).toBe(400);
    expect(await errorOf(complete(long.id, channel, rootTs))).toBe('file_not_found');

    const exact = await uploadUrl(4096);
    const ok = await rawPost(exact.url, bytes);
    expect([ok.status, await ok.text()]).toEqual([200, 'OK - 4096']);
    expect(await errorOf(complete(exact.id, channel, rootTs))).toBe('resolved');
    expect(slack.file(exact.id)!.bytes!.equals(bytes)).toBe(true);
    expect(
      slack
        .thread(channel, rootTs)
        .flatMap((m) => m.files ?? [])
        .map((f) => f.id),
    ).toEqual([exact.id]);
  });

  test('an unknown file id, and a length of 0, are refused as Slack refuses them', async () => {
    const { channel, rootTs } = await newThread();
    expect(await errorOf(complete('F0NOSUCHFILE', channel, rootTs))).toBe('file_not_found');
    expect(await errorOf(client.files.getUploadURLExternal({ filename: 'empty.txt', length: 0 }))).toBe('missing_argument');
    expect(slack.thread(channel, rootTs)).toEqual([]);
  });

  test('postUpload streams exactly the declared length, or fails before Slack takes anything', async () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(500)];
    async function* content() {
      for (const part of parts) yield part;
    }
    const fits = await uploadUrl(3500);
    await postUpload(fits.url, 3500, content(), slack.botToken);
    expect(slack.file(fits.id)!.bytes!.equals(Buffer.concat(parts))).toBe(true);

    const tooShort = await uploadUrl(3501);
    await expect(postUpload(tooShort.url, 3501, content(), slack.botToken)).rejects.toMatchObject({ code: 'upload_length_mismatch' });
    const tooLong = await uploadUrl(3499);
    await expect(postUpload(tooLong.url, 3499, content(), slack.botToken)).rejects.toMatchObject({ code: 'upload_length_mismatch' });
    expect(slack.file(tooShort.id)!.bytes).toBeUndefined();
    expect(slack.file(tooLong.id)!.bytes).toBeUndefined();

    // A refusal by the upload URL surfaces with its HTTP status.
    const refused = await uploadUrl(3500);
    slack.inject('upload_url', { status: 503 });
    await expect(postUpload(refused.url, 3500, content(), slack.botToken)).rejects.toMatchObject({ code: 'http_503' });
  });
});

test('each operation is marked in flight in Redis before its call reaches Slack, though the marker and its turn are asked for at once', async () => {
  const { channel, jobId, rootTs } = await newThread();
  expect(
    await outbox.write(jobId, [
      { kind: 'reply', text: 'ok: 2113 packets', blocks: [] },
      { kind: 'root', text: 'capture web-0 in prod: ok', blocks: [] },
    ]),
  ).toBe(true);
  // The marker takes 300 ms to land; the pacer grants each turn at once.
  const markedAt: number[] = [];
  const slowMarker = Object.assign(Object.create(outbox) as Outbox, {
    begin: async (id: string, seq: number) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await outbox.begin(id, seq);
      markedAt.push(Date.now());
    },
  });
  const before = slack.calls.length;
  expect(await postOutbox(jobId, slowMarker, new JobThread(client, channel, rootTs, undefined, new SlackPacer(redisClient, redis.prefix)))).toBe(2);
  const calls = slack.calls.slice(before).filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update');
  expect(calls.map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update']);
  calls.forEach((call, i) => expect(call.time).toBeGreaterThanOrEqual(markedAt[i]!));
});
