// Deliveries and Slack's workspace budgets: chat.update allows about 50 a minute for the whole
// workspace, so in an incident the final statuses of a hundred jobs take two minutes. A delivery
// whose turn is further away than a second does not wait in one of its process's 50 delivery slots:
// it keeps its turn, is put off until then (BullMQ's delayed set) and comes back for it. New answers,
// whose replies have a turn free in their own channel, go out at once meanwhile. Real Redis, the
// real delivery worker and WebClient, and the Slack emulator with Slack's limits on.
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { Queue, type Worker } from 'bullmq';
import { createAnswers, type Answers } from '../../src/delivery/answer-sink.js';
import { DELIVERY_QUEUE, startDeliveryWorker, type DeliveryData } from '../../src/delivery/delivery-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { DiagnosticJob } from '../../src/queue/job.js';
import { SLACK_PACE, SlackPacer } from '../../src/slack/pacer.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';
import { testRedis, type TestRedis } from '../support/redis.js';

/** More than the 50 deliveries a process runs at once. */
const WAITING = 55;
/** chat.update's turns 1.5 s apart (Slack's emulator allows 50 a minute): all but the first are put off. */
const UPDATE_INTERVAL_MS = 1500;

let slack: SlackEmulator;
let client: WebClient;
let redis: TestRedis;
let redisClient: Redis;
let answers: Answers;
let worker: Worker<DeliveryData>;
/** The delivery queue, read as an operator would. */
let deliveries: Queue<DeliveryData>;
let counter = 0;

beforeAll(async () => {
  redis = await testRedis();
  redisClient = new Redis(redis.url);
  slack = new SlackEmulator();
  await slack.start();
  client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  const metrics = new Metrics(false);
  answers = createAnswers(redisClient, redis.prefix, 600);
  const pacer = new SlackPacer(redisClient, redis.prefix, { ...SLACK_PACE, 'chat.update': { perMinute: 60_000 / UPDATE_INTERVAL_MS, burst: 1, per: 'workspace' } });
  deliveries = new Queue<DeliveryData>(DELIVERY_QUEUE, { connection: redisClient, prefix: redis.prefix });
  worker = startDeliveryWorker({
    redisUrl: redis.url,
    redis: redisClient,
    prefix: redis.prefix,
    outbox: answers.outbox,
    slack: client,
    logger: createLogger('silent'),
    metrics,
    pacer,
  });
});

afterAll(async () => {
  await worker?.close();
  // The connection startDeliveryWorker made is shared with BullMQ, which leaves it open on close().
  await worker?.disconnect();
  await answers?.close();
  await deliveries?.close();
  await slack?.stop();
  redisClient?.disconnect();
  await redis?.stop();
});

/** A job with a root message in a channel of its own, its answer handed to the delivery queue. */
async function answerJob(): Promise<{ job: DiagnosticJob; handedAt: number }> {
  const n = counter++;
  const channel = `C0TURNS${String(n).padStart(3, '0')}`;
  slack.addChannel(channel, { botIsMember: true });
  const root = await client.chat.postMessage({ channel, text: 'dns web-0 in prod: running' });
  const job = { id: `turns${String(n).padStart(4, '0')}`, reply: { channel, rootTs: root.ts! } } as DiagnosticJob;
  const handedAt = Date.now();
  expect(
    await answers.sink.write(job.id, [
      { kind: 'reply', text: `ok: answer ${n}`, blocks: [] },
      { kind: 'root', text: 'dns web-0 in prod: ok', blocks: [] },
    ]),
  ).toBe(true);
  await answers.sink.deliver(job);
  return { job, handedAt };
}

const replyOf = (job: DiagnosticJob) => slack.thread(job.reply.channel, job.reply.rootTs).find((m) => m.ts !== job.reply.rootTs);
const finalUpdateOf = (job: DiagnosticJob) => slack.callsTo('chat.update').find((c) => c.status === 200 && c.args.channel === job.reply.channel);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('deliveries waiting for their chat.update turn give up their slots: a new answer goes out at once, and each comes back for the turn it kept', async () => {
  const waiting: DiagnosticJob[] = [];
  for (let i = 0; i < WAITING; i++) waiting.push((await answerJob()).job);
  // Every reply has a turn free in its own channel; the root updates wait for the workspace's.
  await slack.waitFor(() => waiting.every(replyOf) || undefined, 30_000, 'the replies of the waiting answers');
  const counts = await until(
    'the deliveries to be put off until their turns',
    async () => {
      const c = await deliveries.getJobCounts('active', 'delayed');
      return c.delayed! >= WAITING - 5 ? c : undefined;
    },
    30_000,
  );
  // Holding a slot while waiting would leave 50 of them active (every slot), and the next answer queued.
  expect(counts.active).toBeLessThanOrEqual(5);

  const { job: late, handedAt } = await answerJob();
  const reply = await slack.waitFor(
    () => slack.callsTo('chat.postMessage').find((c) => c.status === 200 && c.args.channel === late.reply.channel && c.args.thread_ts),
    30_000,
    "the late answer's reply",
  );
  // With the slots held, it would wait for 6 of the turns 1.5 s apart to pass: 9 s.
  expect(reply.time - handedAt).toBeLessThan(4000);

  // The first deliveries put off come back for the turns they kept, not for new ones at the end of the line.
  const putOff = [];
  for (const job of waiting) {
    const data = (await deliveries.getJob(job.id))?.data;
    if (data?.turn) putOff.push({ job, turnAt: data.turn.at });
  }
  putOff.sort((a, b) => a.turnAt - b.turnAt);
  for (const { job, turnAt } of putOff.slice(0, 3)) {
    const update = await slack.waitFor(() => finalUpdateOf(job), 20_000, `the final status of ${job.id}`);
    expect(update.time).toBeGreaterThanOrEqual(turnAt - 50);
    expect(update.time).toBeLessThan(turnAt + 1000);
  }
  expect(slack.rateLimited()).toBe(0);
});
