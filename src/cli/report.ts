// How `kdebug run` prints a finding: a readable report for people, or one JSON object for scripts.
import { verdictClass } from '../checks/index.js';
import type { Finding } from '../checks/types.js';
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
