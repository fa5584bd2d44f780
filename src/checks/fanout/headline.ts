// How a comparison is said: the headline, from the pods compare.ts marked odd, and the words its
// rows share with it.
import { formatLatency } from '../../core/duration.js';
import { plural } from '../../core/text.js';
import type { VerdictSpec } from '../types.js';
import type { Checked, FanoutGroup, FanoutInput, Reason } from './compare.js';

/** Pod names listed in a headline before "and N more". */
const NAMES_SHOWN = 3;

/** What pods with this verdict do: "ok", "time out", "fails (nxdomain)", "warn (packet-loss)". */
function does(verdict: string, spec: VerdictSpec, pods: number): string {
  const one = pods === 1;
  if (spec.class === 'good') return verdict;
  if (verdict === 'timeout') return one ? 'times out' : 'time out';
  const verb = spec.class === 'bad' ? (one ? 'fails' : 'fail') : one ? 'warns' : 'warn';
  return `${verb} (${verdict})`;
}

/** "web-1", "web-1 and web-2", "web-1, web-2 and web-3", "web-1, web-2, web-3 and 2 more". */
function names(items: string[]): string {
  if (items.length > NAMES_SHOWN) return `${items.slice(0, NAMES_SHOWN).join(', ')} and ${items.length - NAMES_SHOWN} more`;
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** A pod's sameness value, for "the others 10.0.0.7". */
export function valueOf(c: Checked): string {
  return c.sameness?.value ?? 'nothing to compare';
}

/** What a pod has, as said after its name: "answers 10.0.0.9". */
export function says(c: Checked): string {
  return c.sameness ? `${c.sameness.verb} ${c.sameness.value}` : 'has nothing to compare';
}

/** The pods in groups of equal `keyOf`, each group where its first pod comes. */
export function groupBy(list: Checked[], keyOf: (c: Checked) => string): Checked[][] {
  const groups = new Map<string, Checked[]>();
  for (const c of list) groups.set(keyOf(c), [...(groups.get(keyOf(c)) ?? []), c]);
  return [...groups.values()];
}

/** Why a pod was not checked. */
export function reasonOf(input: FanoutInput): string {
  return input.skipped ?? 'no result';
}

interface Outcome {
  checked: Checked[];
  skipped: FanoutInput[];
  sides: Checked[][];
  odd: Checked[];
  median: number | undefined;
  group: FanoutGroup | undefined;
}

export function headlineOf({ checked, skipped, sides, odd, median, group }: Outcome): string {
  const total = checked.length + skipped.length;
  const reference = sides[0]?.[0];
  if (!reference) {
    if (total === 0) return 'no pods to check';
    return total === 1 ? `the pod could not be checked: ${reasonOf(skipped[0]!)}` : `none of ${total} pods could be checked: ${reasons(skipped)}`;
  }
  const n = checked.length;
  const noun = (count: number) => `${skipped.length > 0 ? 'checked ' : ''}${count === 1 ? 'pod' : 'pods'}`;
  const all = n === 1 ? `1 ${noun(1)}` : n === 2 ? `both ${noun(2)}` : `all ${n} ${noun(n)}`;
  const { verdict } = reference.finding;
  const { spec } = reference;

  let text: string;
  if (sides.length > 1) {
    const members = sides.flat().length;
    const side = (pods: Checked[]) => `${valueOf(pods[0]!)} on ${pods.length <= 2 ? names(pods.map((c) => c.input.pod)) : `${pods.length} pods`}`;
    text = `${members === n ? n : `${members} of ${n}`} ${noun(n)} ${does(verdict, spec, members)} but disagree: ${sides.map(side).join(', ')}`;
    if (odd.length > 0) text += `; ${describeOdd(odd, undefined, `${odd.length} of ${n} ${noun(n)}`, median, group)}`;
  } else if (odd.length === 0) {
    text = `${all} ${does(verdict, spec, n)}`;
  } else {
    text = describeOdd(odd, reference, `${odd.length} of ${n} ${noun(n)}`, median, group);
    if (spec.class !== 'good') {
      // The rest fail too: say how, after the odd ones, or before them when they fail the same way.
      const sameVerdict = odd.every((c) => c.odd !== 'verdict');
      text = sameVerdict ? `${all} ${does(verdict, spec, n)}; ${text}` : `${text}; the rest ${does(verdict, spec, n - odd.length)}`;
    }
  }
  return skipped.length > 0 ? `${text}; ${plural(skipped.length, 'pod')} skipped: ${reasons(skipped)}` : text;
}

/** "not running", or "2 not running, 1 over budget": the skip reasons, most common first. */
function reasons(skipped: FanoutInput[]): string {
  const counts = new Map<string, number>();
  for (const input of skipped) counts.set(reasonOf(input), (counts.get(reasonOf(input)) ?? 0) + 1);
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
}

/** "2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7" and the like; `of` is "2 of 6 pods". */
function describeOdd(odd: Checked[], reference: Checked | undefined, of: string, median: number | undefined, group: FanoutGroup | undefined): string {
  const n = odd.length;
  const only = (reason: Reason) => odd.every((c) => c.odd === reason);
  const verdicts = groupBy(
    odd.filter((c) => c.odd === 'verdict').sort((a, b) => b.spec.severity - a.spec.severity),
    (c) => c.finding.verdict,
  ).map((pods) => ({
    verdict: pods[0]!.finding.verdict,
    spec: pods[0]!.spec,
    count: pods.length,
  }));

  let text: string;
  if (only('sameness')) {
    const others = reference ? `, the others ${valueOf(reference)}` : '';
    const detail =
      n === 1
        ? `${odd[0]!.input.pod} ${says(odd[0]!)}`
        : groupBy(odd, (c) => c.key)
            .map((pods) => `${valueOf(pods[0]!)} on ${names(pods.map((c) => c.input.pod))}`)
            .join(', ');
    text = `${of} ${n === 1 ? 'differs' : 'differ'}: ${detail}${others}`;
  } else if (only('latency')) {
    const detail = names(odd.map((c) => `${c.input.pod} (${formatLatency(c.latency ?? 0)})`));
    text = `${of} ${n === 1 ? 'is' : 'are'} slow: ${detail}, the median ${formatLatency(median ?? 0)}`;
  } else if (only('verdict') && verdicts.length === 1) {
    text = `${of} ${does(verdicts[0]!.verdict, verdicts[0]!.spec, n)}`;
  } else if (only('verdict') && odd.every((c) => c.spec.class === 'bad')) {
    text = `${of} fail (${verdicts.map((v) => `${v.count} ${v.verdict}`).join(', ')})`;
  } else {
    const differ = odd.filter((c) => c.odd === 'sameness').length;
    const slow = odd.filter((c) => c.odd === 'latency').length;
    const parts = [
      ...verdicts.map((v) => `${v.count} ${does(v.verdict, v.spec, v.count)}`),
      ...(differ > 0 ? [`${differ} ${differ === 1 ? 'differs' : 'differ'}`] : []),
      ...(slow > 0 ? [`${slow} ${slow === 1 ? 'is' : 'are'} slow`] : []),
    ];
    text = `${of} stand out: ${parts.join(', ')}`;
  }
  if (!group) return text;
  const phrase = groupPhrase(group, odd);
  return `${text}${text.includes(':') ? '; ' : phrase.startsWith('both') ? ', ' : ': '}${phrase}`;
}

/** "both on node X", "every pod in zone X", "all failing pods belong to ReplicaSet X". */
function groupPhrase(group: FanoutGroup, odd: Checked[]): string {
  const two = odd.length === 2;
  if (group.by === 'replicaSet') {
    const who = odd.every((c) => c.spec.class === 'bad') ? 'all failing pods' : two ? 'both' : 'all of them';
    return `${who} belong to ReplicaSet ${group.value}`;
  }
  const where = group.by === 'node' ? `on node ${group.value}` : `in zone ${group.value}`;
  return two ? `both ${where}` : `every pod ${where}`;
}
