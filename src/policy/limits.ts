// Limits kept in Redis, shared by every bot and worker process (all keys under one prefix):
//   - a per-user rate limit (sliding window) that says when to try again,
//   - a global cap on running jobs, with slots that expire so a crashed worker can't leak them,
//   - a per-pod budget of kdebug ephemeral containers (they can never be removed from a pod),
//   - in-flight dedupe: the same user asking for the same check on the same target again gets
//     the job that is already running.
// Every check-and-update is one Lua script, so concurrent bots and workers can't race past a limit.
// Times come from `now` (default Date.now), so all processes should have synced clocks.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { rateSchema, type RateLimit } from './schema.js';

export const limitSettingsSchema = z
  .object({
    /** Per-user rate when the policy's rule and defaults set none. */
    rate: rateSchema,
    concurrency: z
      .object({
        /** Jobs running at once across every worker. */
        maxRunning: z.number().int().min(1).max(1000),
        /** A slot not released or renewed within this time is free again (a crashed worker). Make it longer than the longest job. */
        slotTtlSeconds: z.number().int().min(10).max(86_400),
      })
      .strict(),
    podBudget: z
      .object({
        /** kdebug ephemeral containers a pod may collect before further requests are refused. */
        maxContainers: z.number().int().min(1).max(1000),
        /** The ceiling even with an override (each container stays in the pod spec for the pod's life). */
        overrideMaxContainers: z.number().int().min(1).max(1000),
        /** A budget reservation not followed by the container showing in the pod spec expires after this. */
        reservationTtlSeconds: z.number().int().min(10).max(86_400),
      })
      .strict()
      .refine((b) => b.overrideMaxContainers >= b.maxContainers, {
        message: 'overrideMaxContainers must be at least maxContainers',
        path: ['overrideMaxContainers'],
      }),
    dedupe: z
      .object({
        /** An identical request within this time reuses the running job. 0 turns dedupe off. */
        windowSeconds: z.number().min(0).max(3600),
      })
      .strict(),
  })
  .strict();

export type LimitSettings = z.infer<typeof limitSettingsSchema>;

/** The defaults, as the lead's config/kdebug.yaml `limits:` section would hold them. */
export const DEFAULT_LIMIT_SETTINGS: LimitSettings = {
  rate: { requests: 10, windowSeconds: 60 },
  concurrency: { maxRunning: 8, slotTtlSeconds: 900 },
  podBudget: { maxContainers: 10, overrideMaxContainers: 25, reservationTtlSeconds: 900 },
  dedupe: { windowSeconds: 120 },
};

export type RateResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number; limit: RateLimit };

export type SlotResult = { ok: true; running: number } | { ok: false; running: number; max: number; retryAfterSeconds: number };

export type BudgetResult =
  | { ok: true; used: number; max: number; overridden: boolean }
  | { ok: false; used: number; max: number; reason: string; overridePossible: boolean };

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
}

