import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_DENY,
  DEFAULT_POLICY_PATH,
  evaluate,
  globMatches,
  GroupMembership,
  loadPolicyFile,
  parsePolicy,
  PolicyError,
  policyGroupIds,
  policyWarnings,
  PolicyStore,
  refusalText,
  slackGroupLister,
  whoami,
  type Policy,
  type PolicyRequest,
  type ReloadResult,
  type Verdict,
} from '../../../src/policy/policy.js';
import { capturedLogger } from './helpers.js';

const SRE = 'S0SRE';
const PAY = 'S0PAY';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const INCIDENTS = 'C0INCIDENT';
const STAGING = 'C0STAGING';
const PRIVATE = 'C0SREPRIV';
const DM = 'D0ALICEDM';

const POLICY = `
version: 1
contact: "#platform-team"
systemNamespaces: [gatekeeper-system, "openshift-*"]
defaults:
  rate: { requests: 5, windowSeconds: 60 }
rules:
  - name: no-prod-capture-outside-private
    effect: deny
    everyone: true
    namespaces: ["prod*"]
    checks: [capture]
    reason: captures of prod hold customer data
    contact: "#security"
  - name: sre-capture
    groups: [${SRE}]
    onlyIn: [${PRIVATE}, dm]
    namespaces: ["*"]
    checks: [capture]
  - name: sre
    groups: [${SRE}]
    namespaces: ["*", kube-system]
    checks: ["*"]
    limits:
      rate: { requests: 30, windowSeconds: 60 }
      allowBudgetOverride: true
  - name: payments
    groups: [${PAY}]
    namespaces: ["payments-*", "pay-??"]
    checks: [dns, http]
  - name: staging-channel
    channels: [${STAGING}]
    namespaces: [staging]
    checks: ["*"]
  - users: [${ALICE}]
    namespaces: [dev]
    checks: [dns]
`;

const policy = parsePolicy(POLICY, 'test-policy.yaml');

function req(overrides: Partial<PolicyRequest>): PolicyRequest {
  return { userId: CAROL, channelId: INCIDENTS, namespace: 'prod', check: 'dns', userGroups: [], ...overrides };
}

function refused(verdict: Verdict): Extract<Verdict, { allowed: false }> {
  if (verdict.allowed) throw new Error(`expected a refusal, got rule ${verdict.rule}`);
  return verdict;
}

function policyError(text: string): string {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a PolicyError');
}

