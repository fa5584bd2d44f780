// The queue against the real Redis and the real BullMQ: every id jobIdFor makes is one BullMQ takes.
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { DiagnosticQueue } from '../../../src/queue/diagnostic-queue.js';
import { jobIdFor, type DiagnosticJob } from '../../../src/queue/job.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

let redis: TestRedis;
let client: Redis;
let queue: DiagnosticQueue;

beforeAll(async () => {
  redis = await testRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  queue = new DiagnosticQueue(client, redis.prefix, 60);
});
afterAll(async () => {
  await queue.close();
  client.disconnect();
  await redis.stop();
});

/** A Slack trigger id whose plain hash starts with 16 decimal digits (about 1 in 2,000 do). */
function allDigitTrigger(): string {
  for (let i = 0; ; i++) {
    const trigger = `trigger-${i}`;
    if (/^\d{16}/.test(createHash('sha256').update(`T1\u0000${trigger}`).digest('hex'))) return trigger;
  }
}

function job(id: string): DiagnosticJob {
  return {
    v: 1,
    id,
    check: 'dns',
    target: { kind: 'pod', name: 'web' },
    namespace: 'default',
    timeoutSeconds: 60,
    positional: [],
    options: {},
    commandText: '/kdebug dns web',
    requestedBy: { teamId: 'T1', userId: 'U1' },
    reply: { channel: 'C1', rootTs: '1.2' },
    enqueuedAt: Date.now(),
  };
}

test('a command whose hash is all digits still gets a job id BullMQ accepts, the same on every retry', async () => {
  const trigger = allDigitTrigger();
  const id = jobIdFor('T1', trigger);
  expect(id).toMatch(/^[0-9a-f]{16}$/);
  expect(id).not.toMatch(/^\d+$/);
  expect(jobIdFor('T1', trigger)).toBe(id);
  // Before the fix BullMQ threw "Custom Id cannot be integers" here and the user read "queue unavailable".
  await queue.enqueue(job(id));
  expect((await queue.job(id))?.id).toBe(id);
  expect((await queue.counts()).waiting).toBe(1);
});
