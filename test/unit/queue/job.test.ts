import type { CheckDefinition } from '../../../src/checks/types.js';
import { debugContainerName } from '../../../src/core/debug-container.js';
import { jobIdFor, validateJob, type DiagnosticJob } from '../../../src/queue/job.js';
import { DNS1123_LABEL } from '../../../src/core/kube-names.js';

const echoCheck: CheckDefinition<{ words: string[] }> = {
  name: 'echo',
  summary: 'test check',
  usage: 'echo <target> [word…]',
  help: '',
  verdicts: { ok: { class: 'good', severity: 0 } },
  capabilities: [],
  options: [],
  parseArgs: (positional) => (positional.includes('bad') ? { ok: false, message: 'bad word' } : { ok: true, args: { words: positional } }),
  steps: ({ words }) => [{ id: 'echo', argv: ['echo', ...words] }],
  interpret: (_args, steps) => ({ check: 'echo', verdict: 'ok', headline: '', facts: {}, steps }),
};
const checks = new Map([['echo', echoCheck]]);

const job: DiagnosticJob = {
  v: 1,
  id: '0123456789abcdef',
  check: 'echo',
  target: { kind: 'pod', name: 'web-0' },
  namespace: 'prod',
  timeoutSeconds: 30,
  positional: ['hello'],
  options: {},
  commandText: '/kdebug echo web-0 hello -n prod',
  requestedBy: { teamId: 'T1', userId: 'U1' },
  reply: { channel: 'C1', rootTs: '1.000100' },
  enqueuedAt: 1,
};

describe('job validation', () => {
  test('a valid job comes back with its parsed arguments', () => {
    const result = validateJob(job, checks);
    expect(result).toMatchObject({ ok: true, args: { words: ['hello'] } });
  });

  test.each([
    [{ ...job, namespace: 'Prod' }, /namespace/],
    [{ ...job, target: { kind: 'pod', name: 'web;rm -rf /' } }, /target\.name/],
    [{ ...job, target: { kind: 'cronjob', name: 'x' } }, /target\.kind/],
    [{ ...job, check: 'nosuch' }, /unknown check nosuch/],
    [{ ...job, positional: ['bad'] }, /bad word/],
    [{ ...job, id: 'not-hex' }, /job field id/],
    [{ ...job, extra: 1 }, /Unrecognized key/],
    [null, /root/],
  ])('an invalid job is refused before it reaches a cluster: %#', (data, reason) => {
    const result = validateJob(data, checks);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  test('ids are stable per Slack command and make valid container names', () => {
    const id = jobIdFor('T1', 'trigger-1');
    expect(id).toBe(jobIdFor('T1', 'trigger-1'));
    expect(id).not.toBe(jobIdFor('T1', 'trigger-2'));
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(debugContainerName(id)).toMatch(DNS1123_LABEL);
  });
});

describe('--all jobs', () => {
  test('a workload or a label selector with all: true is valid', () => {
    expect(validateJob({ ...job, all: true, target: { kind: 'deployment', name: 'web' } }, checks).ok).toBe(true);
    expect(validateJob({ ...job, all: true, target: { kind: 'selector', name: 'app=web,tier!=db' } }, checks).ok).toBe(true);
  });

  test('a selector is validated as one, and never without all', () => {
    expect(validateJob({ ...job, target: { kind: 'selector', name: 'app=web' } }, checks)).toEqual({ ok: false, reason: 'job field all: a label selector needs all: true' });
    const reasonOf = (result: ReturnType<typeof validateJob>) => (result.ok ? 'valid' : result.reason);
    expect(reasonOf(validateJob({ ...job, all: true, target: { kind: 'selector', name: 'app=web;rm -rf /' } }, checks))).toMatch(/^job field target\.name: /);
    // A pod name is still a pod name, however a selector would look.
    expect(reasonOf(validateJob({ ...job, target: { kind: 'pod', name: 'app=web' } }, checks))).toMatch(/^job field target\.name: /);
  });
});