describe('evaluate', () => {
  test('default deny: nobody the rules name gets nothing, and the refusal says whom to ask', () => {
    const verdict = refused(evaluate(policy, req({})));
    expect(verdict).toEqual({ allowed: false, reason: DEFAULT_DENY, contact: '#platform-team' });
    expect(verdict.rule).toBeUndefined();
    expect(refusalText(verdict, { check: 'dns', namespace: 'prod' })).toBe(
      "You can't run `dns` in namespace `prod`: no rule allows it: default deny. Ask #platform-team if you need it.",
    );
  });

  test('an allow rule grants its checks and namespaces with its limits, falling back to the defaults', () => {
    expect(evaluate(policy, req({ userGroups: [SRE], namespace: 'prod', check: 'dns' }))).toEqual({
      allowed: true,
      rule: 'sre',
      limits: { rate: { requests: 30, windowSeconds: 60 }, allowBudgetOverride: true },
    });
    expect(evaluate(policy, req({ userGroups: [PAY], namespace: 'payments-api', check: 'http' }))).toEqual({
      allowed: true,
      rule: 'payments',
      limits: { rate: { requests: 5, windowSeconds: 60 }, allowBudgetOverride: false },
    });
  });

  test('rules without a name are called "rule N" by their position', () => {
    expect(evaluate(policy, req({ userId: ALICE, namespace: 'dev', check: 'dns' }))).toMatchObject({ allowed: true, rule: 'rule 6' });
  });

  test('globs: * any run, ? one character, everything else literal', () => {
    const pay = (namespace: string) => evaluate(policy, req({ userGroups: [PAY], namespace, check: 'dns' })).allowed;
    expect(pay('payments-eu')).toBe(true);
    expect(pay('payments-')).toBe(true);
    expect(pay('payments')).toBe(false);
    expect(pay('pay-eu')).toBe(true);
    expect(pay('pay-e')).toBe(false);
    expect(pay('pay-euw')).toBe(false);
    expect(pay('xpayments-eu')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false); // only * and ? are special
    expect(globMatches('*', '')).toBe(true);
  });

  test('the first matching rule wins: a deny rule above an allow rule refuses, naming itself and its contact', () => {
    const verdict = refused(evaluate(policy, req({ userGroups: [SRE], namespace: 'prod-eu', check: 'capture', channelId: PRIVATE })));
    expect(verdict.rule).toBe('no-prod-capture-outside-private');
    expect(verdict.reason).toBe('rule "no-prod-capture-outside-private" refuses capture in prod-eu: captures of prod hold customer data');
    expect(verdict.contact).toBe('#security');
    // The same user, a namespace the deny rule doesn't cover: the next rules decide.
    expect(evaluate(policy, req({ userGroups: [SRE], namespace: 'web', check: 'capture', channelId: PRIVATE }))).toMatchObject({ allowed: true, rule: 'sre-capture' });
  });

  test('rules are tried in file order: moving the allow rule above the deny rule changes the answer', () => {
    const text = (first: string, second: string) => `version: 1\ncontact: x\nrules:\n${first}${second}`;
    const allow = `  - { name: allow, users: [${BOB}], namespaces: ["*"], checks: [dns] }\n`;
    const deny = `  - { name: deny, effect: deny, users: [${BOB}], namespaces: [prod], checks: [dns] }\n`;
    const request = req({ userId: BOB, namespace: 'prod' });
    expect(evaluate(parsePolicy(text(deny, allow)), request)).toMatchObject({ allowed: false, rule: 'deny' });
    expect(evaluate(parsePolicy(text(allow, deny)), request)).toMatchObject({ allowed: true, rule: 'allow' });
  });

  test('a rule that does not cover the check or namespace is skipped, not a refusal', () => {
    expect(evaluate(policy, req({ userGroups: [PAY], namespace: 'payments-api', check: 'tls' }))).toMatchObject({ allowed: false, reason: DEFAULT_DENY });
  });

  describe('system namespaces', () => {
    test('"*" does not reach kube-system, kube-public, kube-node-lease or configured ones; an exact name does', () => {
      const sre = (namespace: string) => evaluate(policy, req({ userGroups: [SRE], namespace, check: 'dns' }));
      expect(sre('kube-system')).toMatchObject({ allowed: true, rule: 'sre' }); // named exactly
      for (const ns of ['kube-public', 'kube-node-lease', 'gatekeeper-system', 'openshift-monitoring']) {
        const verdict = refused(sre(ns));
        expect(verdict.reason).toBe(`${DEFAULT_DENY} (${ns} is a system namespace, which only a rule naming it exactly opens)`);
      }
    });

    test('a glob that looks like it targets system namespaces does not open them either', () => {
      const p = parsePolicy(`version: 1\ncontact: x\nrules:\n  - { users: [${BOB}], namespaces: ["kube-*", "kube-publi?"], checks: [dns] }`);
      expect(evaluate(p, req({ userId: BOB, namespace: 'kube-system' })).allowed).toBe(false);
      expect(evaluate(p, req({ userId: BOB, namespace: 'kube-public' })).allowed).toBe(false);
      expect(evaluate(p, req({ userId: BOB, namespace: 'kube-tools' })).allowed).toBe(true); // not a system namespace
    });

    test('the file adds system namespaces; it cannot remove the built-in ones', () => {
      const p = parsePolicy(`version: 1\ncontact: x\nsystemNamespaces: [infra]\nrules:\n  - { everyone: true, namespaces: ["*"], checks: [dns] }`);
      expect(p.systemNamespaces).toEqual(['kube-system', 'kube-public', 'kube-node-lease', 'infra']);
      expect(evaluate(p, req({ namespace: 'infra' })).allowed).toBe(false);
      expect(evaluate(p, req({ namespace: 'kube-system' })).allowed).toBe(false);
      expect(evaluate(p, req({ namespace: 'web' })).allowed).toBe(true);
    });

    test('deny rules with globs do match system namespaces', () => {
      const p = parsePolicy(
        `version: 1\ncontact: x\nrules:\n  - { name: d, effect: deny, everyone: true, namespaces: ["*"], checks: ["*"] }\n  - { users: [${BOB}], namespaces: [kube-system], checks: [dns] }`,
      );
      expect(evaluate(p, req({ userId: BOB, namespace: 'kube-system' }))).toMatchObject({ allowed: false, rule: 'd' });
    });
  });

  describe('capture needs an explicit grant', () => {
    test('"*" in checks does not include capture', () => {
      const verdict = refused(evaluate(policy, req({ userGroups: [SRE], namespace: 'web', check: 'capture', channelId: INCIDENTS })));
      expect(verdict.reason).toBe(`${DEFAULT_DENY} (capture must be granted by name ("*" does not include it))`);
      expect(evaluate(policy, req({ channelId: STAGING, namespace: 'staging', check: 'capture' })).allowed).toBe(false);
      expect(evaluate(policy, req({ channelId: STAGING, namespace: 'staging', check: 'http' })).allowed).toBe(true);
    });

    test('naming capture grants it; configured sensitive checks behave the same', () => {
      const p = parsePolicy(
        `version: 1\ncontact: x\nsensitiveChecks: [exec]\nrules:\n  - { users: [${BOB}], namespaces: [web], checks: ["*", capture] }`,
      );
      expect(evaluate(p, req({ userId: BOB, namespace: 'web', check: 'capture' })).allowed).toBe(true);
      expect(evaluate(p, req({ userId: BOB, namespace: 'web', check: 'exec' })).allowed).toBe(false);
      expect(evaluate(p, req({ userId: BOB, namespace: 'web', check: 'dns' })).allowed).toBe(true);
    });
  });

  describe('channels and direct messages', () => {
    test('a channel rule lets anybody in that channel run what it lists, only there', () => {
      expect(evaluate(policy, req({ userId: BOB, channelId: STAGING, namespace: 'staging', check: 'dns' }))).toMatchObject({ allowed: true, rule: 'staging-channel' });
      expect(evaluate(policy, req({ userId: BOB, channelId: INCIDENTS, namespace: 'staging', check: 'dns' })).allowed).toBe(false);
    });

    test('in a direct message channel rules never apply; user and group rules do', () => {
      expect(evaluate(policy, req({ userId: BOB, channelId: 'D0BOBDM', namespace: 'staging' })).allowed).toBe(false);
      expect(evaluate(policy, req({ userId: ALICE, channelId: DM, namespace: 'dev' }))).toMatchObject({ allowed: true, rule: 'rule 6' });
      expect(evaluate(policy, req({ userGroups: [SRE], channelId: DM, namespace: 'web' }))).toMatchObject({ allowed: true, rule: 'sre' });
    });

    test('a channel rule cannot list a DM id, even a forged one', () => {
      expect(policyError(`version: 1\ncontact: x\nrules:\n  - { channels: [D0123], namespaces: [a], checks: [dns] }`)).toBe(
        "policy file p.yaml: rules[0].channels[0] direct-message ids (D…) cannot be listed: direct messages follow the user's own rules (use onlyIn: [dm] to allow a rule there)",
      );
    });

    test('onlyIn limits a rule to some channels and, with dm, direct messages', () => {
      const capture = (channelId: string) => evaluate(policy, req({ userGroups: [SRE], channelId, namespace: 'web', check: 'capture' }));
      expect(capture(PRIVATE)).toMatchObject({ allowed: true, rule: 'sre-capture' });
      expect(capture(DM)).toMatchObject({ allowed: true, rule: 'sre-capture' });
      expect(capture(INCIDENTS).allowed).toBe(false);
    });
  });

  test('groups: the rule applies when any of the user groups is listed', () => {
    expect(evaluate(policy, req({ userGroups: ['S0OTHER', PAY], namespace: 'payments-x' })).allowed).toBe(true);
    expect(evaluate(policy, req({ userGroups: ['S0OTHER'], namespace: 'payments-x' })).allowed).toBe(false);
    expect(policyGroupIds(policy)).toEqual([SRE, PAY]);
  });
});

