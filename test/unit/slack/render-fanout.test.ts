import type { FanoutComparison, FanoutRow } from '../../../src/checks/fanout/compare.js';
import { allOutputs, comparisonEmoji, comparisonMessage, comparisonTable } from '../../../src/slack/render-fanout.js';

const rows: FanoutRow[] = [
  { pod: 'web-e', node: 'ip-10-0-3-7', zone: 'eu-west-1b', replicaSet: 'web-7c4b', verdict: 'nxdomain', class: 'bad', figure: 'NXDOMAIN', odd: true, why: 'NXDOMAIN for payments' },
  { pod: 'web-a', node: 'ip-10-0-1-4', zone: 'eu-west-1a', replicaSet: 'web-7c4b', verdict: 'ok', class: 'good', figure: '10.96.3.7', odd: false },
  { pod: 'web-b', node: 'ip-10-0-2-5', verdict: 'skipped', figure: 'not running (Pending)', odd: false },
];
const comparison = (over: Partial<FanoutComparison['summary']> = {}): FanoutComparison => ({
  headline: '1 of 3 pods fails (nxdomain)',
  summary: { pods: 3, good: 1, warning: 0, bad: 1, skipped: 1, byVerdict: { nxdomain: 1, ok: 1 }, ...over },
  rows,
});

test('the table: odd pods marked, columns that hold something, one ReplicaSet not shown', () => {
  expect(comparisonTable(rows)).toBe(
    [
      '   pod    node         zone        verdict   result',
      '!  web-e  ip-10-0-3-7  eu-west-1b  nxdomain  NXDOMAIN',
      '   web-a  ip-10-0-1-4  eu-west-1a  ok        10.96.3.7',
      '   web-b  ip-10-0-2-5              skipped   not running (Pending)',
    ].join('\n'),
  );
  // Two ReplicaSets (a rollout): the column appears; no zones at all: that column goes.
  const rollout = rows.map((r, i) => ({ ...r, zone: undefined, replicaSet: i === 0 ? 'web-6c9d' : 'web-7c4b' }));
  expect(comparisonTable(rollout).split('\n')[0]).toBe('   pod    node         replicaset  verdict   result');
});

test('the emoji says the worst at a glance: bad, then warning or skipped, else good', () => {
  expect(comparisonEmoji(comparison())).toBe(':x:');
  expect(comparisonEmoji(comparison({ bad: 0 }))).toBe(':warning:');
  expect(comparisonEmoji(comparison({ bad: 0, skipped: 0 }))).toBe(':white_check_mark:');
});

test('one message: headline, sample, table, the odd pods’ reasons; long output attached as one file', () => {
  const pods = [
    {
      pod: 'web-e',
      node: 'ip-10-0-3-7',
      zone: 'eu-west-1b',
      finding: {
        check: 'dns',
        verdict: 'nxdomain',
        headline: 'NXDOMAIN for payments',
        facts: {},
        steps: [{ id: 'd', argv: ['dig', 'payments'], exitCode: 0, output: 'x'.repeat(400) }],
      },
    },
    { pod: 'web-b', skipped: 'Pod web-b is Pending (ContainerCreating): a debug container can only join a running pod.' },
  ];
  const message = comparisonMessage(comparison(), pods, { sample: 'all 3 pods', maxInlineOutputChars: 200, fileBaseName: 'dns-web-0123' });
  expect(message.text).toBe('1 of 3 pods fails (nxdomain)');
  const blocks = JSON.stringify(message.blocks);
  expect(blocks).toContain(':x: *1 of 3 pods fails (nxdomain)*');
  expect(blocks).toContain('all 3 pods');
  expect(blocks).toContain('• *web-e*: NXDOMAIN for payments');
  expect(message.file?.filename).toBe('dns-web-0123.txt');
  expect(message.file?.content).toBe(`${allOutputs(pods)}\n`);
  expect(allOutputs(pods)).toBe(
    `== web-e (node ip-10-0-3-7, zone eu-west-1b): nxdomain: NXDOMAIN for payments\n\n$ dig payments\n${'x'.repeat(400)}\n\n== web-b: not checked: Pod web-b is Pending (ContainerCreating): a debug container can only join a running pod.`,
  );
  // Short enough: inline, no file.
  expect(comparisonMessage(comparison(), pods.slice(1), { sample: 'all 3 pods', maxInlineOutputChars: 2800, fileBaseName: 'x' }).file).toBeUndefined();
});
