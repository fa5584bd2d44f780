// A spread sample of a large workload, for `--all` with more pods than it runs at once.
import { plural } from '../../core/text.js';

export interface SpreadPod {
  name: string;
  node?: string;
  zone?: string;
}

/**
 * At most `cap` pods, spread over the nodes: one per node first (round-robin over the nodes, with
 * consecutive nodes in different zones where possible), then a second per node, and so on. A sample
 * that covers the most nodes and zones is the one most likely to show a node's or a zone's fault.
 * Deterministic: nodes, zones and pods go by name. The picked pods come back sorted by name.
 */
export function pickSpread<T extends SpreadPod>(pods: readonly T[], cap: number): { picked: T[]; description: string } {
  const sorted = [...pods].sort((a, b) => a.name.localeCompare(b.name));
  if (sorted.length <= cap) return { picked: sorted, description: `all ${plural(sorted.length, 'pod')}` };

  const byNode = new Map<string, T[]>();
  for (const pod of sorted) byNode.set(pod.node ?? '', [...(byNode.get(pod.node ?? '') ?? []), pod]);
  const byZone = new Map<string, T[][]>();
  for (const [, nodePods] of [...byNode].sort(([a], [b]) => a.localeCompare(b))) {
    const zone = nodePods[0]?.zone ?? '';
    byZone.set(zone, [...(byZone.get(zone) ?? []), nodePods]);
  }
  // The zones' nodes interleaved: first node of each zone, then the second of each, ...
  const zones = [...byZone].sort(([a], [b]) => a.localeCompare(b)).map(([, nodes]) => nodes);
  const depth = Math.max(...zones.map((zone) => zone.length));
  const nodes = Array.from({ length: depth }, (_, i) => zones.flatMap((zone) => (zone[i] ? [zone[i]] : []))).flat();

  const picked: T[] = [];
  for (let round = 0; picked.length < cap; round++) {
    for (const nodePods of nodes) {
      const pod = nodePods[round];
      if (pod && picked.length < cap) picked.push(pod);
    }
  }
  return { picked: picked.sort((a, b) => a.name.localeCompare(b.name)), description: `${picked.length} of ${plural(sorted.length, 'pod')}, one per node first` };
}
