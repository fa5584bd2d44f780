// Each user's recent requests, for their App Home: the bot records a request when it is queued and
// the worker its outcome when it ends (kept as long as the history: the job queue forgets finished
// jobs after a day); a request still in flight is looked up in the job queue.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DiagnosticQueue } from './diagnostic-queue.js';
import { DEFAULT_CLUSTER } from './job.js';

/** How many requests the Home tab lists. */
export const HISTORY_LENGTH = 20;
/** A user's list lives this long after their last request. */
const HISTORY_TTL_SECONDS = 30 * 86400;

const entrySchema = z.object({
  jobId: z.string(),
  check: z.string(),
  /** "dns deployment/web --all in prod" */
  what: z.string(),
  channel: z.string(),
  rootTs: z.string(),
  /** Epoch ms when it was queued. */
  at: z.number(),
  /** Where it ran, when not the default cluster. */
  cluster: z.string().optional(),
});

export type HistoryEntry = z.infer<typeof entrySchema>;

/** How a request ended, as the worker records it. */
export interface RequestOutcome {
  /** done, failed or cancelled. */
  state: string;
  verdict?: string;
  /** `--all`: the comparison's headline ("2 of 6 pods fail (nxdomain), …"). */
  headline?: string;
}

export interface RecentRequest extends HistoryEntry, Partial<Omit<RequestOutcome, 'state'>> {
  /** queued, running, done, failed, cancelled, or unknown (neither recorded nor in the queue). */
  state: string;
}

const outcomeSchema = z.object({ state: z.string(), verdict: z.string().optional(), headline: z.string().optional() });

export class RequestHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(teamId: string, userId: string): string {
    return `${this.prefix}:history:${teamId}:${userId}`;
  }

  async recordOutcome(jobId: string, outcome: RequestOutcome): Promise<void> {
    await this.redis.set(`${this.prefix}:outcome:${jobId}`, JSON.stringify(outcome), 'EX', HISTORY_TTL_SECONDS);
  }

  async record(teamId: string, userId: string, entry: HistoryEntry): Promise<void> {
    const key = this.key(teamId, userId);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(entry))
      .ltrim(key, 0, HISTORY_LENGTH - 1)
      .expire(key, HISTORY_TTL_SECONDS)
      .exec();
  }

  /** Newest first, each with what became of it. */
  async recent(teamId: string, userId: string, queueFor: (cluster: string) => DiagnosticQueue): Promise<RecentRequest[]> {
    const raw = await this.redis.lrange(this.key(teamId, userId), 0, HISTORY_LENGTH - 1);
    const entries = raw.flatMap((text) => {
      try {
        const parsed = entrySchema.safeParse(JSON.parse(text));
        return parsed.success ? [parsed.data] : [];
      } catch {
        return [];
      }
    });
    const outcomes = entries.length ? await this.redis.mget(...entries.map((e) => `${this.prefix}:outcome:${e.jobId}`)) : [];
    return Promise.all(
      entries.map(async (entry, i) => {
        const recorded = parseOutcome(outcomes[i]);
        if (recorded) return { ...entry, ...recorded };
        const job = await queueFor(entry.cluster ?? DEFAULT_CLUSTER)
          .job(entry.jobId)
          .catch(() => undefined);
        if (!job) return { ...entry, state: 'unknown' };
        const result = job.returnvalue as { status?: string; verdict?: string } | null | undefined;
        if (job.finishedOn && result?.status)
          return { ...entry, state: result.status === 'recovered' ? 'done' : result.status, ...(result.verdict ? { verdict: result.verdict } : {}) };
        if (job.finishedOn) return { ...entry, state: 'failed' };
        return { ...entry, state: job.processedOn ? 'running' : 'queued' };
      }),
    );
  }
}

function parseOutcome(text: string | null | undefined): RequestOutcome | undefined {
  if (!text) return undefined;
  try {
    const parsed = outcomeSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
