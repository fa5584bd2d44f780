// What the cluster holds, in brief: namespaces, workloads and pods (with node and phase). Workers
// read it from the cluster and keep it in Redis; the bot, which never talks to Kubernetes, answers
// the command builder's options and "did you mean" from it.

export interface InventoryPod {
  name: string;
  node?: string;
  phase: string;
}

export interface Inventory {
  /** Epoch ms when it was read. */
  at: number;
  /** The cluster had more pods than were read (the list was cut at inventory.maxPods). */
  truncated: boolean;
  namespaces: Record<
    string,
    {
      /** `deployment/web`, `statefulset/db`, `daemonset/agent`, by name. */
      workloads: string[];
      pods: InventoryPod[];
    }
  >;
}
