import { GroupMembership, slackGroupLister } from '../../../src/policy/user-groups.js';
import { ALICE, BOB, CAROL, PAY, SRE } from './fixture.js';
import { capturedLogger } from './helpers.js';

describe('GroupMembership', () => {
  test('resolves membership through the lister, caches it for the TTL, and shares concurrent fetches', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    const members: Record<string, string[]> = { [SRE]: [ALICE, BOB], [PAY]: [CAROL] };
    const groups = new GroupMembership({
      list: async (id) => {
        calls.push(id);
        await new Promise((r) => setTimeout(r, 5));
        return members[id] ?? [];
      },
      ttlSeconds: 60,
      now: () => now,
    });
    const [a, b] = await Promise.all([groups.groupsOf(BOB, [SRE, PAY]), groups.groupsOf(CAROL, [SRE, PAY])]);
    expect(a).toEqual([SRE]);
    expect(b).toEqual([PAY]);
    expect(calls).toEqual([SRE, PAY]);

    members[PAY] = [CAROL, BOB];
    now += 59_000;
    expect(await groups.groupsOf(BOB, [SRE, PAY])).toEqual([SRE]); // still cached
    now += 2_000;
    expect(await groups.groupsOf(BOB, [SRE, PAY])).toEqual([SRE, PAY]);
    expect(calls).toEqual([SRE, PAY, SRE, PAY]);
  });

  test('fails closed: an unlistable group counts as not a member, a recent list is still used', async () => {
    let now = 0;
    let fail = false;
    const { logger, lines } = capturedLogger();
    const groups = new GroupMembership({
      list: async () => {
        if (fail) throw Object.assign(new Error('An API error occurred: ratelimited'), { data: { error: 'ratelimited' } });
        return [BOB];
      },
      ttlSeconds: 10,
      maxStaleSeconds: 100,
      now: () => now,
      logger,
    });
    expect(await groups.groupsOf(BOB, [SRE])).toEqual([SRE]);
    fail = true;
    now = 50_000;
    expect(await groups.groupsOf(BOB, [SRE])).toEqual([SRE]);
    now = 200_000;
    expect(await groups.groupsOf(BOB, [SRE])).toEqual([]);
    expect(lines().map((l) => [l.msg, l.err, l.usingStale])).toEqual([
      ['could not list a Slack user group; using its last member list', 'ratelimited', true],
      ['could not list a Slack user group; treating its members as non-members', 'ratelimited', false],
    ]);
  });

  test('slackGroupLister calls usergroups.users.list', async () => {
    const seen: unknown[] = [];
    const list = slackGroupLister({ usergroups: { users: { list: async (args) => (seen.push(args), { users: [ALICE] }) } } }, 'T1');
    expect(await list(SRE)).toEqual([ALICE]);
    expect(seen).toEqual([{ usergroup: SRE, team_id: 'T1' }]);
  });
});
