// Which of the policy's Slack user groups a user belongs to: usergroups.users.list behind a short cache.
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

interface CachedGroup {
  members: ReadonlySet<string>;
  fetchedAt: number;
}

/**
 * Which of the policy's user groups a user belongs to, through usergroups.users.list with a short
 * cache. Fails closed: a group that can't be listed (and has no recent list) counts as "not a member".
 */
export class GroupMembership {
  private readonly cache = new Map<string, CachedGroup>();
  private readonly inflight = new Map<string, Promise<CachedGroup | undefined>>();
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: GroupMembershipOptions) {
    this.ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.maxStaleMs = (options.maxStaleSeconds ?? 600) * 1000;
    this.now = options.now ?? Date.now;
  }

  async groupsOf(userId: string, groupIds: readonly string[]): Promise<string[]> {
    const lists = await Promise.all(groupIds.map(async (id) => [id, await this.members(id)] as const));
    return lists.filter(([, group]) => group?.members.has(userId)).map(([id]) => id);
  }

  /** Forget cached member lists (one group, or all). */
  invalidate(groupId?: string): void {
    if (groupId === undefined) this.cache.clear();
    else this.cache.delete(groupId);
  }

  private async members(groupId: string): Promise<CachedGroup | undefined> {
    const cached = this.cache.get(groupId);
    if (cached && this.now() - cached.fetchedAt < this.ttlMs) return cached;
    let pending = this.inflight.get(groupId);
    if (!pending) {
      pending = this.fetch(groupId, cached).finally(() => this.inflight.delete(groupId));
      this.inflight.set(groupId, pending);
    }
    return pending;
  }

  private async fetch(groupId: string, stale: CachedGroup | undefined): Promise<CachedGroup | undefined> {
    try {
      const fresh = { members: new Set(await this.options.list(groupId)), fetchedAt: this.now() };
      this.cache.set(groupId, fresh);
      return fresh;
    } catch (err) {
      const usable = stale && this.now() - stale.fetchedAt < this.maxStaleMs ? stale : undefined;
      const error = (err as { data?: { error?: string } })?.data?.error ?? (err as Error)?.message ?? String(err);
      this.options.logger?.warn(
        { group: groupId, err: error, usingStale: usable !== undefined },
        usable ? 'could not list a Slack user group; using its last member list' : 'could not list a Slack user group; treating its members as non-members',
      );
      return usable;
    }
  }
}
