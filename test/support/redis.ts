// Tests use a real Redis: the one at REDIS_URL (or 127.0.0.1:6379) when it answers, otherwise a
// redis-server the suite starts on a free port. Each test run gets its own key prefix, so parallel
// suites never collide.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  /** A key prefix nobody else uses. */
  prefix: string;
  /** Deletes this run's keys and stops a server the suite started. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`no Redis answers and redis-server cannot be started (${(err as Error).message}); run scripts/setup.sh or apt-get install redis-server`, { cause: err });
  }
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`no Redis answers and redis-server cannot be started (${err.message}); run scripts/setup.sh or apt-get install redis-server`))),
  );
  const url = `redis://127.0.0.1:${port}`;
  const ready = (async () => {
    for (let i = 0; i < 50; i++) {
      if (await answers(url)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`redis-server started on port ${port} but does not answer`);
  })();
  await Promise.race([ready, spawnError]);
  return { url, child };
}

export async function testRedis(): Promise<TestRedis> {
  const prefix = `kdebug-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const candidate = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const started = (await answers(candidate)) ? undefined : await startServer();
  const url = started?.url ?? candidate;
  return {
    url,
    prefix,
    async stop() {
      if (started) {
        started.child.kill('SIGTERM');
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
