// What a request points at: a pod, or a workload whose pod is picked at run time.

export const TARGET_KINDS = ['pod', 'deployment', 'statefulset', 'daemonset'] as const;

export type TargetKind = (typeof TARGET_KINDS)[number];

export interface Target {
  kind: TargetKind;
  name: string;
}

/** `web-7f9c` for a pod, `deployment/web` for a workload. */
export function describeTarget(target: Target): string {
  return target.kind === 'pod' ? target.name : `${target.kind}/${target.name}`;
}
