// The outbox against the real Redis: written once, read back in order, and a cursor that
// survives a crash between posting and recording.
import { Redis } from 'ioredis';
import { deliveryBackoff } from '../../../src/delivery/delivery-queue.js';
import { Outbox, type OutboxOp } from '../../../src/delivery/outbox.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

let redis: TestRedis;
let client: Redis;
let outbox: Outbox;

beforeAll(async () => {
  redis = await testRedis();
  client = new Redis(redis.url);
  outbox = new Outbox(client, redis.prefix);
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

const reply = (text: string): OutboxOp => ({ kind: 'reply', text, blocks: [] });

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
