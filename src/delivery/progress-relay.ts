// Live progress for jobs of workers without Slack credentials (another cluster's): the worker keeps
// the newest progress of a job in Redis and announces it; the bot's process posts it. A job's final
// status, posted by the delivery, must never be overwritten by a progress update landing after it,
// even when another bot replica relays: so the delivery first marks the job final (no progress is
// relayed after that) and waits for a relay already under way to finish. Progress stays best
// effort: a relay that finds no chat.update slot free drops it, as the worker's own updates do.
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { SlackMessage } from '../slack/render.js';
import type { JobThread } from '../slack/web.js';

/** A relayed update's lock outlives any chat.update call (the Web API client times out sooner). */
const RELAY_LOCK_MS = 15_000;
/** Progress nobody relayed (no bot running) is forgotten. */
const PROGRESS_TTL_SECONDS = 600;
/** The final mark only needs to outlive a job's last progress update. */
const FINAL_TTL_SECONDS = 3600;
const LOCK_POLL_MS = 50;

const keys = (prefix: string, jobId: string): string[] => [`${prefix}:progress:${jobId}`, `${prefix}:progress-final:${jobId}`, `${prefix}:progress-lock:${jobId}`];
const channelOf = (prefix: string): string => `${prefix}:progress`;

// KEYS: progress, final, (lock). ARGV: the update, its TTL, the channel, the job id.
// Keeps the newest update and announces it, unless the job is final.
const OFFER = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

// KEYS: progress, final, lock. ARGV: the lock's milliseconds.
// Takes the newest update to post, and the lock that makes a delivery wait for it; nothing once final.
const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) return false end
local update = redis.call('GET', KEYS[1])
if not update then return false end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
return update`;

// KEYS: progress, final, lock. ARGV: the final mark's TTL. Returns whether a relay holds the lock.
const FINALIZE = `
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[1])
return redis.call('EXISTS', KEYS[3])`;

interface RelayedUpdate {
  channel: string;
  rootTs: string;
  message: SlackMessage;
}

/** The worker's side: a job's root message progress, handed to the bot through Redis. */
export class RelayedRootUpdates {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly jobId: string,
    private readonly channel: string,
    private readonly rootTs: string,
  ) {}

  /** Resolves false when the job is final already (its update would come too late). */
  async updateRootIfFree(message: SlackMessage): Promise<boolean> {
    const update: RelayedUpdate = { channel: this.channel, rootTs: this.rootTs, message };
    const [progress, final] = keys(this.prefix, this.jobId);
    const offered = await this.redis.eval(OFFER, 2, progress!, final!, JSON.stringify(update), PROGRESS_TTL_SECONDS, channelOf(this.prefix), this.jobId);
    return offered === 1;
  }
}

/**
 * The delivery's side: no progress is relayed for the job from now on, and a relay under way has
 * finished (or its lock expired) when this resolves. Call it before posting the final root status.
 */
export async function finalizeProgress(redis: Redis, prefix: string, jobId: string): Promise<void> {
  const jobKeys = keys(prefix, jobId);
  let locked = (await redis.eval(FINALIZE, 3, ...jobKeys, FINAL_TTL_SECONDS)) === 1;
  while (locked) {
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    locked = (await redis.exists(jobKeys[2]!)) === 1;
  }
}

export interface ProgressRelayDeps {
  /** A connection of its own: it is put in subscriber mode. */
  subscriber: Redis;
  redis: Redis;
  prefix: string;
  /** The thread of a job's root message. */
  threadOf: (channel: string, rootTs: string) => Pick<JobThread, 'updateRootIfFree'>;
  logger: Logger;
}

/** The bot's side: posts the progress that workers without Slack credentials announce. */
export async function startProgressRelay({ subscriber, redis, prefix, threadOf, logger }: ProgressRelayDeps): Promise<{ close(): Promise<void> }> {
  const relaying = new Set<Promise<void>>();
  const relay = async (jobId: string): Promise<void> => {
    const jobKeys = keys(prefix, jobId);
    const claimed = (await redis.eval(CLAIM, 3, ...jobKeys, RELAY_LOCK_MS)) as string | null;
    if (!claimed) return;
    try {
      const { channel, rootTs, message } = JSON.parse(claimed) as RelayedUpdate;
      const sent = await threadOf(channel, rootTs).updateRootIfFree(message);
      if (!sent) logger.debug({ jobId }, 'relayed progress dropped: no chat.update slot free');
    } finally {
      await redis.del(jobKeys[2]!);
    }
  };
  subscriber.on('message', (_channel: string, jobId: string) => {
    const done = relay(jobId)
      .catch((err: Error) => logger.warn({ jobId, err: err.message }, 'could not relay progress'))
      .finally(() => relaying.delete(done));
    relaying.add(done);
  });
  await subscriber.subscribe(channelOf(prefix));
  return {
    async close() {
      await subscriber.unsubscribe().catch(() => undefined);
      await Promise.all(relaying);
      subscriber.disconnect();
    },
  };
}
