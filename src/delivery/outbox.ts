// The outbox: everything a finished job has to say in Slack, kept in Redis until it is posted.
// Running a diagnostic and posting its result are separate steps: when Slack is down or rate
// limiting, the finding waits here and posting is retried; the diagnostic is never run again.
//
// A file (a packet capture can be hundreds of megabytes) is never held whole in the worker, nor as
// one value in Redis: its bytes go from the file on disk into a Redis list of binary chunks of at
// most 1 MiB, next to the outbox, and come back out chunk by chunk when they are uploaded, both ways
// through one reused buffer (RedisBytes). The chunks are staged before the outbox is written and
// adopted by the same atomic write, so the outbox is still written once; they expire with the
// outbox, and are deleted as soon as Slack has the file.
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { KnownBlock } from '@slack/types';
import type { Redis } from 'ioredis';
import { RedisBytes } from './redis-bytes.js';

/** A reply in the job's thread, or the final state of its root message. */
export type MessageOp = { kind: 'reply'; text: string; blocks: KnownBlock[] } | { kind: 'root'; text: string; blocks: KnownBlock[] };

/** A file as stored: its bytes are the Redis list `<outbox key>:<content>`, in chunks. */
export interface FileOp {
  kind: 'file';
  filename: string;
  title: string;
  /** Where its chunks are, relative to the outbox's key (`file:<seq>`). */
  content: string;
  /** Its length in bytes. */
  bytes: number;
}

export type OutboxOp = MessageOp | FileOp;

/** A file as a job hands it over: a file on disk (streamed in, never read whole) or a short text. */
export type FileSource = { path: string } | { text: string };

/** What a job's answer says, as it is handed to write(). */
export type AnswerOp = MessageOp | { kind: 'file'; filename: string; title: string; source: FileSource };

export interface PendingOp {
  seq: number;
  op: OutboxOp;
}

/** The largest chunk of a file kept in Redis (and so held in memory at once). */
export const FILE_CHUNK_BYTES = 1024 * 1024;