describe('parsePolicy', () => {
  test('one-line errors name the file and the field', () => {
    expect(policyError('version: 1\nrules: []')).toBe('policy file p.yaml: contact is required');
    expect(policyError('version: 2\ncontact: x')).toBe('policy file p.yaml: version must be 1');
    expect(policyError('version: 1\ncontact: x\nrulez: []')).toBe('policy file p.yaml: unknown field rulez; remove it or check its spelling');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [alice], namespaces: [a], checks: [dns] }')).toBe(
      'policy file p.yaml: rules[0].users[0] must be a Slack user id like U0123ABCD (a name or @handle is not accepted)',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [Prod], checks: [dns] }')).toMatch(
      /^policy file p\.yaml: rules\[0\]\.namespaces\[0\] must be a namespace name or a glob/,
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [a] }')).toBe('policy file p.yaml: rules[0].checks is required');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { namespaces: [a], checks: [dns] }')).toBe(
      'policy file p.yaml: rules[0] a rule needs at least one of users, groups, channels or everyone: true',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [a], checks: [dns], colour: red }')).toBe(
      'policy file p.yaml: unknown field rules[0].colour; remove it or check its spelling',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { name: a, users: [U1234], namespaces: [a], checks: [dns] }\n  - { name: a, users: [U1234], namespaces: [b], checks: [dns] }')).toBe(
      'policy file p.yaml: rules[1].name duplicate rule name "a" (also rules[0])',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { effect: deny, users: [U1234], namespaces: [a], checks: [dns], limits: { allowBudgetOverride: true } }')).toBe(
      'policy file p.yaml: rules[0].limits limits only apply to allow rules',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [a], checks: [dns], limits: { rate: { requests: 0, windowSeconds: 60 } } }')).toMatch(
      /^policy file p\.yaml: rules\[0\]\.limits\.rate\.requests /,
    );
    expect(policyError('version: 1\ncontact: 5')).toBe('policy file p.yaml: contact must be a string (got a number)');
    expect(policyError('version: 1\ncontact: x\nrules: {}')).toBe('policy file p.yaml: rules must be a list (got a mapping)');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: U1234, namespaces: [a], checks: [dns] }')).toBe('policy file p.yaml: rules[0].users must be a list (got a string)');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [a], checks: [dns], onlyIn: ["#general"] }')).toBe(
      'policy file p.yaml: rules[0].onlyIn[0] must be a Slack channel id like C0123ABCD (a #name is not accepted), or the word "dm"',
    );
    expect(policyError('version: 1\ncontact: [unclosed')).toMatch(/^policy file p\.yaml is not valid YAML: /);
    expect(policyError('- a list')).toBe('policy file p.yaml must be a YAML mapping with version, contact and rules');
    expect(policyError('')).toBe('policy file p.yaml must be a YAML mapping with version, contact and rules');
  });

  test('warnings name rules that list checks which are not installed', () => {
    expect(policyWarnings(policy, ['dns', 'http', 'capture'])).toEqual([]);
    expect(policyWarnings(parsePolicy(`version: 1\ncontact: x\nrules:\n  - { name: r, users: [U1234], namespaces: [a], checks: [dsn, dns] }`), ['dns'])).toEqual([
      'rule "r" lists check "dsn", which is not installed',
    ]);
  });

  test('the shipped policy is valid, documented, and refuses everything', () => {
    const shipped = loadPolicyFile(DEFAULT_POLICY_PATH);
    expect(shipped.rules).toEqual([]);
    expect(shipped.contact).toBe('#platform-team');
    expect(shipped.systemNamespaces).toEqual(expect.arrayContaining(['kube-system', 'kube-public', 'kube-node-lease']));
    expect(evaluate(shipped, req({ namespace: 'default' }))).toMatchObject({ allowed: false, reason: DEFAULT_DENY });
    // The commented examples are themselves a valid policy once uncommented.
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8');
    const examples = text
      .slice(text.indexOf('\nrules: []\n') + '\nrules: []\n'.length)
      .split('\n')
      .filter((l) => l.startsWith('#  '))
      .map((l) => l.slice(1))
      .join('\n');
    const uncommented = parsePolicy(`version: 1\ncontact: x\nrules:\n${examples}`, 'examples');
    expect(uncommented.rules.map((r) => r.name)).toEqual(['no-prod-capture-in-channels', 'sre', 'sre-capture', 'payments-team', 'staging-channel', 'alice-dev']);
  });
});

