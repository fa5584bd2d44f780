// A private redis-server on a free loopback port: the playground's queue, and the tests' when no
// Redis answers. Nothing is saved to disk; the server ends with the process that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

const INSTALL_HINT = 'install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)';

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

/** Whether a Redis answers PING at `url` within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
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

export interface RedisServer {
  url: string;
  child: ChildProcess;
  stop(): void;
}

/** Starts `redis-server` on a free port and waits until it answers; fails saying what to install when there is none. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? `redis-server is not installed: ${INSTALL_HINT}` : `redis-server cannot be started (${err.message})`)),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  const ready = (async () => {
    for (let i = 0; i < 50; i++) {
      if (await redisAnswers(url)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`redis-server started on port ${port} but does not answer`);
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { url, child, stop: () => child.kill('SIGTERM') };
}
