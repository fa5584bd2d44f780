// Tests use a real Redis: the one at REDIS_URL (or 127.0.0.1:6379) when it answers, otherwise a
// redis-server the suite starts on a free port. Each test run gets its own key prefix, so parallel
// suites never collide.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisAnswers, startRedisServer } from '../../src/playground/redis-server.js';

export { freePort } from '../../src/playground/redis-server.js';

export interface TestRedis {
  url: string;
  /** A key prefix nobody else uses. */
  prefix: string;
  /** Deletes this run's keys and stops a server the suite started. */
  stop(): Promise<void>;
}

export async function testRedis(): Promise<TestRedis> {
  const prefix = `kdebug-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const candidate = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const started = (await redisAnswers(candidate)) ? undefined : await startRedisServer();
  const url = started?.url ?? candidate;
  return {
    url,
    prefix,
    async stop() {
      if (started) {
        started.stop();
        return;
      }
      const redis = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    },
  };
}
