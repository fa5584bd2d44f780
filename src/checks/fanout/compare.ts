// `--all`: one check on every pod of a workload, answered as ONE comparison. This is the pure part:
// the pods' findings in; a table with the odd ones first, and a headline that states the pattern
// ("2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7") out. Finding the pods, running the
// check on them and rendering the answer happen elsewhere; each check declares what to compare
// (CheckDefinition.fanout).
//
// Who is odd. The reference is the most common (verdict, sameness) pair among the pods of the
// healthiest verdict class present, so a failing pod is never the norm the others are measured
// against: failures stand out even when most pods fail ("4 of 6 pods time out"). A tie in count
// goes to the less severe verdict (3 ok and 3 nxdomain: the 3 nxdomain are odd). A tie between two
// values of the same verdict (3 pods answer one address, 3 another) leaves no reference: the
// headline says the pods disagree, and neither side is marked odd. A pod is odd when its verdict
// or its sameness differs from the reference's, or when it is a reference pod whose latency is
// above max(3 × median, median + 200 ms) of the reference pods.
//
// The pattern. Odd pods that all share a node, else a zone, else a ReplicaSet, which no other
// checked pod has, are named as a group: the smallest explanation first, and only one that explains
// every odd pod. One odd pod is no pattern.
import { formatLatency } from '../../core/duration.js';
import { clip, firstLine } from '../../core/text.js';
import type { CheckDefinition, Finding, Sameness, VerdictClass, VerdictSpec } from '../types.js';
import { FIGURE_MAX } from './facts.js';
import { groupBy, headlineOf, reasonOf, says, valueOf } from './headline.js';

/** Where a pod runs: what the odd ones may have in common. */
export interface FanoutPod {
  pod: string;
  node?: string;
  zone?: string;
  replicaSet?: string;
}

/** One pod's outcome: its Finding, or why it was not checked (over budget, not running, refused by Pod Security). */
export interface FanoutInput extends FanoutPod {
  finding?: Finding;
  skipped?: string;
}

export interface FanoutRow extends FanoutPod {
  /** The pod's verdict, or "skipped". */
  verdict: string;
  /** Absent for a skipped pod. */
  class?: VerdictClass;
  /** The check's key figure, or why the pod was skipped. */
  figure: string;
  odd: boolean;
  /** Why it stands out (its own headline, "answers 10.0.0.9, not 10.0.0.7", "950 ms, median 12 ms"); when the pods disagree, the side it is on. */
  why?: string;
}

export type GroupBy = 'node' | 'zone' | 'replicaSet';

/** What all the odd pods, and no other checked pod, have in common. */
export interface FanoutGroup {
  by: GroupBy;
  value: string;
  pods: string[];
}

export interface FanoutSummary {
  pods: number;
  good: number;
  warning: number;
  bad: number;
  skipped: number;
  /** Checked pods by verdict, worst first. */
  byVerdict: Record<string, number>;
}

export interface FanoutComparison {
  headline: string;
  summary: FanoutSummary;
  /** The odd ones first (worst first), then the others, then the skipped; by pod name within each. */
  rows: FanoutRow[];
  group?: FanoutGroup;
}

/** A verdict the check does not declare is bad, the mildest bad (as verdictClass and triage have it). */
const UNDECLARED: VerdictSpec = { class: 'bad', severity: 50 };
const CLASS_ORDER: Readonly<Record<VerdictClass, number>> = { good: 0, warning: 1, bad: 2 };
const GROUP_ORDER: readonly GroupBy[] = ['node', 'zone', 'replicaSet'];

/** Why a pod is odd. */
export type Reason = 'verdict' | 'sameness' | 'latency';

/** A checked pod, with what its check's traits read from its finding. */
export interface Checked {
  input: FanoutInput;
  finding: Finding;
  spec: VerdictSpec;
  /** Verdict and sameness: pods with equal keys agree. */
  key: string;
  sameness: Sameness | undefined;
  latency: number | undefined;
  figure: string;
  odd?: Reason;
  why?: string;
}

/** The comparison of one check's findings on many pods; see the top of this file for the rules. */
export function compareFanout(check: Pick<CheckDefinition, 'verdicts' | 'fanout'>, inputs: readonly FanoutInput[]): FanoutComparison {
  const sorted = [...inputs].sort((a, b) => a.pod.localeCompare(b.pod));
  const checked = sorted.flatMap((input) => (input.finding && input.skipped === undefined ? [read(check, input, input.finding)] : []));
  const skipped = sorted.filter((input) => !input.finding || input.skipped !== undefined);

  const sides = referenceOf(checked);
  const median = markOdd(checked, sides);
  const odd = checked.filter((c) => c.odd);
  const group = explain(odd, checked);

  const rank = (c: Checked) => (c.odd ? 0 : 1);
  const rows: FanoutRow[] = [
    ...[...checked].sort((a, b) => rank(a) - rank(b) || b.spec.severity - a.spec.severity || a.input.pod.localeCompare(b.input.pod)).map(rowOf),
    ...skipped.map((input) => ({ ...placeOf(input), verdict: 'skipped', figure: clip(reasonOf(input), FIGURE_MAX), odd: false })),
  ];
  const headline = headlineOf({ checked, skipped, sides, odd, median, group });
  return { headline, summary: summaryOf(checked, skipped.length, sorted.length), rows, ...(group ? { group } : {}) };
}

