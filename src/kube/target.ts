// Finds the pods a request targets: a pod by name, a running pod of a deployment, statefulset or
// daemonset, or (for `--all`) every pod of a workload or label selector, with messages that say
// what exists when the name is wrong.
import type { AppsV1Api, CoreV1Api, V1LabelSelector, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import { describeTarget, type Target, type WorkloadKind } from '../core/target.js';
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

/** A pod a debug container can join: Running and not being deleted. */
export function isRunning(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;
}

/** Why a pod is not usable, in the words `kubectl get pods` would use. */
export function podState(pod: V1Pod): string {
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

async function readWorkload(apps: AppsV1Api, kind: WorkloadKind, namespace: string, name: string): Promise<{ metadata?: V1ObjectMeta; spec?: { selector?: V1LabelSelector } }> {
  const read = {
    deployment: () => apps.readNamespacedDeployment({ name, namespace }),
    statefulset: () => apps.readNamespacedStatefulSet({ name, namespace }),
    daemonset: () => apps.readNamespacedDaemonSet({ name, namespace }),
  }[kind];
  try {
    return await read();
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

  const pods = await podsOf(core, apps, namespace, target);
  const running = pods
    .filter(isRunning)
    // Ready pods first, then by name, so the same state always picks the same pod.
    .sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const picked = running[0];
  if (!picked) throw noRunningPod(namespace, target, pods);
  return {
    pod: picked,
    pickedFrom: `${describeTarget(target)}: picked pod ${picked.metadata?.name} (${running.length} of ${pods.length} running)`,
  };
}

function noRunningPod(namespace: string, target: Target, pods: V1Pod[]): UserFacingError {
  const states = pods.slice(0, 5).map((p) => `${p.metadata?.name} ${podState(p)}`);
  const none = target.kind === 'selector' ? ' (no pods match it)' : ' (no pods match its selector)';
  const what = target.kind === 'selector' ? `Label selector ${target.name}` : `${target.kind} ${target.name}`;
  return new UserFacingError(`${what} in ${namespace} has no running pod${pods.length ? ` (${states.join(', ')})` : none}.`, 'not-running');
}

/**
 * Every pod of a workload (its selector's pods, less those another controller owns: a Deployment's
 * pods belong to its ReplicaSets `<name>-<hash>`) or of a label selector, in any phase, by name.
 */
export async function podsOf(core: CoreV1Api, apps: AppsV1Api, namespace: string, target: Target): Promise<V1Pod[]> {
  if (target.kind === 'pod') throw new Error('podsOf takes a workload or a selector');
  let labelSelector = target.name;
  let owns: (pod: V1Pod) => boolean = () => true;
  if (target.kind !== 'selector') {
    const workload = await readWorkload(apps, target.kind, namespace, target.name);
    labelSelector = selectorToString(workload.spec?.selector);
    if (!labelSelector) throw new UserFacingError(`${target.kind} ${target.name} has an empty selector; name a pod instead.`, 'invalid-target');
    owns = (pod) => {
      const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
      // A pod nobody controls but the selector matches is counted, as `kubectl get pods -l` would.
      if (!owner) return true;
      // A Deployment's ReplicaSet is named <deployment>-<pod-template-hash>, the hash its pods carry as
      // a label: so web's pods are told from web-canary's, whose selector may match them too.
      if (target.kind === 'deployment') return owner.kind === 'ReplicaSet' && owner.name === `${target.name}-${pod.metadata?.labels?.['pod-template-hash']}`;
      return owner.uid === workload.metadata?.uid || (owner.kind.toLowerCase() === target.kind && owner.name === target.name);
    };
  }
  let pods: V1Pod[];
  try {
    pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
  } catch (err) {
    throw explainApiError(err, { action: `list the pods of ${describeTarget(target)}`, namespace });
  }
  return pods.filter(owns).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** The ReplicaSet that controls a pod, if any: what a rollout's failing pods have in common. */
export function replicaSetOf(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'ReplicaSet');
  return owner?.name;
}

/** For `--all`: the target's pods, or a message when there are none at all. */
export async function targetPods(core: CoreV1Api, apps: AppsV1Api, namespace: string, target: Target): Promise<V1Pod[]> {
  const pods = await podsOf(core, apps, namespace, target);
  if (!pods.some(isRunning)) throw noRunningPod(namespace, target, pods);
  return pods;
}
