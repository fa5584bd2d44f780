// Which Kubernetes API failures are retried: no answer in time, network errors, 429 and 5xx.
// 4xx answers (forbidden, not found, invalid, conflict…) are final.
import { ApiException } from '@kubernetes/client-node';
import { isTransient, RequestTimeout, withRetry } from '../../../src/kube/retry.js';

const api = (code: number) => new ApiException(code, 'x', JSON.stringify({ kind: 'Status', code }), {});

test.each([
  [api(500), true],
  [api(503), true],
  [api(429), true],
  [new RequestTimeout('late'), true],
  [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
  [api(400), false],
  [api(401), false],
  [api(403), false],
  [api(404), false],
  [api(409), false],
  [api(422), false],
  [new Error('a bug'), false],
])('%s transient: %s', (err, transient) => {
  expect(isTransient(err)).toBe(transient);
});

test('retries transient failures up to the limit, and never a final one', async () => {
  let calls = 0;
  await expect(
    withRetry(
      async () => {
        calls += 1;
        throw api(503);
      },
      { attempts: 3, baseDelayMs: 1, timeoutMs: 1000 },
    ),
  ).rejects.toMatchObject({ code: 503 });
  expect(calls).toBe(3);
  calls = 0;
  await expect(
    withRetry(
      async () => {
        calls += 1;
        throw api(422);
      },
      { attempts: 3, baseDelayMs: 1, timeoutMs: 1000 },
    ),
  ).rejects.toMatchObject({ code: 422 });
  expect(calls).toBe(1);
  calls = 0;
  const value = await withRetry(async () => (++calls < 2 ? new Promise(() => undefined) : 'answered'), { attempts: 3, baseDelayMs: 1, timeoutMs: 50 });
  expect(value).toBe('answered');
});
