// Reads the inventory (src/core/inventory.ts) from the cluster: one list of pods across namespaces,
// the workloads taken from the pods' owners (a ReplicaSet <deployment>-<pod-template-hash> stands
// for its Deployment). One paged list every refresh is bounded and needs no permission beyond the
// `list pods` the worker already has; a cluster-wide watch would hold every pod in memory.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { Inventory } from '../core/inventory.js';

function workloadOf(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  if (!owner) return undefined;
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    return hash && owner.name.endsWith(`-${hash}`) ? `deployment/${owner.name.slice(0, -hash.length - 1)}` : undefined;
  }
  if (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet') return `${owner.kind.toLowerCase()}/${owner.name}`;
  return undefined;
}

/** The inventory of these pods (pure: the tests feed it pods directly). */
export function inventoryOf(pods: readonly V1Pod[], truncated: boolean, at: number): Inventory {
  const namespaces: Inventory['namespaces'] = {};
  for (const pod of pods) {
    const ns = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!ns || !name) continue;
    const entry = (namespaces[ns] ??= { workloads: [], pods: [] });
    const workload = workloadOf(pod);
    if (workload && !entry.workloads.includes(workload)) entry.workloads.push(workload);
    entry.pods.push({
      name,
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown'),
    });
  }
  for (const entry of Object.values(namespaces)) {
    entry.workloads.sort();
    entry.pods.sort((a, b) => a.name.localeCompare(b.name));
  }
  return { at, truncated, namespaces };
}

/** Every pod of the cluster, up to `maxPods`, in pages of 500. */
export async function readInventory(core: CoreV1Api, maxPods: number, now: () => number = Date.now): Promise<Inventory> {
  const pods: V1Pod[] = [];
  let next: string | undefined;
  do {
    const page = await core.listPodForAllNamespaces({ limit: Math.min(500, maxPods - pods.length), ...(next ? { _continue: next } : {}) });
    // Only what the inventory reads is kept from each page (a whole pod is 10-20 kB).
    pods.push(
      ...page.items.map((p) => ({
        metadata: {
          name: p.metadata?.name,
          namespace: p.metadata?.namespace,
          ownerReferences: p.metadata?.ownerReferences,
          labels: p.metadata?.labels,
          deletionTimestamp: p.metadata?.deletionTimestamp,
        },
        spec: { nodeName: p.spec?.nodeName, containers: [] },
        status: { phase: p.status?.phase },
      })),
    );
    next = page.metadata?._continue || undefined;
  } while (next && pods.length < maxPods);
  return inventoryOf(pods, next !== undefined, now());
}
