import { readFileSync } from 'node:fs';
import {
  DEFAULT_DENY,
  evaluate,
  globMatches,
  parsePolicy,
  readPolicyText,
  PolicyError,
  policyGroupIds,
  policyWarnings,
  refusalText,
  type Verdict,
} from '../../../src/policy/rules.js';
import { DEFAULT_POLICY_PATH } from '../../../src/policy/store.js';
import { whoami } from '../../../src/policy/whoami.js';
import { ALICE, BOB, DM, INCIDENTS, PAY, policy, PRIVATE, req, SRE, STAGING } from './fixture.js';

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
      const p = parsePolicy(`version: 1\ncontact: x\nsensitiveChecks: [exec]\nrules:\n  - { users: [${BOB}], namespaces: [web], checks: ["*", capture] }`);
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
    expect(
      policyError(
        'version: 1\ncontact: x\nrules:\n  - { name: a, users: [U1234], namespaces: [a], checks: [dns] }\n  - { name: a, users: [U1234], namespaces: [b], checks: [dns] }',
      ),
    ).toBe('policy file p.yaml: rules[1].name duplicate rule name "a" (also rules[0])');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { effect: deny, users: [U1234], namespaces: [a], checks: [dns], limits: { allowBudgetOverride: true } }')).toBe(
      'policy file p.yaml: rules[0].limits limits only apply to allow rules',
    );
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: [U1234], namespaces: [a], checks: [dns], limits: { rate: { requests: 0, windowSeconds: 60 } } }')).toMatch(
      /^policy file p\.yaml: rules\[0\]\.limits\.rate\.requests /,
    );
    expect(policyError('version: 1\ncontact: 5')).toBe('policy file p.yaml: contact must be a string (got a number)');
    expect(policyError('version: 1\ncontact: x\nrules: {}')).toBe('policy file p.yaml: rules must be a list (got a mapping)');
    expect(policyError('version: 1\ncontact: x\nrules:\n  - { users: U1234, namespaces: [a], checks: [dns] }')).toBe(
      'policy file p.yaml: rules[0].users must be a list (got a string)',
    );
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
    const shipped = parsePolicy(readPolicyText(DEFAULT_POLICY_PATH), DEFAULT_POLICY_PATH);
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

// Keep the fixture honest: every rule in it is reachable by some request above.
test('fixture sanity', () => {
  const names = policy.rules.map((r) => r.name);
  expect(names).toEqual(['no-prod-capture-outside-private', 'sre-capture', 'sre', 'payments', 'staging-channel', 'rule 6']);
});

describe('clusters', () => {
  const p = parsePolicy(
    [
      'version: 1',
      'contact: "#sre"',
      'rules:',
      `  - { name: eu-only, users: [${BOB}], namespaces: ["*"], checks: [dns], clusters: ["prod-eu*"] }`,
      `  - { name: anywhere, users: [${ALICE}], namespaces: ["*"], checks: [dns] }`,
    ].join('\n'),
  );
  const request = (user: string, cluster?: string) => ({ userId: user, channelId: 'C0ANY', namespace: 'prod', check: 'dns', userGroups: [], ...(cluster ? { cluster } : {}) });

  test('a rule that names clusters covers only those (globs too); a rule without clusters covers every one', () => {
    expect(evaluate(p, request(BOB, 'prod-eu-1'))).toMatchObject({ allowed: true, rule: 'eu-only' });
    const refusal = refused(evaluate(p, request(BOB, 'prod-us')));
    expect(refusal.rule).toBeUndefined();
    expect(refusalText(refusal, { check: 'dns', namespace: 'prod', cluster: 'prod-us' })).toMatch(
      /^You can't run `dns` in namespace `prod` of cluster `prod-us`: no rule allows it/,
    );
    // The default cluster of a one-cluster installation is "default".
    expect(evaluate(p, request(BOB)).allowed).toBe(false);
    expect(evaluate(p, request(ALICE, 'prod-us'))).toMatchObject({ allowed: true, rule: 'anywhere' });
  });

  test('whoami says which clusters a rule is for', () => {
    expect(whoami(p, BOB, 'C0ANY', [])).toContain('• `eu-only`: allow `dns` in any namespace except system ones of cluster `prod-eu*`');
  });
});
