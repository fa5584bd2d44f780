// The shared Slack budgets: a burst, then one call per interval, in the order calls asked; a call
// that may be dropped takes a slot only if one is free now; budgets per channel or per workspace;
// a 429 that still happens is retried after its Retry-After, for that call only.
import { paced, SlackPacer, type PaceLimit } from '../../../src/slack/pacer.js';
import { suiteRedis } from '../policy/helpers.js';

const suite = suiteRedis();

const LIMITS: Record<string, PaceLimit> = {
  'chat.postMessage': { perMinute: 600, burst: 2, per: 'channel' },
  'chat.update': { perMinute: 600, burst: 3, per: 'workspace' },
};

test('a burst, then one call every interval, in the order the calls asked (two pacers sharing Redis act as one)', async () => {
  const prefix = suite.prefix();
  const a = new SlackPacer(suite.redis(), prefix, LIMITS);
  const b = new SlackPacer(suite.redis(), prefix, LIMITS);
  const start = Date.now();
  const done: Array<[number, number]> = [];
  await Promise.all(
    [0, 1, 2, 3, 4].map(async (i) => {
      await new Promise((r) => setTimeout(r, i * 5));
      await (i % 2 ? a : b).take('chat.postMessage', 'C1');
      done.push([i, Date.now() - start]);
    }),
  );
  expect(done.map(([i]) => i)).toEqual([0, 1, 2, 3, 4]);
  const at = Object.fromEntries(done);
  // 600 a minute is one per 100 ms; the first two at once.
  expect(at[1]).toBeLessThan(80);
  expect(at[2]).toBeGreaterThanOrEqual(90);
  expect(at[4]).toBeGreaterThanOrEqual(290);
  expect(at[4]).toBeLessThan(450);
});

test('tryTake takes only a slot free now, never one an answer reserved; channels have their own budget, workspace methods one', async () => {
  const prefix = suite.prefix();
  const pacer = new SlackPacer(suite.redis(), prefix, LIMITS);
  expect(await pacer.tryTake('chat.postMessage', 'C1')).toBe(true);
  await pacer.take('chat.postMessage', 'C1');
  const reserved = pacer.take('chat.postMessage', 'C1'); // waits ~100 ms for its slot
  expect(await pacer.tryTake('chat.postMessage', 'C1')).toBe(false);
  expect(await pacer.tryTake('chat.postMessage', 'C2')).toBe(true);
  await reserved;
  for (const channel of ['C1', 'C2', 'C3']) expect(await pacer.tryTake('chat.update', channel)).toBe(true);
  expect(await pacer.tryTake('chat.update', 'C4')).toBe(false);
  // A method without a budget is never held.
  expect(await pacer.tryTake('auth.test')).toBe(true);
});

test("paced: a 429 is retried after its Retry-After, for that call only; other errors are the caller's", async () => {
  const pacer = new SlackPacer(suite.redis(), suite.prefix(), LIMITS);
  let calls = 0;
  const started = Date.now();
  const result = await paced(pacer, 'chat.postMessage', 'C1', async () => {
    calls += 1;
    if (calls === 1) throw Object.assign(new Error('rate limited'), { retryAfter: 1 });
    return 'posted';
  });
  expect(result).toBe('posted');
  expect(calls).toBe(2);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  await expect(paced(pacer, 'chat.postMessage', 'C1', () => Promise.reject(new Error('channel_not_found')))).rejects.toThrow('channel_not_found');
});
