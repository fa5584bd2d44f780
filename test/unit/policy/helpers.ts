import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import { limitSettingsSchema, policySettingsSchema, type Config, type LimitSettings } from '../../../src/config/schema.js';
import { testRedis, type TestRedis } from '../../support/redis.js';

/** A real pino logger whose JSON lines are kept for assertions. */
export function capturedLogger(level = 'info'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger(level, stream);
  return {
    logger,
    lines: () =>
      raw
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/**
 * A Redis connection for the test file (opened before its tests, closed after), and a key prefix of
 * its own for every call of prefix(), under the run's prefix (testRedis deletes those keys).
 */
export function suiteRedis(): { redis: () => Redis; prefix: () => string } {
  let server: TestRedis;
  let redis: Redis;
  let run = 0;
  beforeAll(async () => {
    server = await testRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });
  return { redis: () => redis, prefix: () => `${server.prefix}:t${++run}` };
}

/** The shipped `limits:` and `policy:` settings (config/kdebug.yaml), each through its own schema. */
export function shippedSettings(): { limits: LimitSettings; policy: Config['policy'] } {
  const file = parseYaml(readFileSync(new URL('../../../config/kdebug.yaml', import.meta.url), 'utf8')) as { limits?: unknown; policy?: unknown };
  return { limits: limitSettingsSchema.parse(file.limits), policy: policySettingsSchema.parse(file.policy) };
}
