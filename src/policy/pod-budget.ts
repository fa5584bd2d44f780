// The per-pod budget of kdebug ephemeral containers (a pod keeps them until it is replaced), kept
// in Redis and shared by every worker. A job reserves its container's place before adding it, so
// two jobs can't both take a pod's last place; one Lua script counts and reserves.
import type { Redis } from 'ioredis';
import type { LimitSettings } from '../config/schema.js';

export type BudgetResult = { ok: true; used: number; max: number; overridden: boolean } | { ok: false; used: number; max: number; reason: string; overridePossible: boolean };

export interface PodBudgetRequest {
  /** metadata.uid: a pod re-created under the same name starts with a fresh budget. */
  podUid: string;
  /** Names of the kdebug ephemeral containers already in the pod's spec (debugContainerNames). */
  existing: readonly string[];
  /** The container this job will add (debugContainerName(job.id)). */
  containerName: string;
  /** The user asked to go past the budget. */
  override: boolean;
  /** The policy lets this user do that (verdict.limits.allowBudgetOverride). */
  overrideAllowed: boolean;
}

type PodBudgetSettings = LimitSettings['podBudget'];

/** The budget decision for a pod that already has `used` kdebug containers. */
export function podBudgetDecision(used: number, settings: PodBudgetSettings, override: boolean, overrideAllowed: boolean): BudgetResult {
  const max = settings.maxContainers;
  if (used < max) return { ok: true, used, max, overridden: false };
  const ceiling = settings.overrideMaxContainers;
  if (override && overrideAllowed && used < ceiling) return { ok: true, used, max: ceiling, overridden: true };
  if (override && overrideAllowed) {
    return {
      ok: false,
      used,
      max: ceiling,
      overridePossible: false,
      reason: `this pod already has ${used} kdebug debug containers, the most allowed even with an override (${ceiling}); ephemeral containers stay until the pod is replaced`,
    };
  }
  const overridePossible = overrideAllowed && used < ceiling;
  const how = overridePossible ? '; ask again with the budget override to go past it' : override ? '; the policy does not let you override it' : '';
  return {
    ok: false,
    used,
    max,
    overridePossible,
    reason: `this pod already has ${used} kdebug debug containers (budget ${max}); ephemeral containers stay until the pod is replaced${how}`,
  };
}

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

export class PodBudget {
  /** @param now times come from here, so all processes need synced clocks */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: PodBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {}

  private key(podUid: string): string {
    return `${this.prefix}:limits:pod:${podUid}`;
  }

  /**
   * Reserve room for one more kdebug container on a pod. The count is the pod spec's kdebug
   * containers plus containers other jobs reserved and have not added yet, so two jobs can't both
   * take the last place. A container already in the spec or reserved (a retried job) is let through.
   */
  async claim(request: PodBudgetRequest): Promise<BudgetResult> {
    const budget = this.settings;
    const overriding = request.override && request.overrideAllowed;
    const [ok, used, already] = (await this.redis.eval(
      BUDGET_SCRIPT,
      1,
      this.key(request.podUid),
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
  async release(podUid: string, containerName: string): Promise<void> {
    await this.redis.zrem(this.key(podUid), containerName);
  }
}
