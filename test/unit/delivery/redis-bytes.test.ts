// RedisBytes, the outbox's own connection for file chunks, against a real redis-server with TLS, a
// password and a database (as a managed Redis is reached, rediss://:password@host/db), and against
// a server that sends its answers a byte at a time.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { RedisBytes } from '../../../src/delivery/redis-bytes.js';
import { freePort } from '../../support/redis.js';

const execFileAsync = promisify(execFile);
const PASSWORD = 'chunks-only';
let dir: string;
let server: ChildProcess;
let plainPort: number;
let tlsPort: number;

/** An ioredis client that is never connected: RedisBytes takes its connection options from it. */
const optionsOf = (url: string, tls = false) => new Redis(url, { lazyConnect: true, ...(tls ? { tls: { rejectUnauthorized: false } } : {}) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kdebug-redis-bytes-'));
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  [plainPort, tlsPort] = [await freePort(), await freePort()];
  server = spawn(
    'redis-server',
    [
      ...['--port', String(plainPort), '--tls-port', String(tlsPort), '--bind', '127.0.0.1', '--requirepass', PASSWORD],
      ...['--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'), '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no'],
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis(`redis://:${PASSWORD}@127.0.0.1:${plainPort}`, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  for (let i = 0; ; i++) {
    const up = await probe.connect().then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i === 50) throw new Error('redis-server with TLS did not start (does this redis-server support TLS?)');
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.disconnect();
});

afterAll(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test('over TLS, with a password and a database: binary chunks in and out, nil, errors, and the connection stays in step', async () => {
  const connection = await RedisBytes.open(optionsOf(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}/2`, true));
  try {
    // Bytes that look like the protocol, and a chunk far larger than one read.
    const chunk = Buffer.concat([Buffer.from('$5\r\nhello\r\n*1\r\n-ERR\r\n'), randomBytes(3 * 1024 * 1024)]);
    expect(await connection.command(['DEL', 'chunks'])).toBe(0);
    expect(await connection.command(['RPUSH', 'chunks', chunk])).toBe(1);
    expect(await connection.command(['RPUSH', 'chunks', Buffer.alloc(0)])).toBe(2);
    const into = Buffer.alloc(4 * 1024 * 1024);
    expect(await connection.command(['LINDEX', 'chunks', '0'], into)).toBe(chunk.length);
    expect(into.subarray(0, chunk.length).equals(chunk)).toBe(true);
    expect(await connection.command(['LINDEX', 'chunks', '1'], into)).toBe(0);
    expect(await connection.command(['LINDEX', 'chunks', '2'], into)).toBeNull();
    // Too large for the buffer: read past, the command fails, the next one is answered in step.
    await expect(connection.command(['LINDEX', 'chunks', '0'], Buffer.alloc(1024))).rejects.toThrow(`a value of ${chunk.length} bytes does not fit the 1024-byte buffer`);
    await expect(connection.command(['LPUSH', 'chunks'])).rejects.toThrow("Redis: ERR wrong number of arguments for 'lpush' command");
    expect(await connection.command(['PING'])).toBe('PONG');
    // The database of the URL: the key is in 2 and nowhere else.
    const db2 = new Redis(`redis://:${PASSWORD}@127.0.0.1:${plainPort}/2`);
    const db0 = new Redis(`redis://:${PASSWORD}@127.0.0.1:${plainPort}/0`);
    expect([await db2.llen('chunks'), await db0.llen('chunks')]).toEqual([2, 0]);
    db2.disconnect();
    db0.disconnect();
  } finally {
    connection.close();
  }
  await expect(connection.command(['PING'])).rejects.toThrow('the connection to Redis was closed');
});

test('a wrong password fails open()', async () => {
  await expect(RedisBytes.open(optionsOf(`redis://:wrong@127.0.0.1:${plainPort}`))).rejects.toThrow(/^Redis: WRONGPASS/);
  await expect(RedisBytes.open(optionsOf(`redis://127.0.0.1:${plainPort}`))).resolves.toBeDefined();
});

test('answers that arrive a byte at a time, and a server that goes away', async () => {
  // A server that answers each command with the next canned answer, one byte per write.
  const answers = ['+OK\r\n', ':42\r\n', '$12\r\nhello\r\nworld\r\n', '$-1\r\n', '-ERR nope\r\n', '$3\r\nabc\r\n'];
  const stub: Server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', () => {
      const answer = answers.shift();
      if (answer === undefined) return socket.destroy();
      void (async () => {
        for (const byte of Buffer.from(answer)) {
          socket.write(Buffer.from([byte]));
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  const port = (stub.address() as { port: number }).port;
  const connection = await RedisBytes.open(optionsOf(`redis://127.0.0.1:${port}`));
  try {
    expect(await connection.command(['A'])).toBe('OK');
    expect(await connection.command(['B'])).toBe(42);
    const into = Buffer.alloc(16);
    expect(await connection.command(['C'], into)).toBe(12);
    expect(into.subarray(0, 12).toString()).toBe('hello\r\nworld');
    expect(await connection.command(['D'], into)).toBeNull();
    await expect(connection.command(['E'])).rejects.toThrow('Redis: ERR nope');
    expect(await connection.command(['F'])).toEqual(Buffer.from('abc'));
    await expect(connection.command(['G'])).rejects.toThrow('the connection to Redis closed');
  } finally {
    connection.close();
    await new Promise((resolve) => stub.close(resolve));
  }
});