function read(check: Pick<CheckDefinition, 'verdicts' | 'fanout'>, input: FanoutInput, finding: Finding): Checked {
  const traits = check.fanout;
  const sameness = traits?.sameness?.(finding);
  return {
    input,
    finding,
    spec: check.verdicts[finding.verdict] ?? UNDECLARED,
    key: `${finding.verdict}\n${sameness?.key ?? ''}`,
    sameness,
    latency: traits?.latencyMs?.(finding),
    figure: clip(traits?.figure(finding) ?? finding.verdict, FIGURE_MAX),
  };
}

/**
 * The reference pods, as groups of equal key: one group, or several when the pods disagree (a tie
 * in count and severity). Empty when no pod was checked.
 */
function referenceOf(checked: Checked[]): Checked[][] {
  const best = Math.min(...checked.map((c) => CLASS_ORDER[c.spec.class]));
  const ranked = groupBy(
    checked.filter((c) => CLASS_ORDER[c.spec.class] === best),
    (c) => c.key,
  ).sort((a, b) => b.length - a.length || a[0]!.spec.severity - b[0]!.spec.severity);
  const top = ranked[0];
  if (!top) return [];
  return ranked.filter((g) => g.length === top.length && g[0]!.spec.severity === top[0]!.spec.severity);
}

/** Marks the odd pods, with why; returns the reference pods' median latency, if they have one. */
function markOdd(checked: Checked[], sides: Checked[][]): number | undefined {
  const reference = sides[0]?.[0];
  if (!reference) return undefined;
  const keys = new Set(sides.map((side) => side[0]!.key));
  const disagree = sides.length > 1;
  for (const c of checked) {
    if (keys.has(c.key)) {
      if (disagree) c.why = says(c);
    } else if (c.finding.verdict !== reference.finding.verdict) {
      c.odd = 'verdict';
      c.why = firstLine(c.finding.headline);
    } else {
      c.odd = 'sameness';
      c.why = disagree ? says(c) : `${says(c)}, not ${valueOf(reference)}`;
    }
  }

  const members = sides.flat();
  const latencies = members.flatMap((c) => (c.latency !== undefined ? [c.latency] : []));
  if (latencies.length === 0) return undefined;
  const median = medianOf(latencies);
  const limit = Math.max(3 * median, median + 200);
  for (const c of members) {
    if (c.latency !== undefined && c.latency > limit) {
      c.odd = 'latency';
      c.why = `${formatLatency(c.latency)}, median ${formatLatency(median)}`;
    }
  }
  return median;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The node, zone or ReplicaSet that every odd pod and no other checked pod has; node first. */
function explain(odd: Checked[], checked: Checked[]): FanoutGroup | undefined {
  const first = odd[0];
  if (!first || odd.length < 2) return undefined;
  for (const by of GROUP_ORDER) {
    const value = first.input[by];
    if (!value) continue;
    const holders = checked.filter((c) => c.input[by] === value);
    if (holders.length === odd.length && holders.every((c) => c.odd)) return { by, value, pods: odd.map((c) => c.input.pod) };
  }
  return undefined;
}

function placeOf(input: FanoutInput): FanoutPod {
  const { finding: _finding, skipped: _skipped, ...place } = input;
  return place;
}

function rowOf(c: Checked): FanoutRow {
  return { ...placeOf(c.input), verdict: c.finding.verdict, class: c.spec.class, figure: c.figure, odd: c.odd !== undefined, ...(c.why ? { why: c.why } : {}) };
}

function summaryOf(checked: Checked[], skipped: number, pods: number): FanoutSummary {
  const count = (kind: VerdictClass) => checked.filter((c) => c.spec.class === kind).length;
  const byVerdict: Record<string, number> = {};
  for (const c of [...checked].sort((a, b) => b.spec.severity - a.spec.severity || a.finding.verdict.localeCompare(b.finding.verdict))) {
    byVerdict[c.finding.verdict] = (byVerdict[c.finding.verdict] ?? 0) + 1;
  }
  return { pods, good: count('good'), warning: count('warning'), bad: count('bad'), skipped, byVerdict };
}
