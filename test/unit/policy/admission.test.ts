import { admit, type AdmissionJob } from '../../../src/policy/admission.js';
import { AuditLog } from '../../../src/policy/audit.js';
import { dedupeSubjectForJob, InFlightDedupe } from '../../../src/policy/dedupe.js';
import { RateLimiter } from '../../../src/policy/rate-limit.js';
import { evaluate, parsePolicy, policyGroupIds, type PolicyRequest } from '../../../src/policy/rules.js';
import { GroupMembership } from '../../../src/policy/user-groups.js';
import { capturedLogger, shippedSettings, suiteRedis } from './helpers.js';

const suite = suiteRedis();

const policy = parsePolicy(`
version: 1
contact: "#platform"
rules:
  - name: sre
    groups: [S0SRE]
    namespaces: [prod]
    checks: [dns]
    limits: { rate: { requests: 2, windowSeconds: 60 } }
`);

const command = { team_id: 'T1', user_id: 'U0BOB', user_name: 'bob', channel_id: 'C0OPS', command: '/kdebug', text: 'dns web -n prod' };

function job(overrides: Partial<AdmissionJob> = {}): AdmissionJob {
  return {
    id: `job-${Math.random().toString(16).slice(2, 10)}`,
    check: 'dns',
    target: { kind: 'pod', name: 'web' },
    namespace: 'prod',
    positional: [],
    options: {},
    requestedBy: { teamId: 'T1', userId: 'U0BOB' },
    ...overrides,
  };
}

function setup(members: string[] = ['U0BOB']) {
  const { logger, lines } = capturedLogger();
  const defaults = shippedSettings().limits;
  const prefix = suite.prefix();
  const limits = { rate: new RateLimiter(suite.redis(), prefix, defaults.rate), dedupe: new InFlightDedupe(suite.redis(), prefix, defaults.dedupe) };
  const deps = {
    policy: { evaluate: (request: PolicyRequest) => evaluate(policy, request), groupIds: () => policyGroupIds(policy) },
    groups: new GroupMembership({ list: async () => members }),
    limits,
    audit: new AuditLog({ logger }),
  };
  const audits = () => lines().filter((l) => l.audit === true);
  return { deps, limits, audits };
}

describe('admit', () => {
  test('a user outside the policy is refused with the rule/default-deny reason and one audit record', async () => {
    const { deps, audits } = setup([]);
    const result = await admit(deps, command, job(), Date.parse('2025-01-01T00:00:00Z'));
    expect(result).toEqual({
      ok: false,
      outcome: 'refused',
      reply: "You can't run `dns` in namespace `prod`: no rule allows it: default deny. Ask #platform if you need it.",
    });
    expect(audits()).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        requestTime: '2025-01-01T00:00:00.000Z',
        user: 'U0BOB',
        userName: 'bob',
        channel: 'C0OPS',
        command: '/kdebug dns web -n prod',
        check: 'dns',
        target: 'pod/web',
        namespace: 'prod',
        policy: { allowed: false, reason: 'no rule allows it: default deny' },
      }),
    ]);
  });

  test('allowed: the verdict comes back, and enqueued() writes the audit record', async () => {
    const { deps, audits } = setup();
    const j = job();
    const result = await admit(deps, command, j);
    if (!result.ok) throw new Error(result.reply);
    expect(result.verdict).toEqual({ allowed: true, rule: 'sre', limits: { rate: { requests: 2, windowSeconds: 60 }, allowBudgetOverride: false } });
    expect(audits()).toEqual([]);
    await result.enqueued();
    expect(audits()).toEqual([expect.objectContaining({ outcome: 'enqueued', jobId: j.id, policy: { allowed: true, rule: 'sre' } })]);
  });

  test('the same request again is a duplicate naming the running job, and costs no rate', async () => {
    const { deps, audits } = setup();
    const first = job();
    expect((await admit(deps, command, first)).ok).toBe(true);
    const again = await admit(deps, command, job());
    expect(again).toEqual({
      ok: false,
      outcome: 'duplicate',
      existingJobId: first.id,
      reply: `The same \`dns\` on pod/web in \`prod\` is already running for you (job ${first.id}); its results will be in that thread.`,
    });
    expect(audits().at(-1)).toMatchObject({ outcome: 'duplicate', existingJobId: first.id });
    // Only one request was counted: a different target still fits in the rate of 2.
    expect((await admit(deps, command, job({ target: { kind: 'pod', name: 'web-2' } }))).ok).toBe(true);
  });

  test("over the rule's rate: refused with the time to wait, and the dedupe claim is given back", async () => {
    const { deps, limits, audits } = setup();
    expect((await admit(deps, command, job({ target: { kind: 'pod', name: 'a' } }))).ok).toBe(true);
    expect((await admit(deps, command, job({ target: { kind: 'pod', name: 'b' } }))).ok).toBe(true);
    const limited = job({ target: { kind: 'pod', name: 'c' } });
    const result = await admit(deps, command, limited);
    expect(result).toMatchObject({ ok: false, outcome: 'rate-limited' });
    expect(!result.ok && result.reply).toMatch(/^You've started 2 diagnostics in the last 60 s, the most allowed\. Try again in (59|60) s\.$/);
    expect(audits().at(-1)).toMatchObject({ outcome: 'rate-limited', retryAfterSeconds: expect.any(Number) as number });
    expect(await limits.dedupe.claim(dedupeSubjectForJob(limited), 'later')).toEqual({ first: true });
  });

  test('notEnqueued() frees the dedupe claim and audits not-enqueued', async () => {
    const { deps, limits, audits } = setup();
    const j = job();
    const result = await admit(deps, command, j);
    if (!result.ok) throw new Error(result.reply);
    await result.notEnqueued('not_in_channel');
    expect(audits().at(-1)).toMatchObject({ outcome: 'not-enqueued', reason: 'not_in_channel', jobId: j.id });
    expect(await limits.dedupe.claim(dedupeSubjectForJob(j), 'next')).toEqual({ first: true });
  });
});
