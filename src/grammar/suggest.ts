// "Did you mean …?" for mistyped check names, flags and target kinds. Pure and cheap.

/** Largest edit distance we still offer as a suggestion. */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Damerau-Levenshtein distance in its "optimal string alignment" form: insertions, deletions,
 * substitutions and transpositions of two adjacent characters each cost 1. That covers the typos
 * people make (`dsn` → `dns`, `--sever` → `--server`) without the full algorithm's extra table.
 */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  // rows[i][j] = distance between the first i chars of x and the first j chars of y.
  const rows: number[][] = [];
  for (let i = 0; i <= x.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= y.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[x.length]![y.length]!;
}

/**
 * The candidate the user most likely meant, or undefined when nothing is close or it is ambiguous.
 * Case-insensitive. The closest candidate within distance 2 wins if it is the only one that close;
 * otherwise a candidate that the input uniquely abbreviates (`stat` → `statefulset`).
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const wanted = input.toLowerCase();
  if (wanted === '') return undefined;
  const unique = [...new Set(candidates)];

  let best: string[] = [];
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of unique) {
    const lower = candidate.toLowerCase();
    // The distance is at least the length difference: skip the table for hopeless pairs, which
    // also keeps huge garbage input cheap.
    if (Math.abs(lower.length - wanted.length) > MAX_SUGGESTION_DISTANCE) continue;
    const d = editDistance(wanted, lower);
    if (d > MAX_SUGGESTION_DISTANCE) continue;
    if (d < bestDistance) {
      best = [candidate];
      bestDistance = d;
    } else if (d === bestDistance) {
      best.push(candidate);
    }
  }
  if (best.length === 1) return best[0];

  const prefixed = unique.filter((c) => c.toLowerCase().startsWith(wanted));
  if (prefixed.length === 1) return prefixed[0];
  return undefined;
}
