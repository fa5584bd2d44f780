// Finds the pod a request targets: a pod by name, or a running pod of a deployment,
// statefulset or daemonset, with messages that say what exists when the name is wrong.
import type { AppsV1Api, CoreV1Api, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { Target, TargetKind } from '../core/target.js';
import { UserFacingError } from '../core/errors.js';
import { explainApiError, statusOf } from './errors.js';

export interface ResolvedTarget {
  pod: V1Pod;
  /** Set when a workload was resolved: which pod was picked and out of how many. */
  pickedFrom?: string;
}

/** Turn a workload's label selector into the query string the API takes. */
export function selectorToString(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const expr of selector?.matchExpressions ?? []) {
    const values = (expr.values ?? []).join(',');
    if (expr.operator === 'In') parts.push(`${expr.key} in (${values})`);
    else if (expr.operator === 'NotIn') parts.push(`${expr.key} notin (${values})`);
    else if (expr.operator === 'Exists') parts.push(expr.key);
    else if (expr.operator === 'DoesNotExist') parts.push(`!${expr.key}`);
  }
  return parts.join(',');
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Why a pod is not usable, in the words `kubectl get pods` would use. */
function podState(pod: V1Pod): string {
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  return waiting ? `${pod.status?.phase ?? 'Unknown'} (${waiting})` : (pod.status?.phase ?? 'Unknown');
}

/** Names in `names` that look like `wanted`: same stem, or one contains the other. */
export function similarNames(wanted: string, names: string[], limit = 5): string[] {
  const stem = wanted.split(/[-.]/)[0] ?? wanted;
  return names.filter((n) => n.includes(wanted) || wanted.includes(n) || n.startsWith(stem)).slice(0, limit);
}

async function podNotFound(core: CoreV1Api, namespace: string, name: string): Promise<UserFacingError> {
  let hint = '';
  try {
    const pods = await core.listNamespacedPod({ namespace, limit: 500 });
    const names = pods.items.map((p) => p.metadata?.name ?? '').filter(Boolean);
    const similar = similarNames(name, names);
    if (similar.length) hint = ` Similar pods there: ${similar.join(', ')}.`;
    else if (names.length === 0) hint = ` Namespace ${namespace} has no pods: is -n right?`;
  } catch {
    // The suggestion is a courtesy; without list permission we just skip it.
  }
  return new UserFacingError(`Pod ${name} not found in namespace ${namespace}.${hint}`, 'not-found');
}

async function readWorkloadSelector(apps: AppsV1Api, kind: Exclude<TargetKind, 'pod'>, namespace: string, name: string) {
  const read = {
    deployment: () => apps.readNamespacedDeployment({ name, namespace }),
    statefulset: () => apps.readNamespacedStatefulSet({ name, namespace }),
    daemonset: () => apps.readNamespacedDaemonSet({ name, namespace }),
  }[kind];
  try {
    const workload = await read();
    return workload.spec?.selector;
  } catch (err) {
    if (statusOf(err)?.code === 404) {
      throw new UserFacingError(`${kind} ${name} not found in namespace ${namespace}. Check the name with \`kubectl get ${kind} -n ${namespace}\`.`, 'not-found');
    }
    throw explainApiError(err, { action: `read ${kind} ${name}`, namespace });
  }
}

export async function resolveTarget(core: CoreV1Api, apps: AppsV1Api, namespace: string, target: Target): Promise<ResolvedTarget> {
  if (target.kind === 'pod') {
    let pod: V1Pod;
    try {
      pod = await core.readNamespacedPod({ name: target.name, namespace });
    } catch (err) {
      if (statusOf(err)?.code === 404) throw await podNotFound(core, namespace, target.name);
      throw explainApiError(err, { action: `read pod ${target.name}`, namespace });
    }
    if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) {
      throw new UserFacingError(
        `Pod ${target.name} in ${namespace} is ${podState(pod)}, not Running: a debug container can only join a running pod. See \`kubectl describe pod ${target.name} -n ${namespace}\`.`,
        'not-running',
      );
    }
    return { pod };
  }

  const selector = await readWorkloadSelector(apps, target.kind, namespace, target.name);
  const labelSelector = selectorToString(selector);
  if (!labelSelector) throw new UserFacingError(`${target.kind} ${target.name} has an empty selector; name a pod instead.`, 'invalid-target');
  let pods: V1Pod[];
  try {
    pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
  } catch (err) {
    throw explainApiError(err, { action: `list the pods of ${target.kind} ${target.name}`, namespace });
  }
  const running = pods
    .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)
    // Ready pods first, then by name, so the same state always picks the same pod.
    .sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const picked = running[0];
  if (!picked) {
    const states = pods.slice(0, 5).map((p) => `${p.metadata?.name} ${podState(p)}`);
    throw new UserFacingError(
      `${target.kind} ${target.name} in ${namespace} has no running pod${pods.length ? ` (${states.join(', ')})` : ' (no pods match its selector)'}.`,
      'not-running',
    );
  }
  return {
    pod: picked,
    pickedFrom: `${target.kind}/${target.name}: picked pod ${picked.metadata?.name} (${running.length} of ${pods.length} running)`,
  };
}