describe('whoami', () => {
  test('lists the rules that apply to the user, in order, with where, what and limits', () => {
    const text = whoami(policy, BOB, INCIDENTS, [SRE]);
    expect(text).toBe(
      [
        'What <@U0BOB> may run in <#C0INCIDENT> (rules in order; the first that matches decides, anything else is refused):',
        '• `no-prod-capture-outside-private`: deny `capture` in `prod*`',
        '• `sre-capture` (only in <#C0SREPRIV>, direct messages: not here): allow `capture` in any namespace except system ones · at most 5 per 60 s',
        '• `sre`: allow every check except `capture` in any namespace except system ones and `kube-system` · at most 30 per 60 s · may go past the per-pod debug container budget',
        'Your groups in this policy: `S0SRE`.',
        'System namespaces (`kube-system`, `kube-public`, `kube-node-lease`, `gatekeeper-system`, `openshift-*`) need a rule that names them; `capture` must be granted by name.',
        'For more access, ask #platform-team.',
      ].join('\n'),
    );
  });

  test('spells out "*" with the installed checks when given', () => {
    expect(whoami(policy, BOB, STAGING, [], { checkNames: ['dns', 'http', 'capture'] })).toContain('• `staging-channel`: allow `dns`, `http` in `staging` · at most 5 per 60 s');
  });

  test('says plainly when nothing is allowed, and that channel rules do not apply in DMs', () => {
    const text = whoami(policy, BOB, 'D0BOB', []);
    expect(text.split('\n')[0]).toBe("<@U0BOB>, you can't run any check in direct messages: no rule allows you (default deny).");
    expect(text).toContain('Rules for channels do not apply in direct messages.');
    expect(text).not.toContain('staging-channel');
    expect(text).toContain('For more access, ask #platform-team.');
  });
});

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

