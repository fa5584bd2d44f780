// Redis connections for BullMQ, and the start-up check that says clearly when Redis is not there.
import { Redis } from 'ioredis';
import { redactUrl } from '../observability/logger.js';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** BullMQ workers need maxRetriesPerRequest: null so blocking commands survive reconnects. */
export function createRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
}

/** Connect and PING within a few seconds, or fail with one line naming the URL and the fix. */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const reason = (lastError ?? (err as Error)).message.split('\n')[0];
    throw new RedisUnavailableError(`cannot reach Redis at ${redactUrl(url)} (${reason}); start one (e.g. \`redis-server --port 6379\`) or set REDIS_URL to a reachable Redis`);
  }
  redis.disconnect();
  // The checked URL is good: hand back a connection that reconnects by itself from now on.
  const connection = createRedis(url);
  await connection.connect();
  return connection;
}