// Writes the whole outbox at most once, atomically: a retried job never appends a second answer.
// KEYS: the outbox, then per file its staged chunk list and the chunk list it becomes.
// ARGV: the TTL, the number of files, then the operations.
const WRITE_ONCE = `
local files = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, files do redis.call('DEL', KEYS[2 * i]) end
  return 0
end
for i = 1, files do
  if redis.call('EXISTS', KEYS[2 * i]) == 0 then return redis.error_reply('the staged content of a file is gone: ' .. KEYS[2 * i]) end
end
for i = 1, files do
  redis.call('RENAME', KEYS[2 * i], KEYS[2 * i + 1])
  redis.call('EXPIRE', KEYS[2 * i + 1], ARGV[1])
end
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

/**
 * How long staged chunks live until the outbox adopts them (and its TTL): a worker that dies while
 * staging leaves chunks that are gone within the hour, not the outbox's week.
 */
const STAGING_TTL_SECONDS = 3600;

// Appends one chunk to a staged list and sets its TTL, in one command: a worker that dies half-way
// leaves nothing that never expires.
const APPEND_CHUNK = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

/** A text's bytes in chunks of at most FILE_CHUNK_BYTES. */
function* textChunks(text: string): Generator<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; at += FILE_CHUNK_BYTES) yield bytes.subarray(at, at + FILE_CHUNK_BYTES);
}

/**
 * A file's bytes in chunks of at most FILE_CHUNK_BYTES, read into one buffer that is reused: each
 * chunk is valid only until the consumer asks for the next one.
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(FILE_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, FILE_CHUNK_BYTES, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

export class Outbox {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 7 * 86400,
  ) {}

  private key(jobId: string, part = ''): string {
    return `${this.prefix}:outbox:${jobId}${part}`;
  }

  /**
   * False when the job's outbox was already written (by an earlier attempt). Files are streamed
   * into Redis first; an empty one is left out (Slack takes no empty file).
   */
  async write(jobId: string, ops: AnswerOp[]): Promise<boolean> {
    // An earlier attempt's answer stands: no need to copy a large file for nothing. (Without files
    // the script's own check is enough, and the answer reaches Redis one round trip sooner.)
    if (ops.some((op) => op.kind === 'file') && (await this.exists(jobId))) return false;
    const attempt = randomBytes(8).toString('hex');
    const staged: Array<{ from: string; to: string }> = [];
    const stored: OutboxOp[] = [];
    try {
      for (const op of ops) {
        if (op.kind !== 'file') {
          stored.push(op);
          continue;
        }
        const seq = stored.length;
        const from = this.key(jobId, `:staging:${attempt}:${seq}`);
        staged.push({ from, to: this.key(jobId, `:file:${seq}`) });
        const bytes = await this.stage(from, op.source);
        if (bytes === 0) {
          staged.pop();
          continue;
        }
        stored.push({ kind: 'file', filename: op.filename, title: op.title, content: `file:${seq}`, bytes });
      }
      const keys = [this.key(jobId), ...staged.flatMap(({ from, to }) => [from, to])];
      const written = await this.redis.eval(WRITE_ONCE, keys.length, ...keys, String(this.ttlSeconds), String(staged.length), ...stored.map((op) => JSON.stringify(op)));
      return written === 1;
    } catch (err) {
      // Staged chunks nobody will adopt; they would expire anyway.
      if (staged.length > 0) await this.redis.del(...staged.map(({ from }) => from)).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Appends a file's bytes to the list `key`, one chunk at a time, over a connection that copies
   * nothing (RedisBytes); returns how many bytes.
   */
  private async stage(key: string, source: FileSource): Promise<number> {
    const connection = await RedisBytes.open(this.redis);
    let bytes = 0;
    try {
      // Each chunk is in Redis (so sent) before the next is read into the same buffer.
      for await (const chunk of 'text' in source ? textChunks(source.text) : fileChunks(source.path)) {
        await connection.command(['EVAL', APPEND_CHUNK, '1', key, chunk, String(Math.min(STAGING_TTL_SECONDS, this.ttlSeconds))]);
        bytes += chunk.length;
      }
    } finally {
      connection.close();
    }
    return bytes;
  }

  async exists(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(jobId))) === 1;
  }

  /** The operations not yet confirmed as posted, in order. */
  async pending(jobId: string): Promise<PendingOp[]> {
    const [all, sent] = await Promise.all([this.redis.lrange(this.key(jobId), 0, -1), this.redis.get(this.key(jobId, ':sent'))]);
    const from = Number(sent ?? 0);
    return all.slice(from).map((raw, i) => ({ seq: from + i, op: JSON.parse(raw) as OutboxOp }));
  }

  /**
   * A stored file's bytes, chunk by chunk as they were written, read into one buffer that is reused
   * (over RedisBytes): each chunk is valid only until the consumer asks for the next one, so a
   * consumer that writes it somewhere must wait until it is written.
   */
  async *content(jobId: string, op: FileOp): AsyncGenerator<Buffer> {
    const key = this.key(jobId, `:${op.content}`);
    if ((await this.redis.exists(key)) === 0) throw new Error(`the content of ${op.filename} is no longer in Redis (${key})`);
    const connection = await RedisBytes.open(this.redis);
    try {
      const buffer = Buffer.allocUnsafe(FILE_CHUNK_BYTES);
      for (let i = 0; ; i++) {
        const length = await connection.command(['LINDEX', key, String(i)], buffer);
        if (length === null) return;
        if (typeof length !== 'number') throw new Error(`unexpected answer to LINDEX ${key} ${i}`);
        yield buffer.subarray(0, length);
      }
    } finally {
      connection.close();
    }
  }

  /** Set before posting: if the process dies mid-call, the next attempt knows to check Slack first. */
  async begin(jobId: string, seq: number): Promise<void> {
    await this.redis.set(this.key(jobId, ':inflight'), String(seq), 'EX', this.ttlSeconds);
  }

  /** The operation marked in flight was not sent after all (its turn was put off). */
  async notSent(jobId: string): Promise<void> {
    await this.redis.del(this.key(jobId, ':inflight'));
  }

  async inflight(jobId: string): Promise<number | undefined> {
    const value = await this.redis.get(this.key(jobId, ':inflight'));
    return value === null ? undefined : Number(value);
  }

  /** The operation is in Slack: the cursor moves past it, and a file's chunks are no longer needed. */
  async done(jobId: string, seq: number, op?: OutboxOp): Promise<void> {
    const tx = this.redis
      .multi()
      .set(this.key(jobId, ':sent'), String(seq + 1), 'EX', this.ttlSeconds)
      .del(this.key(jobId, ':inflight'));
    if (op?.kind === 'file') tx.del(this.key(jobId, `:${op.content}`));
    await tx.exec();
  }
}