describe('PolicyStore', () => {
  const allowDns = (ns: string) => `version: 1\ncontact: "#ops"\nrules:\n  - { name: r-${ns}, users: [${BOB}], namespaces: [${ns}], checks: [dns] }\n`;

  function setup(initial: string, watch = true) {
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-policy-'));
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, initial);
    const { logger, lines } = capturedLogger();
    const reloads: ReloadResult[] = [];
    const waiters: Array<() => void> = [];
    const store = new PolicyStore({
      path,
      logger,
      watch,
      debounceMs: 50,
      knownChecks: ['dns'],
      onReload: (r) => {
        reloads.push(r);
        waiters.splice(0).forEach((w) => w());
      },
    });
    const nextReload = () =>
      new Promise<ReloadResult>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload within 5 s')), 5000);
        waiters.push(() => {
          clearTimeout(timer);
          resolve(reloads[reloads.length - 1]!);
        });
      });
    return { dir, path, store, lines, reloads, nextReload };
  }

  const allowedIn = (store: PolicyStore, namespace: string) => store.evaluate(req({ userId: BOB, namespace })).allowed;

  test('a missing or broken file at start-up is an error', () => {
    const { logger } = capturedLogger();
    expect(() => new PolicyStore({ path: '/nonexistent/policy.yaml', logger, watch: false })).toThrow(
      'cannot read policy file /nonexistent/policy.yaml: ENOENT; point the policy path setting at a readable YAML file',
    );
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-policy-'));
    writeFileSync(join(dir, 'p.yaml'), 'version: 1\n');
    expect(() => new PolicyStore({ path: join(dir, 'p.yaml'), logger, watch: false })).toThrow(`policy file ${join(dir, 'p.yaml')}: contact is required`);
  });

  test('reloads a good new file after a change, and debounces a burst of writes into one reload', async () => {
    const { path, store, nextReload, reloads } = setup(allowDns('one'));
    try {
      expect(allowedIn(store, 'one')).toBe(true);
      const reloaded = nextReload();
      writeFileSync(path, allowDns('two').slice(0, 20));
      writeFileSync(path, allowDns('two'));
      const result = await reloaded;
      expect(result).toMatchObject({ ok: true, changed: true });
      expect(allowedIn(store, 'two')).toBe(true);
      expect(allowedIn(store, 'one')).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
      expect(reloads).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  test('an editor-style save (write a temp file, rename it over) is picked up', async () => {
    const { dir, path, store, nextReload } = setup(allowDns('one'));
    try {
      const reloaded = nextReload();
      writeFileSync(join(dir, '.policy.yaml.swp'), allowDns('three'));
      renameSync(join(dir, '.policy.yaml.swp'), path);
      await reloaded;
      expect(allowedIn(store, 'three')).toBe(true);
    } finally {
      store.close();
    }
  });

  test('a broken new file keeps the old policy and logs one clear error; fixing it reloads', async () => {
    const { path, store, nextReload, lines } = setup(allowDns('one'));
    try {
      let reloaded = nextReload();
      writeFileSync(path, allowDns('two').replace('namespaces', 'namespacez'));
      expect(await reloaded).toEqual({ ok: false, error: `policy file ${path}: unknown field rules[0].namespacez; remove it or check its spelling` });
      expect(allowedIn(store, 'one')).toBe(true);
      // Same broken content seen again (another event, a manual reload): no second error.
      expect(store.reload().ok).toBe(false);
      const errors = lines().filter((l) => l.level === 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ policyFile: path, msg: `policy not reloaded, keeping the previous one: policy file ${path}: unknown field rules[0].namespacez; remove it or check its spelling` });

      reloaded = nextReload();
      writeFileSync(path, allowDns('four'));
      expect(await reloaded).toMatchObject({ ok: true, changed: true });
      expect(allowedIn(store, 'four')).toBe(true);
    } finally {
      store.close();
    }
  });

  test('manual reload without a watch; unchanged content is not a change; warnings are logged', () => {
    const { path, store, lines } = setup(allowDns('one'), false);
    expect(store.reload()).toMatchObject({ ok: true, changed: false });
    writeFileSync(path, allowDns('one').replace('[dns]', '[dns, dsn]'));
    expect(store.reload()).toMatchObject({ ok: true, changed: true, warnings: ['rule "r-one" lists check "dsn", which is not installed'] });
    expect(lines().map((l) => l.msg)).toEqual(['policy loaded', 'policy reloaded', 'policy: rule "r-one" lists check "dsn", which is not installed']);
    expect(store.whoami(BOB, INCIDENTS, [])).toContain('`r-one`');
    expect(store.groupIds()).toEqual([]);
    store.close();
  });
});

// Keep the fixture honest: every rule in it is reachable by some request above.
test('fixture sanity', () => {
  const names = (policy as Policy).rules.map((r) => r.name);
  expect(names).toEqual(['no-prod-capture-outside-private', 'sre-capture', 'sre', 'payments', 'staging-channel', 'rule 6']);
});
