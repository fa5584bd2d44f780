import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import {
  AuditLog,
  auditEntryForCommand,
  auditEntryForJob,
  auditRecord,
  formatAuditLine,
  outcomeOf,
  redactSecrets,
  type AuditEntry,
  type AuditJob,
} from '../../../src/policy/audit.js';
import { evaluate, parsePolicy } from '../../../src/policy/rules.js';
import { GroupMembership, slackGroupLister } from '../../../src/policy/user-groups.js';
import { SlackEmulator } from '../../../src/playground/slack-emulator.js';
import { capturedLogger } from './helpers.js';

const T0 = Date.parse('2025-03-04T10:00:00.000Z');

const base = {
  team: 'T0TEAM',
  user: 'U0ALICE',
  userName: 'alice',
  channel: 'C0INCIDENT',
  command: '/kdebug dns web-7f9c -n prod',
};

const job: AuditJob = {
  id: '0123456789abcdef',
  check: 'dns',
  target: { kind: 'pod', name: 'web-7f9c' },
  namespace: 'prod',
  commandText: '/kdebug dns web-7f9c -n prod',
  requestedBy: { teamId: 'T0TEAM', userId: 'U0ALICE', userName: 'alice' },
  reply: { channel: 'C0INCIDENT' },
  enqueuedAt: T0,
};

describe('audit records', () => {
  test('refused: who, where, what, and which rule said no', () => {
    const policy = parsePolicy('version: 1\ncontact: "#platform"\nrules: []');
    const verdict = evaluate(policy, { userId: base.user, channelId: base.channel, namespace: 'kube-system', check: 'dns', userGroups: [] });
    expect(verdict.allowed).toBe(false);
    const record = auditRecord(
      {
        ...base,
        command: '/kdebug dns web -n kube-system',
        outcome: 'refused',
        check: 'dns',
        target: 'pod/web',
        namespace: 'kube-system',
        policy: { allowed: verdict.allowed, ...(verdict.allowed ? {} : { reason: verdict.reason }) },
        startedAt: T0,
      },
      T0 + 12,
    );
    expect(record).toEqual({
      time: '2025-03-04T10:00:00.000Z',
      outcome: 'refused',
      team: 'T0TEAM',
      user: 'U0ALICE',
      userName: 'alice',
      channel: 'C0INCIDENT',
      command: '/kdebug dns web -n kube-system',
      check: 'dns',
      target: 'pod/web',
      namespace: 'kube-system',
      policy: { allowed: false, reason: 'no rule allows it: default deny (kube-system is a system namespace, which only a rule naming it exactly opens)' },
    });
  });

  test('enqueued: the job id and the allowing rule', () => {
    const record = auditRecord(
      { ...base, outcome: 'enqueued', jobId: job.id, check: 'dns', target: 'pod/web-7f9c', namespace: 'prod', policy: { allowed: true, rule: 'sre' }, startedAt: T0 },
      T0 + 40,
    );
    expect(record).toMatchObject({ outcome: 'enqueued', jobId: job.id, policy: { allowed: true, rule: 'sre' }, time: '2025-03-04T10:00:00.000Z' });
    expect(record.durationMs).toBeUndefined(); // only finished requests have a duration
  });

  test('--all: the worker record lists every pod, and the audit line names them', () => {
    const record = auditRecord(
      auditEntryForJob(
        { ...job, target: { kind: 'deployment', name: 'web' } },
        { status: 'done', verdict: 'nxdomain', pods: ['web-0', 'web-1'], container: 'kdebug-0123456789abcdef' },
      ),
      T0 + 4200,
    );
    expect(record).toMatchObject({ target: 'deployment/web', pods: ['web-0', 'web-1'], verdict: 'nxdomain' });
    expect(record.pod).toBeUndefined();
    expect(formatAuditLine(record)).toContain('2 pods `prod/web-0, web-1`');
  });

  test('done: the worker record names the pod and the container it added, the verdict and the duration', () => {
    const record = auditRecord(
      auditEntryForJob(job, { status: 'done', verdict: 'nxdomain', pod: 'web-7f9c', container: 'kdebug-0123456789abcdef' }, { targetContainer: 'app' }),
      T0 + 4200,
    );
    expect(record).toEqual({
      time: '2025-03-04T10:00:00.000Z',
      outcome: 'done',
      team: 'T0TEAM',
      user: 'U0ALICE',
      userName: 'alice',
      channel: 'C0INCIDENT',
      command: '/kdebug dns web-7f9c -n prod',
      jobId: '0123456789abcdef',
      check: 'dns',
      target: 'pod/web-7f9c',
      pod: 'web-7f9c',
      namespace: 'prod',
      container: 'kdebug-0123456789abcdef',
      targetContainer: 'app',
      verdict: 'nxdomain',
      durationMs: 4200,
    });
  });

  test('failed and timed-out: a deadline failure is a timeout, anything else a failure, with the reason', () => {
    const timedOut = auditRecord(auditEntryForJob(job, { status: 'failed', failure: 'deadline', pod: 'web-7f9c', container: 'kdebug-0123456789abcdef' }), T0 + 60_000);
    expect(timedOut).toMatchObject({ outcome: 'timed-out', reason: 'deadline', pod: 'web-7f9c', container: 'kdebug-0123456789abcdef', durationMs: 60_000 });
    const failed = auditRecord(auditEntryForJob({ ...job, target: { kind: 'deployment', name: 'web' } }, { status: 'failed', failure: 'forbidden' }), T0 + 800);
    expect(failed).toMatchObject({ outcome: 'failed', reason: 'forbidden', target: 'deployment/web', durationMs: 800 });
    expect(failed.pod).toBeUndefined();
    expect(failed.container).toBeUndefined();
    expect(outcomeOf({ status: 'done' })).toBe('done');
  });

  test('rate-limited and duplicate records carry the retry time and the reused job', () => {
    expect(auditRecord({ ...base, outcome: 'rate-limited', retryAfterSeconds: 17 }, T0)).toMatchObject({ outcome: 'rate-limited', retryAfterSeconds: 17 });
    expect(auditRecord({ ...base, outcome: 'duplicate', existingJobId: 'fedcba9876543210' }, T0)).toMatchObject({ outcome: 'duplicate', existingJobId: 'fedcba9876543210' });
  });
});

