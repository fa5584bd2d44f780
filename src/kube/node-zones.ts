// The zone of each node (its topology.kubernetes.io/zone label), for `--all`'s table and for
// finding what failing pods have in common. Reading a node needs `get` on nodes; without it, or
// when a node is gone, its zone is simply unknown: a comparison without zones is still useful.
import type { CoreV1Api } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import { statusOf } from './errors.js';

const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];

/** Nodes read at the same time. */
const READS_AT_ONCE = 10;
/** A node's zone rarely changes: read each node once per 10 minutes at most. */
const TTL_MS = 10 * 60_000;

export interface NodeZoneLookup {
  zones: Map<string, string | undefined>;
  /** Set when some zones could not be read, saying why (e.g. the worker may not get nodes). */
  problem?: string;
}

export class NodeZones {
  // The empty string stands for "no zone label", so a node without one is not read again and again.
  private readonly cache = new LRUCache<string, string>({ max: 5000, ttl: TTL_MS });

  constructor(private readonly core: CoreV1Api) {}

  async of(nodeNames: Iterable<string>): Promise<NodeZoneLookup> {
    const zones = new Map<string, string | undefined>();
    let problem: string | undefined;
    const names = [...new Set(nodeNames)];
    // A few reads at a time: a DaemonSet's pods can sit on hundreds of nodes.
    for (let i = 0; i < names.length; i += READS_AT_ONCE)
      await Promise.all(
        names.slice(i, i + READS_AT_ONCE).map(async (name) => {
          let zone = this.cache.get(name);
          if (zone === undefined) {
            try {
              const node = await this.core.readNode({ name });
              const labels = node.metadata?.labels ?? {};
              zone = ZONE_LABELS.map((l) => labels[l]).find(Boolean) ?? '';
              this.cache.set(name, zone);
            } catch (err) {
              const code = statusOf(err)?.code;
              problem ??= code === 403 ? 'zones unknown: the worker may not get nodes (RBAC)' : `zones unknown for some nodes (${code ?? (err as Error).message})`;
            }
          }
          zones.set(name, zone || undefined);
        }),
      );
    return problem ? { zones, problem } : { zones };
  }
}
