import type { Finding } from '../../../src/checks/types.js';
import type { DiagnosticJob } from '../../../src/queue/job.js';
import { escapeMrkdwn } from '../../../src/core/text.js';
import { findingMessage, rootMessage, transcript } from '../../../src/slack/render.js';

const job: DiagnosticJob = {
  v: 1,
  id: '0123456789abcdef',
  check: 'dns',
  target: { kind: 'deployment', name: 'web' },
  namespace: 'prod',
  timeoutSeconds: 30,
  positional: [],
  options: {},
  commandText: '/kdebug dns deploy/web -n prod',
  requestedBy: { teamId: 'T1', userId: 'U1' },
  reply: { channel: 'C1', rootTs: '1.000100' },
  enqueuedAt: 1,
};

const finding = (output: string): Finding => ({
  check: 'dns',
  verdict: 'nxdomain',
  headline: 'NXDOMAIN for a.prod.svc.cluster.local via 10.96.0.10',
  facts: { server: '10.96.0.10#53', search: ['prod.svc.cluster.local', 'svc.cluster.local'], 'query time (ms)': 2 },
  steps: [{ id: 'dig-1', argv: ['dig', 'a.prod'], exitCode: 0, output }],
});

function allText(blocks: unknown[]): string {
  return JSON.stringify(blocks);
}

describe('renderers', () => {
  test('root message: queued, then final status with verdict and duration', () => {
    expect(rootMessage(job, { state: 'queued' }).text).toBe('dns deployment/web in prod: queued');
    const done = rootMessage(job, { state: 'done', finding: finding('x'), durationMs: 3400 });
    expect(allText(done.blocks)).toContain('*nxdomain*: NXDOMAIN for a.prod.svc.cluster.local via 10.96.0.10 (3.4 s)');
    expect(allText(done.blocks)).toContain('requested by <@U1>');
    expect(rootMessage(job, { state: 'failed', message: 'Pod web-0 not found', durationMs: 12_400 }).text).toBe('dns deployment/web in prod: failed: Pod web-0 not found');
  });

  test('a finding puts the verdict first, then facts, then the raw output in a code block', () => {
    const message = findingMessage(finding(';; ->>HEADER<<- status: NXDOMAIN\n'), { maxInlineOutputChars: 2800, fileBaseName: 'dns-web-0' });
    expect(message.file).toBeUndefined();
    expect(message.text).toBe('nxdomain: NXDOMAIN for a.prod.svc.cluster.local via 10.96.0.10');
    const [head, facts, raw] = message.blocks.map((b) => JSON.stringify(b));
    expect(head).toContain(':x: *nxdomain*');
    expect(facts).toContain('• *search:* prod.svc.cluster.local, svc.cluster.local');
    expect(raw).toContain('```$ dig a.prod\\n;; -&gt;&gt;HEADER&lt;&lt;- status: NXDOMAIN```');
  });

  test('output too long for a message becomes a file, and every section stays within Slack limits', () => {
    const long = 'x'.repeat(10_000);
    const message = findingMessage(finding(long), { maxInlineOutputChars: 2800, fileBaseName: 'dns-web-0' });
    expect(message.file?.filename).toBe('dns-web-0.txt');
    expect(message.file?.content).toContain(long);
    for (const block of message.blocks) {
      const text = (block as { text?: { text: string } }).text?.text ?? '';
      expect(text.length).toBeLessThanOrEqual(3000);
    }
  });

  test('user and tool text is escaped for mrkdwn; code fences cannot be closed early', () => {
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const message = findingMessage(finding('```\n<!here>'), { maxInlineOutputChars: 2800, fileBaseName: 'f' });
    const raw = JSON.stringify(message.blocks.at(-1));
    expect(raw).not.toContain('<!here>');
    expect(raw.match(/```/g)).toHaveLength(2);
  });

  test('transcript marks steps that failed or did not finish', () => {
    expect(
      transcript([
        { id: 'a', argv: ['dig', 'x'], exitCode: 9, output: 'timed out\n' },
        { id: 'b', argv: ['cat', '/etc/resolv.conf'], exitCode: null, output: '' },
      ]),
    ).toBe('$ dig x (exit 9)\ntimed out\n\n$ cat /etc/resolv.conf (did not finish)\n');
  });
});
