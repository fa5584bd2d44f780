// Retries Kubernetes API calls that failed for transient reasons: no answer in time, a network
// error, 429 or 5xx. 4xx answers (403, 404, 409, 422, …) are final and surface at once.
// Hand-written rather than a retry library because the interesting part is this classification
// and the per-call timeout, which a generic library leaves to us anyway.
import { networkCode, statusOf } from './errors.js';

export class RequestTimeout extends Error {
  override name = 'RequestTimeout';
  readonly code = 'ETIMEDOUT';
}

export interface RetryPolicy {
  attempts: number;
  /** First backoff; doubled each attempt, with jitter. */
  baseDelayMs: number;
  /** A call with no answer after this long counts as failed (and is retried). */
  timeoutMs: number;
  onRetry?: (err: unknown, attempt: number) => void;
}

export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status) return status.code === 429 || status.code >= 500;
  return err instanceof RequestTimeout || networkCode(err) !== undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout(`no answer from the Kubernetes API within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function withRetry<T>(call: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(call(), policy.timeoutMs);
    } catch (err) {
      if (attempt >= policy.attempts || !isTransient(err)) throw err;
      policy.onRetry?.(err, attempt);
      const delay = policy.baseDelayMs * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * delay));
    }
  }
}

/**
 * The same API object, every method call retried by `policy`. Every call kdebug makes is safe to
 * repeat: reads, and a strategic-merge patch adding a container whose name is fixed by the job
 * (the second time it changes nothing).
 */
export function retrying<T extends object>(api: T, policy: RetryPolicy): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => withRetry(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args), policy);
    },
  });
}
