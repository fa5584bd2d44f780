// `--all`: a check's steps in every running pod of a workload or label selector, each pod in its
// own debug container, a few pods at a time. A pod that cannot be checked (not running, over its
// container budget, refused by Pod Security, its turn past the deadline) becomes a row with the
// reason, never a failure of the whole request. The worker and `kdebug run` share it.
import { pickSpread } from '../checks/fanout/spread.js';
import { compareFanout, type FanoutComparison, type FanoutInput, type FanoutPod } from '../checks/fanout/compare.js';
import type { AnyCheck } from '../checks/index.js';
import type { CheckContext } from '../checks/types.js';
import { UserFacingError } from '../core/errors.js';
import { firstLine } from '../core/text.js';
import { describeTarget, type Target } from '../core/target.js';
import type { KubeClients } from '../kube/client.js';
import { explainApiError } from '../kube/errors.js';
import { isRunning, podState, replicaSetOf, targetPods } from '../kube/target.js';
import type { ArtifactRequest } from './decoded-log.js';
import { runInListedPod, type PodRunResult, type PodStepsRun } from './pod.js';

export interface FanoutRun extends Omit<PodStepsRun, 'output' | 'onProgress'> {
  target: Target;
  /** The most pods to check (config fanout.maxPods); past it, a sample spread over nodes and zones. */
  maxPods: number;
  /** The most pods checked at the same time (config fanout.maxParallel). */
  maxParallel: number;
  /**
   * Where a pod's artifact goes, for a check with an output decoder (capture): `pods` is how many
   * pods are checked, so that their artifacts together keep within the one budget of a request.
   */
  outputFor?: (pod: string, pods: number) => ArtifactRequest | undefined;
  /** A pod's debug container's progress ("added debug container …"). */
  onContainerStatus?: (pod: string, status: string) => void;
  /** "3/6 pods done" as pods finish. */
  onProgress?: (status: string) => void;
}

export interface FanoutPodOutcome extends FanoutPod {
  result?: PodRunResult;
  /** Why the pod was not checked, short enough for a table cell ("over its container budget"). */
  skipped?: string;
  /** The whole message behind `skipped`, for the attached output. */
  detail?: string;
}

export interface FanoutOutcome {
  /** Every pod checked or skipped, by name (pods left out of a sample are not listed). */
  pods: FanoutPodOutcome[];
  /** Of the running pods: "all 6 pods" or "10 of 42 pods, one per node first". */
  sample: string;
  /** Set when nodes' zones could not be read. */
  zonesProblem?: string;
}

/** A failure's few words for the table; the full message goes with the pod's output. */
function shortReason(err: UserFacingError): string {
  switch (err.kind) {
    case 'budget':
      return 'over its container budget';
    case 'pod-security':
      return 'refused by Pod Security';
    case 'deadline':
      return 'no result before the deadline';
    case 'not-running':
      return 'not running';
    default:
      return firstLine(err.message).slice(0, 60);
  }
}

export async function runOnAllPods(kube: KubeClients, run: FanoutRun): Promise<FanoutOutcome> {
  const listed = await targetPods(kube.core, kube.apps, run.namespace, run.target).catch((err: unknown) => {
    throw explainApiError(err, { action: `list the pods of ${describeTarget(run.target)}`, namespace: run.namespace, apiServer: kube.server });
  });
  const { zones, problem } = await kube.nodeZones.of(listed.flatMap((p) => (p.spec?.nodeName ? [p.spec.nodeName] : [])));
  const placed = listed.map((pod) => {
    const node = pod.spec?.nodeName;
    const zone = node ? zones.get(node) : undefined;
    const replicaSet = replicaSetOf(pod);
    return { name: pod.metadata!.name!, pod, place: { pod: pod.metadata!.name!, ...(node ? { node } : {}), ...(zone ? { zone } : {}), ...(replicaSet ? { replicaSet } : {}) } };
  });
  const notRunning: FanoutPodOutcome[] = placed
    .filter((p) => !isRunning(p.pod))
    .map((p) => ({
      ...p.place,
      // The phase fits a table cell; the container's reason goes with the pod's output.
      skipped: `not running (${p.pod.metadata?.deletionTimestamp ? 'Terminating' : (p.pod.status?.phase ?? 'Unknown')})`,
      detail: `Pod ${p.name} is ${podState(p.pod)}: a debug container can only join a running pod.`,
    }));
  const running = placed.filter((p) => isRunning(p.pod)).map((p) => ({ ...p, node: p.place.node, zone: p.place.zone }));
  const { picked, description } = pickSpread(running, run.maxPods);

  let done = 0;
  const checkOne = async ({ pod, place }: (typeof picked)[number]): Promise<FanoutPodOutcome> => {
    // Cancelled or shutting down: no more containers (each one stays in its pod for good).
    run.signal?.throwIfAborted();
    const output = run.outputFor?.(place.pod, picked.length);
    try {
      const onProgress = (status: string) => run.onContainerStatus?.(place.pod, status);
      const result = await runInListedPod(kube, { ...run, onProgress, ...(output ? { output } : {}) }, pod);
      return { ...place, result };
    } catch (err) {
      // Shutting down or cancelled: the whole job stops, not just this pod.
      if (run.signal?.aborted) throw err;
      const failure = err instanceof UserFacingError ? err : explainApiError(err, { action: `run the check in pod ${place.pod}`, namespace: run.namespace });
      return { ...place, skipped: shortReason(failure), detail: failure.message };
    } finally {
      done += 1;
      run.onProgress?.(`${done}/${picked.length} pods done`);
    }
  };
  const checked = await inParallel(picked, run.maxParallel, checkOne);
  const pods = [...checked, ...notRunning].sort((a, b) => a.pod.localeCompare(b.pod));
  return { pods, sample: description, ...(problem ? { zonesProblem: problem } : {}) };
}

/** A pod's finding (or why it was not checked, in full) beside its place. */
export type ComparedPod = FanoutInput & { added?: boolean };

/** Each checked pod's output interpreted, and all of them compared. */
export function compareAllPods(check: AnyCheck, args: unknown, outcome: FanoutOutcome, context: () => CheckContext): { comparison: FanoutComparison; pods: ComparedPod[] } {
  const inputs: FanoutInput[] = outcome.pods.map(({ result, detail: _detail, ...pod }) => (result ? { ...pod, finding: check.interpret(args, result.results, context()) } : pod));
  const comparison = compareFanout(check, inputs);
  // The table takes the short reason; the pod's own section of the output, the whole message.
  const pods = inputs.map((input, i) => {
    const { result, detail } = outcome.pods[i]!;
    return { ...input, ...(detail ? { skipped: detail } : {}), ...(result ? { added: result.added } : {}) };
  });
  return { comparison, pods };
}

/**
 * `fn` over `items`, at most `limit` at a time, results in the items' order. When one throws, the
 * others take no new item and are waited for, then the first error is thrown: nothing runs on
 * after the call has returned.
 */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const rejected = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}
