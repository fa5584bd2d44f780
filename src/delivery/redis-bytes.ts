// A connection of its own to Redis, speaking just enough of its protocol (RESP2) to move a file's
// chunks in and out without making garbage. Through ioredis every chunk would be copied into a
// fresh buffer on its way out, and every reply read into fresh socket buffers and joined into
// another; the dead buffers are only freed when V8 next collects, which it does after tens of
// megabytes of them (up to 64 MB in the worker), so a 100 MB capture would swell the worker by
// that much. Here a chunk is written from the caller's buffer as it is, and a reply is read into
// one reused buffer (the socket's `onread`) and copied straight into the caller's: streaming a
// file of any size allocates next to nothing.
//
// One command at a time, each awaited: Redis answers only once it has read the whole command, so
// the caller's buffer is free again when the answer arrives.
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';

/** What a command answers: a status, an integer, a bulk string (its length when read into the caller's buffer), or nil. */
type Reply = string | number | Buffer | null;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
  /** Where a bulk reply goes (LINDEX of a chunk); without it, a bulk reply is a new Buffer. */
  into?: Buffer;
}

/** How long Redis may stay silent while a command waits for its answer. */
const IDLE_TIMEOUT_MS = 60_000;
/** The one buffer incoming bytes are read into. */
const READ_BUFFER_BYTES = 64 * 1024;
const CRLF = '\r\n';

export class RedisBytes {
  private pending: Pending | undefined;
  private failure: Error | undefined;
  // The reply being parsed: its first line so far, the bulk payload being copied, the CRLF after it.
  private line = '';
  private bulk: { target: Buffer | undefined; length: number; filled: number; into: boolean } | undefined;
  private trailer = 0;

  private readonly socket: Socket;

  private constructor(connect: (onread: OnReadOpts) => Socket) {
    this.socket = connect({
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (nread: number, buffer: Buffer): boolean => {
        this.receive(buffer.subarray(0, nread));
        return true;
      },
    });
  }

  /** Opens a connection to the Redis that `redis` talks to (host or socket path, TLS, user, password, database). */
  static async open(redis: Redis): Promise<RedisBytes> {
    const options = redis.options;
    if (options.keyPrefix) throw new Error('RedisBytes does not apply ioredis keyPrefix; give full keys to a client without one');
    const target = options.path ? { path: options.path } : { host: options.host ?? '127.0.0.1', port: options.port ?? 6379, ...(options.family ? { family: options.family } : {}) };
    // Node's TLS sockets take `onread` too (when they make their own connection); @types/node omits it.
    const tlsOptions: ConnectionOptions = { ...target, ...(typeof options.tls === 'object' ? options.tls : {}) };
    const connection = new RedisBytes((onread) => (options.tls ? tlsConnect(Object.assign(tlsOptions, { onread })) : netConnect({ ...target, onread })));
    try {
      await connection.connected(options.tls ? 'secureConnect' : 'connect', options.connectTimeout ?? 10_000);
      if (options.password) await connection.command(options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password]);
      if (options.db) await connection.command(['SELECT', String(options.db)]);
    } catch (err) {
      connection.close();
      throw err;
    }
    return connection;
  }

  private connected(event: 'connect' | 'secureConnect', timeoutMs: number): Promise<void> {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the connection to Redis closed')));
    socket.on('timeout', () => socket.destroy(new Error(`Redis did not answer for ${IDLE_TIMEOUT_MS / 1000} s`)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error(`could not connect to Redis within ${timeoutMs / 1000} s`)), timeoutMs);
      socket.once(event, () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(this.failure ?? new Error('the connection to Redis closed'));
      });
    });
  }

  /**
   * Sends one command and waits for its answer. Buffer arguments are written as they are (so the
   * caller must leave them alone until this resolves); a bulk answer is copied into `into` when
   * given, and answered with its length.
   */
  command(args: Array<string | Buffer>, into?: Buffer): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('RedisBytes runs one command at a time'));
    const answer = new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject, ...(into ? { into } : {}) };
    });
    const socket = this.socket;
    // Only while an answer is awaited: between commands the caller may take its time (an upload).
    socket.setTimeout(IDLE_TIMEOUT_MS);
    socket.cork();
    let head = `*${args.length}${CRLF}`;
    for (const arg of args) {
      if (typeof arg === 'string') {
        head += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
        continue;
      }
      socket.write(`${head}$${arg.length}${CRLF}`);
      socket.write(arg);
      head = CRLF;
    }
    socket.write(head);
    socket.uncork();
    return answer;
  }

  /** Closes the connection; a command still waiting fails. */
  close(): void {
    this.fail(new Error('the connection to Redis was closed'));
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(err);
  }

  private settle(result: { reply: Reply } | { error: Error }): void {
    const pending = this.pending;
    this.pending = undefined;
    this.socket.setTimeout(0);
    if (!pending) return this.protocolError('an answer nobody asked for');
    if ('error' in result) pending.reject(result.error);
    else pending.resolve(result.reply);
  }

  private protocolError(what: string): void {
    this.fail(new Error(`unexpected answer from Redis: ${what}`));
    this.socket.destroy();
  }

  /** Incoming bytes, in the reused read buffer: everything needed is copied out before returning. */
  private receive(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.failure) {
      const bulk = this.bulk;
      if (bulk && bulk.filled < bulk.length) {
        const take = Math.min(bulk.length - bulk.filled, data.length - at);
        if (bulk.target) data.copy(bulk.target, bulk.filled, at, at + take);
        bulk.filled += take;
        at += take;
        if (bulk.filled < bulk.length) continue;
        this.trailer = 2;
      }
      if (this.trailer > 0) {
        const skip = Math.min(this.trailer, data.length - at);
        this.trailer -= skip;
        at += skip;
        if (this.trailer === 0 && this.bulk) this.endBulk();
        continue;
      }
      const end = data.indexOf(0x0a, at);
      if (end === -1) {
        this.line += data.toString('latin1', at);
        if (this.line.length > 64 * 1024) this.protocolError('a line longer than 64 KiB');
        return;
      }
      const line = (this.line + data.toString('latin1', at, end)).replace(/\r$/, '');
      this.line = '';
      at = end + 1;
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const rest = line.slice(1);
    switch (line[0]) {
      case '+':
        return this.settle({ reply: rest });
      case '-':
        return this.settle({ error: new Error(`Redis: ${rest}`) });
      case ':':
        return this.settle({ reply: Number(rest) });
      case '$': {
        const length = Number(rest);
        if (length === -1) return this.settle({ reply: null });
        if (!Number.isInteger(length) || length < 0) return this.protocolError(line);
        const into = this.pending?.into;
        // A chunk larger than the caller's buffer is read past, and the command fails.
        const target = into ? (length <= into.length ? into : undefined) : Buffer.allocUnsafe(length);
        this.bulk = { target, length, filled: 0, into: Boolean(into) };
        if (length === 0) this.trailer = 2;
        return;
      }
      default:
        return this.protocolError(line.slice(0, 80));
    }
  }

  private endBulk(): void {
    const bulk = this.bulk!;
    this.bulk = undefined;
    if (!bulk.target) return this.settle({ error: new Error(`a value of ${bulk.length} bytes does not fit the ${this.pending?.into?.length ?? 0}-byte buffer`) });
    this.settle({ reply: bulk.into ? bulk.length : bulk.target });
  }
}
