// The outbox against the real Redis: written once, read back in order, and a cursor that
// survives a crash between posting and recording; files kept as chunks beside it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { deliveryBackoff } from '../../../src/delivery/delivery-queue.js';
import { FILE_CHUNK_BYTES, Outbox, type FileOp, type MessageOp } from '../../../src/delivery/outbox.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

let redis: TestRedis;
let client: Redis;
let outbox: Outbox;
let dir: string;
const TTL = 3600;

beforeAll(async () => {
  redis = await testRedis();
  client = new Redis(redis.url);
  outbox = new Outbox(client, redis.prefix, TTL);
  dir = mkdtempSync(join(tmpdir(), 'kdebug-outbox-'));
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const reply = (text: string): MessageOp => ({ kind: 'reply', text, blocks: [] });

test('an outbox is written once: a second attempt cannot append another answer', async () => {
  expect(await outbox.write('job1', [reply('first'), { kind: 'root', text: 'done', blocks: [] }])).toBe(true);
  expect(await outbox.write('job1', [reply('second')])).toBe(false);
  expect((await outbox.pending('job1')).map((p) => p.seq)).toEqual([0, 1]);
  expect((await outbox.pending('job1'))[0]!.op).toEqual(reply('first'));
});

test('the cursor advances per operation, and an interrupted one is remembered', async () => {
  await outbox.write('job2', [reply('a'), reply('b'), reply('c')]);
  await outbox.begin('job2', 0);
  await outbox.done('job2', 0);
  await outbox.begin('job2', 1); // the process dies here, mid-post
  expect(await outbox.inflight('job2')).toBe(1);
  expect((await outbox.pending('job2')).map((p) => p.seq)).toEqual([1, 2]);
  await outbox.done('job2', 1);
  expect(await outbox.inflight('job2')).toBeUndefined();
  expect((await outbox.pending('job2')).map((p) => (p.op as { text: string }).text)).toEqual(['c']);
});

test("delivery backs off exponentially, or exactly by Slack's Retry-After", () => {
  expect([1, 2, 3, 4].map((n) => deliveryBackoff(n))).toEqual([1000, 2000, 4000, 8000]);
  expect(deliveryBackoff(20)).toBe(60_000);
  expect(deliveryBackoff(3, Object.assign(new Error('rate limited'), { retryAfter: 7 }))).toBe(7000);
});

/** A file on disk of `bytes` random bytes. */
function fileOf(name: string, bytes: number): { path: string; content: Buffer } {
  const content = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

const keysOf = (jobId: string) => client.keys(`${redis.prefix}:outbox:${jobId}*`);

/** Copies of the chunks: content() reads each into the same buffer. */
async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const all: Buffer[] = [];
  for await (const chunk of chunks) all.push(Buffer.from(chunk));
  return all;
}

test('a file is kept as chunks of at most 1 MiB beside the outbox, with its TTL; a second attempt leaves no copy', async () => {
  const first = fileOf('first.pcap', 2 * FILE_CHUNK_BYTES + 10);
  const second = fileOf('second.pcap', 1000);
  expect(await outbox.write('job3', [reply('ok'), { kind: 'file', filename: 'a.pcap', title: 'A', source: { path: first.path } }])).toBe(true);
  expect(await outbox.write('job3', [reply('again'), { kind: 'file', filename: 'a.pcap', title: 'A', source: { path: second.path } }])).toBe(false);

  const [, file] = await outbox.pending('job3');
  expect(file).toEqual({ seq: 1, op: { kind: 'file', filename: 'a.pcap', title: 'A', content: 'file:1', bytes: 2 * FILE_CHUNK_BYTES + 10 } });
  const chunks = await collect(outbox.content('job3', file!.op as FileOp));
  expect(chunks.map((c) => c.length)).toEqual([FILE_CHUNK_BYTES, FILE_CHUNK_BYTES, 10]);
  expect(Buffer.concat(chunks).equals(first.content)).toBe(true);
  // The outbox, its file and nothing else: the second attempt's staged chunks are gone.
  expect((await keysOf('job3')).sort()).toEqual([`${redis.prefix}:outbox:job3`, `${redis.prefix}:outbox:job3:file:1`]);
  for (const key of await keysOf('job3')) {
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(TTL - 10);
    expect(ttl).toBeLessThanOrEqual(TTL);
  }
});

test('a short text takes the same path; an empty file is left out; done() of a file deletes its chunks', async () => {
  const text = 'line\n'.repeat(1000);
  const ops = [
    reply('long output'),
    { kind: 'file' as const, filename: 'empty.txt', title: 'nothing', source: { text: '' } },
    { kind: 'file' as const, filename: 'dns.txt', title: 'dns output', source: { text } },
    { kind: 'root' as const, text: 'done', blocks: [] },
  ];
  expect(await outbox.write('job4', ops)).toBe(true);
  const pending = await outbox.pending('job4');
  expect(pending.map((p) => p.op.kind)).toEqual(['reply', 'file', 'root']);
  const file = pending[1]!.op as FileOp;
  expect(file).toEqual({ kind: 'file', filename: 'dns.txt', title: 'dns output', content: 'file:1', bytes: text.length });
  expect(Buffer.concat(await collect(outbox.content('job4', file))).toString('utf8')).toBe(text);

  await outbox.begin('job4', 1);
  await outbox.done('job4', 1, file);
  expect(await client.exists(`${redis.prefix}:outbox:job4:file:1`)).toBe(0);
  await expect(collect(outbox.content('job4', file))).rejects.toThrow('the content of dns.txt is no longer in Redis');
  expect((await outbox.pending('job4')).map((p) => p.op.kind)).toEqual(['root']);
});

test('a write that fails half-way leaves nothing behind, and can be made again', async () => {
  const good = fileOf('good.pcap', FILE_CHUNK_BYTES + 1);
  const ops = [
    { kind: 'file' as const, filename: 'good.pcap', title: 'good', source: { path: good.path } },
    { kind: 'file' as const, filename: 'gone.pcap', title: 'gone', source: { path: join(dir, 'no-such-file.pcap') } },
  ];
  await expect(outbox.write('job5', ops)).rejects.toThrow(/ENOENT/);
  expect(await keysOf('job5')).toEqual([]);
  expect(await outbox.write('job5', ops.slice(0, 1))).toBe(true);
  expect((await outbox.pending('job5')).map((p) => p.op)).toEqual([{ kind: 'file', filename: 'good.pcap', title: 'good', content: 'file:0', bytes: FILE_CHUNK_BYTES + 1 }]);
});

test('staged chunks expire within the hour until the outbox adopts them, then live as long as it', async () => {
  const week = new Outbox(client, redis.prefix, 7 * 86400);
  // A capture still being read when the worker would die: a pipe the test fills in two halves.
  const fifo = join(dir, 'slow.pcap');
  execFileSync('mkfifo', [fifo]);
  const writing = week.write('job6', [{ kind: 'file', filename: 'slow.pcap', title: 'slow', source: { path: fifo } }]);
  const pipe = createWriteStream(fifo);
  pipe.write(randomBytes(FILE_CHUNK_BYTES));
  let staged: string[] = [];
  for (let i = 0; i < 100 && staged.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    staged = await client.keys(`${redis.prefix}:outbox:job6:staging:*`);
  }
  expect(staged).toHaveLength(1);
  const stagedTtl = await client.ttl(staged[0]!);
  expect(stagedTtl).toBeGreaterThan(3500);
  expect(stagedTtl).toBeLessThanOrEqual(3600);
  pipe.end(randomBytes(10));
  expect(await writing).toBe(true);
  expect(await client.keys(`${redis.prefix}:outbox:job6:staging:*`)).toEqual([]);
  expect((await week.pending('job6'))[0]!.op).toMatchObject({ content: 'file:0', bytes: FILE_CHUNK_BYTES + 10 });
  expect(await client.ttl(`${redis.prefix}:outbox:job6:file:0`)).toBeGreaterThan(7 * 86400 - 10);
});
