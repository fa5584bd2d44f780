// Relayed progress against the real Redis: a worker without Slack credentials offers a job's
// progress, the bot's relay posts it, and once the delivery marks the job final no progress can
// land after the final status, not even one a relay is posting at that moment.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { finalizeProgress, RelayedRootUpdates, startProgressRelay } from '../../../src/delivery/progress-relay.js';
import type { SlackMessage } from '../../../src/slack/render.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

let redis: TestRedis;
let client: Redis;
let relay: { close(): Promise<void> };
/** What the relay posted, by root message. */
const posted: Array<{ channel: string; rootTs: string; text: string }> = [];
/** Set by a test to hold the relay's next post until it is released. */
let hold: Promise<void> | undefined;
let slotFree = true;

beforeAll(async () => {
  redis = await testRedis();
  client = new Redis(redis.url);
  relay = await startProgressRelay({
    subscriber: new Redis(redis.url),
    redis: client,
    prefix: redis.prefix,
    threadOf: (channel, rootTs) => ({
      async updateRootIfFree(message: SlackMessage) {
        await hold;
        if (!slotFree) return false;
        posted.push({ channel, rootTs, text: message.text });
        return true;
      },
    }),
    logger: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await relay.close();
  client.disconnect();
  await redis.stop();
});
beforeEach(() => {
  posted.length = 0;
  hold = undefined;
  slotFree = true;
});

const progress = (text: string): SlackMessage => ({ text, blocks: [] });
const updatesFor = (jobId: string) => new RelayedRootUpdates(client, redis.prefix, jobId, 'C1', `ts-${jobId}`);

async function until(fn: () => boolean | Promise<boolean>, label: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !(await fn());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a worker's progress reaches its job's root message through the relay", async () => {
  expect(await updatesFor('job-a').updateRootIfFree(progress('running: adding the debug container'))).toBe(true);
  await until(() => posted.length === 1, 'the relayed update');
  expect(posted).toEqual([{ channel: 'C1', rootTs: 'ts-job-a', text: 'running: adding the debug container' }]);
});

test('once the job is final, progress is neither kept nor relayed', async () => {
  await finalizeProgress(client, redis.prefix, 'job-b');
  expect(await updatesFor('job-b').updateRootIfFree(progress('running: late'))).toBe(false);
  await new Promise((r) => setTimeout(r, 200));
  expect(posted).toEqual([]);
  expect(await client.exists(`${redis.prefix}:progress:job-b`)).toBe(0);
});

test('the final status waits for a relayed update already being posted, so that update cannot land after it', async () => {
  let release!: () => void;
  hold = new Promise((resolve) => (release = resolve));
  await updatesFor('job-c').updateRootIfFree(progress('running: reading the log'));
  // The relay has claimed the update and is posting it (held here).
  await until(async () => (await client.exists(`${redis.prefix}:progress-lock:job-c`)) === 1, 'the claim');
  let finalized = false;
  const finalizing = finalizeProgress(client, redis.prefix, 'job-c').then(() => (finalized = true));
  await new Promise((r) => setTimeout(r, 300));
  const finalizedWhilePosting = finalized;
  release();
  await finalizing;
  expect(finalizedWhilePosting).toBe(false);
  // By the time the final status may go out, the progress update is in.
  expect(posted.map((p) => p.text)).toEqual(['running: reading the log']);
});

test('with no chat.update slot free, relayed progress is dropped and nothing waits on it', async () => {
  slotFree = false;
  await updatesFor('job-d').updateRootIfFree(progress('running: dropped'));
  await new Promise((r) => setTimeout(r, 200));
  expect(posted).toEqual([]);
  expect(await client.exists(`${redis.prefix}:progress-lock:job-d`)).toBe(0);
  const started = Date.now();
  await finalizeProgress(client, redis.prefix, 'job-d');
  expect(Date.now() - started).toBeLessThan(1000);
});
