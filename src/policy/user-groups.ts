// Which of the policy's Slack user groups a user belongs to: usergroups.users.list behind a short
// cache (lru-cache: TTL, one fetch in flight per group, the last list kept for when Slack fails).
import { LRUCache } from 'lru-cache';
import type { Logger } from '../observability/logger.js';

/** Lists the user ids in one Slack user group. */
export type GroupLister = (groupId: string) => Promise<readonly string[]>;

/** The part of WebClient that GroupMembership needs (scope usergroups:read). */
export interface UsergroupsClient {
  usergroups: { users: { list(args: { usergroup: string; team_id?: string }): Promise<{ users?: string[] }> } };
}

export function slackGroupLister(client: UsergroupsClient, teamId?: string): GroupLister {
  return async (groupId) => {
    const result = await client.usergroups.users.list({ usergroup: groupId, ...(teamId ? { team_id: teamId } : {}) });
    return result.users ?? [];
  };
}

export interface GroupMembershipOptions {
  list: GroupLister;
  /** How long a group's member list is used before it is fetched again. Default 60 s. */
  ttlSeconds?: number;
  /** When a fetch fails, an older list is still used up to this age. Default 600 s. */
  maxStaleSeconds?: number;
  now?: () => number;
  logger?: Logger;
}

interface MemberList {
  members: ReadonlySet<string>;
  fetchedAt: number;
}

/** Far more groups than a policy names: the bound only keeps the cache from growing without one. */
const MAX_GROUPS = 1000;

/**
 * Which of the policy's user groups a user belongs to. Fails closed: a group that can't be listed
 * (and has no recent list) counts as "not a member".
 */
export class GroupMembership {
  private readonly cache: LRUCache<string, MemberList>;

  constructor(options: GroupMembershipOptions) {
    const now = options.now ?? Date.now;
    const maxStaleMs = (options.maxStaleSeconds ?? 600) * 1000;
    this.cache = new LRUCache<string, MemberList>({
      max: MAX_GROUPS,
      ttl: (options.ttlSeconds ?? 60) * 1000,
      // lru-cache reads a start time of 0 as "never stale": keep a clock that starts at 0 (tests) off it.
      perf: { now: () => now() + 1 },
      // Read the clock on every look-up instead of caching it for a millisecond.
      ttlResolution: 0,
      // A failed fetch (below: one that throws) answers with the stale list and keeps it cached.
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      // invalidate() during a fetch forgets the group, but the fetch still answers whoever waits on it.
      ignoreFetchAbort: true,
      fetchMethod: async (groupId, stale) => {
        try {
          return { members: new Set(await options.list(groupId)), fetchedAt: now() };
        } catch (err) {
          const usable = stale !== undefined && now() - stale.fetchedAt < maxStaleMs;
          const error = (err as { data?: { error?: string } })?.data?.error ?? (err as Error)?.message ?? String(err);
          options.logger?.warn(
            { group: groupId, err: error, usingStale: usable },
            usable ? 'could not list a Slack user group; using its last member list' : 'could not list a Slack user group; treating its members as non-members',
          );
          if (usable) throw err;
          // No list, or too old to trust: nobody is a member (the stale entry stays for the next try).
          return undefined;
        }
      },
    });
  }

  async groupsOf(userId: string, groupIds: readonly string[]): Promise<string[]> {
    const lists = await Promise.all(groupIds.map(async (id) => [id, await this.cache.fetch(id)] as const));
    return lists.filter(([, group]) => group?.members.has(userId)).map(([id]) => id);
  }

  /** Forget cached member lists (one group, or all). */
  invalidate(groupId?: string): void {
    if (groupId === undefined) this.cache.clear();
    else this.cache.delete(groupId);
  }
}
