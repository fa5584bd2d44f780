// "Did you mean" for a mistyped pod, answered by the bot from the workers' inventory before any job
// is queued. Only when the inventory is fresh, complete, knows the namespace and has a pod close to
// the name: a pod created since the last refresh is never refused for lack of a near miss, and
// `pod/NAME` skips the check altogether.
import type { Inventory } from '../core/inventory.js';
import { inlineCode } from '../core/kube-names.js';
import { suggest } from '../grammar/suggest.js';

export function unknownPodMessage(inventory: Inventory | undefined, namespace: string, pod: string, maxAgeMs: number, now: number): string | undefined {
  if (!inventory || inventory.truncated || now - inventory.at > maxAgeMs) return undefined;
  const pods = inventory.namespaces[namespace]?.pods.map((p) => p.name);
  if (!pods || pods.includes(pod)) return undefined;
  const guess = suggest(pod, pods);
  if (!guess) return undefined;
  const ageSeconds = Math.max(1, Math.round((now - inventory.at) / 1000));
  return `There's no pod ${inlineCode(pod)} in namespace ${inlineCode(namespace)} (as of ${ageSeconds} s ago). Did you mean ${inlineCode(guess)}? If the pod is newer than that, run it as ${inlineCode(`pod/${pod}`)}.`;
}
