// How `kdebug run` prints a finding: a readable report for people, or one JSON object for scripts.
import type { FanoutComparison } from '../checks/fanout/compare.js';
import { verdictClass } from '../checks/index.js';
import type { Finding } from '../checks/types.js';
import { allOutputs, comparisonTable, type PodOutput } from '../slack/render-fanout.js';
import { transcript } from '../slack/render.js';

/** `kdebug run`'s exit code for a finding: 0 only for a good verdict. */
export function exitCodeFor(finding: Pick<Finding, 'check' | 'verdict'>): 0 | 1 {
  return verdictClass(finding.check, finding.verdict) === 'good' ? 0 : 1;
}

/** The single JSON object `--json` prints. */
export function findingJson(finding: Finding): string {
  return JSON.stringify({
    check: finding.check,
    verdict: finding.verdict,
    headline: finding.headline,
    facts: finding.facts,
    steps: finding.steps.map((s) => ({ argv: s.argv, exitCode: s.exitCode, output: s.output })),
  });
}

export function findingText(finding: Finding, note?: string): string {
  const mark = { good: '✔', warning: '⚠', bad: '✘' }[verdictClass(finding.check, finding.verdict)];
  const lines = [`${mark} ${finding.verdict}: ${finding.headline}`];
  if (note) lines.push(`  (${note})`);
  const facts = Object.entries(finding.facts);
  if (facts.length) {
    lines.push('');
    const width = Math.max(...facts.map(([k]) => k.length));
    for (const [key, value] of facts) lines.push(`  ${key.padEnd(width)}  ${Array.isArray(value) ? value.join(', ') || '(none)' : String(value)}`);
  }
  lines.push('', transcript(finding.steps), '');
  return lines.join('\n');
}

/** A failure before any verdict (pod not found, forbidden, …), in the same two shapes. */
export function failureJson(check: string, message: string, kind: string): string {
  return JSON.stringify({ check, verdict: 'failed', headline: message, facts: { kind }, steps: [] });
}

/** `--all`: 0 only when every pod was checked and its verdict is good. */
export function exitCodeForComparison(comparison: FanoutComparison): 0 | 1 {
  const { pods, good } = comparison.summary;
  return pods > 0 && good === pods ? 0 : 1;
}

/** `--all --json`: one object, the pods in the comparison's order (odd ones first). */
export function comparisonJson(check: string, target: string, namespace: string, sample: string, comparison: FanoutComparison, outputs: readonly PodOutput[]): string {
  const byPod = new Map(outputs.map((o) => [o.pod, o]));
  return JSON.stringify({
    check,
    target,
    namespace,
    headline: comparison.headline,
    sample,
    pods: comparison.rows.map((row) => {
      const finding = byPod.get(row.pod)?.finding;
      return {
        pod: row.pod,
        node: row.node ?? null,
        zone: row.zone ?? null,
        replicaSet: row.replicaSet ?? null,
        verdict: row.verdict,
        odd: row.odd,
        ...(row.why ? { why: row.why } : {}),
        headline: finding?.headline ?? byPod.get(row.pod)?.skipped ?? row.figure,
        figure: row.figure,
        facts: finding?.facts ?? {},
        steps: (finding?.steps ?? []).map((s) => ({ argv: s.argv, exitCode: s.exitCode, output: s.output })),
      };
    }),
    summary: comparison.summary,
    ...(comparison.group ? { group: comparison.group } : {}),
  });
}

export function comparisonText(comparison: FanoutComparison, sample: string, outputs: readonly PodOutput[]): string {
  const mark = exitCodeForComparison(comparison) === 0 ? '✔' : comparison.summary.bad > 0 ? '✘' : '⚠';
  const reasons = comparison.rows.filter((r) => r.odd && r.why).map((r) => `  ${r.pod}: ${r.why}`);
  return [`${mark} ${comparison.headline}`, `  (${sample})`, '', comparisonTable(comparison.rows), ...(reasons.length ? ['', ...reasons] : []), '', allOutputs(outputs), ''].join(
    '\n',
  );
}
