// In-flight dedupe, kept in Redis and shared by every bot and worker: the same user asking for the
// same check on the same target again gets the job already running instead of a second one. One
// Lua script checks and claims, so two identical requests can't both be first.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LimitSettings } from '../config/schema.js';

export type DedupeResult = { first: true } | { first: false; existingJobId: string };

/** What makes two requests "the same" for dedupe. */
export interface DedupeSubject {
  teamId: string;
  userId: string;
  namespace: string;
  target: { kind: string; name: string };
  container?: string;
  check: string;
  positional?: readonly string[];
  options?: Readonly<Record<string, string>>;
  /** `--all`: every pod of the target, a different request from one of its pods. */
  all?: boolean;
  /** The same request in another cluster is another request. */
  cluster?: string;
}

/** A short stable hash of everything that makes a request distinct. */
export function dedupeKey(subject: DedupeSubject): string {
  const options = Object.entries(subject.options ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify([
    subject.teamId,
    subject.userId,
    subject.namespace,
    subject.target.kind,
    subject.target.name,
    subject.container ?? '',
    subject.check,
    subject.positional ?? [],
    options,
    // Only when set, so the keys of requests in flight across an upgrade stay the same.
    ...(subject.all ? ['all'] : []),
    ...(subject.cluster ? [`cluster:${subject.cluster}`] : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** The job fields that make two requests the same (structurally a DiagnosticJob). */
export interface DedupeJob {
  check: string;
  target: { kind: string; name: string };
  namespace: string;
  container?: string;
  positional: readonly string[];
  options: Readonly<Record<string, string>>;
  requestedBy: { teamId: string; userId: string };
  all?: boolean;
  cluster?: string;
}

/** The dedupe subject of a job: bot and worker use it alike. */
export function dedupeSubjectForJob(job: DedupeJob): DedupeSubject {
  return {
    teamId: job.requestedBy.teamId,
    userId: job.requestedBy.userId,
    namespace: job.namespace,
    target: job.target,
    ...(job.container !== undefined ? { container: job.container } : {}),
    check: job.check,
    positional: job.positional,
    options: job.options,
    ...(job.all ? { all: true } : {}),
    ...(job.cluster ? { cluster: job.cluster } : {}),
  };
}

// KEYS[1] dedupe key. ARGV: jobId, now, windowMs. Value "jobId expiresAtMs". → {first, jobId}
const CLAIM_SCRIPT = `
local now = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if current then
  local id, expires = string.match(current, '^(%S+) (%d+)$')
  if id and tonumber(expires) > now then return {0, id} end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. tostring(now + tonumber(ARGV[3])), 'PX', ARGV[3])
return {1, ARGV[1]}
`;

// KEYS[1] dedupe key. ARGV: jobId. Deletes it only while it still names that job.
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^(%S+) ') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class InFlightDedupe {
  /** @param now times come from here, so all processes need synced clocks */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: LimitSettings['dedupe'],
    private readonly now: () => number = Date.now,
  ) {}

  private key(subject: DedupeSubject): string {
    return `${this.prefix}:limits:dedupe:${dedupeKey(subject)}`;
  }

  /**
   * Claim this request for jobId unless an identical one (same user, target, check, arguments) is
   * already in flight: then the answer carries that job's id to reuse. With windowSeconds 0 every
   * request is first.
   */
  async claim(subject: DedupeSubject, jobId: string): Promise<DedupeResult> {
    const windowMs = Math.round(this.settings.windowSeconds * 1000);
    if (windowMs <= 0) return { first: true };
    const [first, id] = (await this.redis.eval(CLAIM_SCRIPT, 1, this.key(subject), jobId, this.now(), windowMs)) as [number, string];
    return first === 1 ? { first: true } : { first: false, existingJobId: id };
  }

  /** The job finished (or was never enqueued): identical requests may run again. Only its own claim is removed. */
  async release(subject: DedupeSubject, jobId: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, this.key(subject), jobId);
  }
}