describe('redactSecrets', () => {
  test.each([
    ['/kdebug http web https://bob:hunter2@api.internal/x', '/kdebug http web https://bob:[redacted]@api.internal/x'],
    ['/kdebug http web https://api/x --header "Authorization: Bearer abc.def.ghi"', '/kdebug http web https://api/x --header "Authorization: [redacted]"'],
    ['/kdebug http web https://api/x -H Authorization:Basic dXNlcjpwYXNz', '/kdebug http web https://api/x -H Authorization:[redacted]'],
    ['/kdebug http web https://api/?token=s3cr3t&x=1', '/kdebug http web https://api/?token=[redacted]&x=1'],
    ['/kdebug http web https://api/ --password hunter2 --api-key=k123', '/kdebug http web https://api/ --password [redacted] --api-key=[redacted]'],
    ['leaked xoxb-1111-2222-abcdefABCDEF and xapp-1-A1-3-ff', 'leaked xox*-[redacted] and xapp-[redacted]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sgn_abc-XYZ', 'jwt [redacted-jwt]'],
    ['aws AKIAABCDEFGHIJKLMNOP', 'aws [redacted-aws-key]'],
    ['{"client_secret": "abc"}', '{"client_secret": [redacted]}'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  test('ordinary commands are left alone', () => {
    for (const text of ['/kdebug dns web-7f9c -n prod', '/kdebug tls deploy/api api.example.com:443 --timeout 30s', '/kdebug http web https://author.example/tokens']) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  test('records never contain the secrets, in the command or the reason', () => {
    const record = auditRecord(
      { ...base, command: '/kdebug http web https://u:p4ss@h/ -H "Authorization: Bearer tok123456"', outcome: 'failed', reason: 'curl said password=p4ss' },
      T0,
    );
    expect(JSON.stringify(record)).not.toMatch(/p4ss|tok123456/);
  });
});

describe('AuditLog sinks', () => {
  test('the log line is JSON with audit: true and every field', async () => {
    const { logger, lines } = capturedLogger();
    const audit = new AuditLog({ logger, now: () => T0 + 4200 });
    const record = await audit.record(auditEntryForJob(job, { status: 'done', verdict: 'ok', pod: 'web-7f9c', container: 'kdebug-0123456789abcdef' }));
    const [line] = lines();
    expect(line).toMatchObject({
      audit: true,
      level: 30,
      msg: 'audit: done',
      requestTime: '2025-03-04T10:00:00.000Z',
      outcome: 'done',
      team: 'T0TEAM',
      user: 'U0ALICE',
      channel: 'C0INCIDENT',
      command: '/kdebug dns web-7f9c -n prod',
      pod: 'web-7f9c',
      namespace: 'prod',
      container: 'kdebug-0123456789abcdef',
      verdict: 'ok',
      durationMs: 4200,
      jobId: job.id,
    });
    expect(typeof line!.time).toBe('string'); // pino's own timestamp is untouched
    expect(record.time).toBe('2025-03-04T10:00:00.000Z');
  });

  test('the channel line names people without pinging them and escapes the command', () => {
    const line = formatAuditLine(
      auditRecord(
        {
          ...base,
          command: '/kdebug dns <@U0X> & `x`',
          outcome: 'refused',
          check: 'dns',
          target: 'pod/web',
          namespace: 'prod',
          policy: { allowed: false, rule: 'no-prod', reason: 'r' },
        },
        T0,
      ),
    );
    expect(line).toBe(':no_entry: *refused* · alice (U0ALICE) · in <#C0INCIDENT> · `/kdebug dns &lt;@U0X&gt; &amp;  x ` · target `prod/pod/web` · r');
    expect(line).not.toMatch(/<@/);
  });

  describe('against the Slack emulator with the real WebClient', () => {
    let emu: SlackEmulator;
    const quiet: SlackLogger = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, setName() {}, getLevel: () => LogLevel.ERROR };
    const AUDIT = 'C0AUDIT';

    beforeAll(async () => {
      emu = new SlackEmulator();
      await emu.start();
      emu.addChannel(AUDIT, { botIsMember: true, name: 'kdebug-audit' });
      emu.addChannel('C0NOTIN', { botIsMember: false });
    });
    afterAll(async () => emu.stop());

    const client = () => new WebClient(emu.botToken, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: quiet });

    test('each record is posted in the audit channel (filtered by outcome when asked)', async () => {
      const { logger } = capturedLogger();
      const audit = new AuditLog({ logger, now: () => T0 + 1000, slack: { client: client(), channel: AUDIT, outcomes: ['refused', 'done', 'failed', 'timed-out'] } });
      const entry: AuditEntry = {
        ...base,
        outcome: 'refused',
        check: 'dns',
        target: 'pod/web',
        namespace: 'kube-system',
        policy: { allowed: false, reason: 'no rule allows it: default deny' },
      };
      await audit.record(entry);
      await audit.record({ ...entry, outcome: 'enqueued' });
      const posted = emu.messages(AUDIT);
      expect(posted).toHaveLength(1);
      expect(posted[0]!.text).toBe(
        ':no_entry: *refused* · alice (U0ALICE) · in <#C0INCIDENT> · `/kdebug dns web-7f9c -n prod` · target `kube-system/pod/web` · no rule allows it: default deny',
      );
    });

    test('a failing audit channel is logged, never thrown', async () => {
      const { logger, lines } = capturedLogger();
      const audit = new AuditLog({ logger, slack: { client: client(), channel: 'C0NOTIN' } });
      await expect(audit.record({ ...base, outcome: 'enqueued' })).resolves.toMatchObject({ outcome: 'enqueued' });
      expect(lines().map((l) => [l.msg, l.err])).toEqual([
        ['audit: enqueued', undefined],
        ['could not post the audit record in the audit channel', 'not_in_channel'],
      ]);
    });

    test('group membership through usergroups.users.list', async () => {
      emu.handle('usergroups.users.list', (args) => ({ ok: true, users: args.usergroup === 'S0SRE' ? ['U0ALICE', 'U0BOB'] : [] }));
      const groups = new GroupMembership({ list: slackGroupLister(client()) });
      expect(await groups.groupsOf('U0ALICE', ['S0SRE', 'S0PAY'])).toEqual(['S0SRE']);
      expect(
        emu
          .callsTo('usergroups.users.list')
          .map((c) => c.args.usergroup)
          .sort(),
      ).toEqual(['S0PAY', 'S0SRE']);
    });
  });
});

test('auditEntryForCommand and outcomeOf', () => {
  expect(auditEntryForCommand({ team_id: 'T1', user_id: 'U1', channel_id: 'D1', text: ' whoami ' }, 'refused')).toEqual({
    outcome: 'refused',
    team: 'T1',
    user: 'U1',
    channel: 'D1',
    command: '/kdebug  whoami',
  });
  expect(outcomeOf({ status: 'failed', failure: 'budget' })).toBe('budget-exceeded');
  expect(outcomeOf({ status: 'failed', failure: 'busy' })).toBe('busy');
  expect(outcomeOf({ status: 'failed', failure: 'forbidden' })).toBe('failed');
});