export interface PodBudgetRequest {
  /** metadata.uid: a pod re-created under the same name starts with a fresh budget. */
  podUid: string;
  /** Names of the kdebug ephemeral containers already in the pod's spec (see kdebugContainerNames). */
  existing: readonly string[];
  /** The container this job will add (debugContainerName(job.id)). */
  containerName: string;
  /** The user asked to go past the budget. */
  override: boolean;
  /** The policy lets this user do that (verdict.limits.allowBudgetOverride). */
  overrideAllowed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** The kdebug containers in a pod's spec: ephemeral containers whose names start with `kdebug-`. */
export function kdebugContainerNames(pod: { spec?: { ephemeralContainers?: ReadonlyArray<{ name: string }> } }, prefix = 'kdebug-'): string[] {
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((n) => n.startsWith(prefix));
}

/** The budget decision for a pod that already has `used` kdebug containers. */
export function podBudgetDecision(used: number, settings: LimitSettings['podBudget'], override: boolean, overrideAllowed: boolean): BudgetResult {
  const max = settings.maxContainers;
  if (used < max) return { ok: true, used, max, overridden: false };
  const ceiling = settings.overrideMaxContainers;
  if (override && overrideAllowed && used < ceiling) return { ok: true, used, max: ceiling, overridden: true };
  if (override && overrideAllowed) {
    return { ok: false, used, max: ceiling, overridePossible: false, reason: `this pod already has ${used} kdebug debug containers, the most allowed even with an override (${ceiling}); ephemeral containers stay until the pod is replaced` };
  }
  const overridePossible = overrideAllowed && used < ceiling;
  const how = overridePossible ? '; ask again with the budget override to go past it' : override ? '; the policy does not let you override it' : '';
  return { ok: false, used, max, overridePossible, reason: `this pod already has ${used} kdebug debug containers (budget ${max}); ephemeral containers stay until the pod is replaced${how}` };
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
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** The dedupe subject of a job (structurally a DiagnosticJob): bot and worker use it alike. */
export function dedupeSubjectForJob(job: {
  check: string;
  target: { kind: string; name: string };
  namespace: string;
  container?: string;
  positional: readonly string[];
  options: Readonly<Record<string, string>>;
  requestedBy: { teamId: string; userId: string };
}): DedupeSubject {
  return {
    teamId: job.requestedBy.teamId,
    userId: job.requestedBy.userId,
    namespace: job.namespace,
    target: job.target,
    ...(job.container !== undefined ? { container: job.container } : {}),
    check: job.check,
    positional: job.positional,
    options: job.options,
  };
}

// ---------------------------------------------------------------------------------------------
// Lua scripts

// KEYS[1] zset of request times. ARGV: now, windowMs, limit, member. → {allowed, remaining | retryAfterMs}
const RATE_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
`;

// KEYS[1] zset jobId → slot expiry. ARGV: now, ttlMs, max, jobId. → {acquired, running, soonestExpiryMs}
const ACQUIRE_SCRIPT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local running = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or running < max then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
  local expiry = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], tonumber(expiry[2]))
  return {1, redis.call('ZCARD', KEYS[1]), 0}
end
local soonest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, running, tonumber(soonest[2]) - now}
`;

// KEYS[1] zset jobId → slot expiry. ARGV: now, ttlMs, jobId. → 1 when the slot was still held
const RENEW_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
local expiry = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(expiry[2]))
return 1
`;

// KEYS[1] zset of reserved container names → expiry. ARGV: now, ttlMs, containerName, max, ceiling,
// overrideAllowedAndAsked, existing names... → {ok, used, alreadyThere}
const BUDGET_SCRIPT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local name = ARGV[3]
local max = tonumber(ARGV[4])
local ceiling = tonumber(ARGV[5])
local override = ARGV[6] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local seen = {}
local used = 0
for i = 7, #ARGV do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; used = used + 1 end
end
for _, reserved in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not seen[reserved] then seen[reserved] = true; used = used + 1 end
end
if seen[name] then return {1, used - 1, 1} end
local limit = max
if override then limit = ceiling end
if used >= limit then return {0, used, 0} end
redis.call('ZADD', KEYS[1], now + ttl, name)
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, used, 0}
`;

// KEYS[1] dedupe key. ARGV: jobId, now, windowMs. Value "jobId expiresAtMs". → {first, jobId}
const DEDUPE_SCRIPT = `
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
const DEDUPE_RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^(%S+) ') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// ---------------------------------------------------------------------------------------------

export class Limits {
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly settings: LimitSettings,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  private key(...parts: string[]): string {
    return [this.prefix, 'limits', ...parts].join(':');
  }

  /**
   * Count one request by this user against the rate (the policy's, else settings.rate). A request
   * over the limit is not counted, and the answer says when the oldest counted one leaves the window.
   */
  async hitRate(teamId: string, userId: string, rate: RateLimit = this.settings.rate): Promise<RateResult> {
    const member = `${this.now()}-${randomBytes(6).toString('hex')}`;
    const [allowed, value] = (await this.redis.eval(
      RATE_SCRIPT,
      1,
      this.key('rate', teamId, userId),
      this.now(),
      rate.windowSeconds * 1000,
      rate.requests,
      member,
    )) as [number, number];
    if (allowed === 1) return { ok: true, remaining: value };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(value / 1000)), limit: rate };
  }

  /**
   * Take one of the global running-job slots for this job (again: idempotent, and renews it). The
   * slot frees itself after ttlSeconds unless released or renewed, so size it to the job's
   * deadline plus a margin, e.g. job.timeoutSeconds + 60.
   */
  async acquireSlot(jobId: string, ttlSeconds: number = this.settings.concurrency.slotTtlSeconds): Promise<SlotResult> {
    const max = this.settings.concurrency.maxRunning;
    const [acquired, running, soonestMs] = (await this.redis.eval(
      ACQUIRE_SCRIPT,
      1,
      this.key('running'),
      this.now(),
      ttlSeconds * 1000,
      max,
      jobId,
    )) as [number, number, number];
    if (acquired === 1) return { ok: true, running };
    return { ok: false, running, max, retryAfterSeconds: Math.max(1, Math.ceil(soonestMs / 1000)) };
  }

  /** Extend a held slot (long jobs). False when it had already expired or was released. */
  async renewSlot(jobId: string, ttlSeconds: number = this.settings.concurrency.slotTtlSeconds): Promise<boolean> {
    return (await this.redis.eval(RENEW_SCRIPT, 1, this.key('running'), this.now(), ttlSeconds * 1000, jobId)) === 1;
  }

  async releaseSlot(jobId: string): Promise<void> {
    await this.redis.zrem(this.key('running'), jobId);
  }

  /** Jobs holding a slot now. */
  async running(): Promise<number> {
    const key = this.key('running');
    await this.redis.zremrangebyscore(key, '-inf', this.now());
    return this.redis.zcard(key);
  }

  /**
   * Reserve room for one more kdebug container on a pod. The count is the pod spec's kdebug
   * containers plus containers other jobs reserved and have not added yet, so two jobs can't both
   * take the last place. A container already in the spec or reserved (a retried job) is let through.
   */
  async claimPodBudget(request: PodBudgetRequest): Promise<BudgetResult> {
    const budget = this.settings.podBudget;
    const overriding = request.override && request.overrideAllowed;
    const [ok, used, already] = (await this.redis.eval(
      BUDGET_SCRIPT,
      1,
      this.key('pod', request.podUid),
      this.now(),
      budget.reservationTtlSeconds * 1000,
      request.containerName,
      budget.maxContainers,
      budget.overrideMaxContainers,
      overriding ? '1' : '0',
      ...request.existing,
    )) as [number, number, number];
    if (ok === 1) {
      const overridden = already !== 1 && used >= budget.maxContainers;
      return { ok: true, used, max: overridden ? budget.overrideMaxContainers : budget.maxContainers, overridden };
    }
    return podBudgetDecision(used, budget, request.override, request.overrideAllowed);
  }

  /** Drop a reservation whose container was never added (the job failed before adding it). */
  async releasePodBudget(podUid: string, containerName: string): Promise<void> {
    await this.redis.zrem(this.key('pod', podUid), containerName);
  }

  /**
   * Claim this request for jobId unless an identical one (same user, target, check, arguments) is
   * already in flight: then the answer carries that job's id to reuse. With windowSeconds 0 every
   * request is first.
   */
  async dedupe(subject: DedupeSubject, jobId: string): Promise<DedupeResult> {
    const windowMs = Math.round(this.settings.dedupe.windowSeconds * 1000);
    if (windowMs <= 0) return { first: true };
    const [first, id] = (await this.redis.eval(DEDUPE_SCRIPT, 1, this.key('dedupe', dedupeKey(subject)), jobId, this.now(), windowMs)) as [number, string];
    return first === 1 ? { first: true } : { first: false, existingJobId: id };
  }

  /** The job finished (or was never enqueued): identical requests may run again. Only its own claim is removed. */
  async releaseDedupe(subject: DedupeSubject, jobId: string): Promise<void> {
    await this.redis.eval(DEDUPE_RELEASE_SCRIPT, 1, this.key('dedupe', dedupeKey(subject)), jobId);
  }
}
