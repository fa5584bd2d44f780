// What a request points at: a pod, a workload whose pod is picked at run time, or (with `--all`)
// every pod of a workload or of a label selector.

export const TARGET_KINDS = ['pod', 'deployment', 'statefulset', 'daemonset', 'selector'] as const;

export type TargetKind = (typeof TARGET_KINDS)[number];

/** The kinds that stand for many pods: `--all` runs on each of them. */
export type WorkloadKind = Exclude<TargetKind, 'pod' | 'selector'>;

export interface Target {
  kind: TargetKind;
  /** The pod's or workload's name; for a selector, the label selector (`app=web,tier!=db`). */
  name: string;
}

/** `web-7f9c` for a pod, `deployment/web` for a workload, `-l app=web` for a selector. */
export function describeTarget(target: Target): string {
  if (target.kind === 'pod') return target.name;
  if (target.kind === 'selector') return `-l ${target.name}`;
  return `${target.kind}/${target.name}`;
}
