// Runs a check's steps in a pod: find the pod, add one debug container that runs the steps in
// sequence, wait for it, and split its log back into step results. The worker and `kdebug run`
// share it. A check with an output decoder (capture) has its log followed and decoded into a file
// while the container runs.
import { unprivilegedCheckNames } from '../checks/index.js';
import type { V1Pod } from '@kubernetes/client-node';
import type { LiveProgress, Step, StepResult } from '../checks/types.js';
import type { Target } from '../core/target.js';
import type { KubeClients } from '../kube/client.js';
import { runDebugContainer } from '../kube/ephemeral.js';
import { LogText } from '../kube/log-text.js';
import { UserFacingError } from '../core/errors.js';
import { explainApiError } from '../kube/errors.js';
import { resolveTarget } from '../kube/target.js';
import { decodeToFile, discardArtifact, keptArtifact, type Artifact, type ArtifactRequest } from './decoded-log.js';
import { markerOf, newMarker, scriptCommand, scriptFinished, splitOutput } from './script.js';

export interface PodRun {
  namespace: string;
  target: Target;
  /** The `-c` container, if the user named one. */
  container?: string;
  containerName: string;
  image: string;
  imagePullPolicy: string;
  capabilities: readonly string[];
  steps: Step[];
  timeoutSeconds: number;
  /** Epoch milliseconds. */
  deadline: number;
  maxLogBytes: number;
  signal?: AbortSignal;
  /** For a check with an output decoder: the decoder, where its artifact goes, the most bytes to keep. */
  output?: ArtifactRequest;
  onProgress?: (status: string) => void;
  /**
   * Live progress of a long check while its container runs, every `everyMs` (capture: packets so
   * far, seconds left): given the seconds since the container started and what the decoder has seen.
   */
  liveProgress?: { everyMs: number; describe: (progress: LiveProgress) => string; report: (line: string) => void };
  /** Told which pod a workload target resolved to, before the container is added. */
  onPodPicked?: (note: string) => Promise<void> | void;
  /**
   * Before a new container is added to the pod: may refuse (throw), e.g. past the pod's budget.
   * Returns a release function called once the container is in the pod's spec or was refused.
   */
  beforeAdd?: (pod: V1Pod) => Promise<() => Promise<void>>;
}

export interface PodRunResult {
  pod: string;
  targetContainer: string;
  containerName: string;
  /** False when a retried job found the container it had added before. */
  added: boolean;
  results: StepResult[];
  /** Set when the deadline passed before the container finished: its state then. */
  deadlineState?: string;
  /** The decoded artifact (run.output), when it holds anything worth attaching. */
  artifact?: Artifact;
}

export async function runInPod(kube: KubeClients, run: PodRun): Promise<PodRunResult> {
  try {
    const resolved = await resolveTarget(kube.core, kube.apps, run.namespace, run.target).catch((err: unknown) => {
      throw explainApiError(err, { action: `find ${run.target.kind} ${run.target.name}`, namespace: run.namespace, apiServer: kube.server });
    });
    if (resolved.pickedFrom) await run.onPodPicked?.(resolved.pickedFrom);
    return await runSteps(kube, run, resolved.pod);
  } catch (err) {
    await discardArtifact(run.output);
    throw err;
  }
}

/** The run without the target: its steps in this pod, as read from the API (its ephemeral containers included). */
export type PodStepsRun = Omit<PodRun, 'target' | 'onPodPicked'>;

/** Runs the steps in a pod already read (for `--all`, which lists the pods first). */
export async function runInListedPod(kube: KubeClients, run: PodStepsRun, pod: V1Pod): Promise<PodRunResult> {
  try {
    return await runSteps(kube, run, pod);
  } catch (err) {
    await discardArtifact(run.output);
    throw err;
  }
}

async function runSteps(kube: KubeClients, run: PodStepsRun, listed: V1Pod): Promise<PodRunResult> {
  const pod = listed.metadata!.name!;
  // A retried job finds the container it added before, and reads its output with that one's marker.
  const earlier = listed.spec?.ephemeralContainers?.find((c) => c.name === run.containerName);
  const isNew = earlier === undefined;
  if (isNew && Date.now() >= run.deadline) {
    // An ephemeral container can never be removed: never add one that has no time left to run.
    throw new UserFacingError(
      `The ${run.timeoutSeconds} s deadline passed before the debug container could be added to pod ${pod}; nothing was added. Retry with a longer --timeout.`,
      'deadline',
    );
  }
  // Cancelled or shutting down while the pod was read: add nothing.
  run.signal?.throwIfAborted();
  const release = isNew && run.beforeAdd ? await run.beforeAdd(listed) : undefined;
  // The pod budget's reservation only bridges the time until the container is in the pod's spec (it
  // then counts itself): released as soon as it is, not on the answer's way; at the end if the add
  // failed or was refused.
  let released: Promise<void> | undefined;
  const releaseOnce = () => (released ??= release?.() ?? Promise.resolve());
  const marker = (earlier?.command && markerOf(earlier.command)) ?? newMarker();
  // Decoded while the log streams, straight into a file: memory stays flat. Any other log is
  // followed as text, and answered from as soon as the last step has printed its end.
  const decoded = run.output ? decodeToFile(run.output) : undefined;
  const followed = decoded ? undefined : new LogText((text) => scriptFinished(text, run.steps, marker));
  // Live progress from when the container runs (an image pull is not counted, and its waiting
  // state is not hidden) until it ends.
  let live: NodeJS.Timeout | undefined;
  const startLive = (status: string) => {
    if (live || !run.liveProgress || status !== 'debug container running') return;
    const { everyMs, describe, report } = run.liveProgress;
    const startedAt = Date.now();
    live = setInterval(() => {
      try {
        report(
          describe({
            elapsedSeconds: (Date.now() - startedAt) / 1000,
            ...(decoded ? { decoded: decoded.progress() } : {}),
            ...(followed ? { output: followed.text } : {}),
          }),
        );
      } catch {
        // Progress is a courtesy: a check that cannot say it never stops the run.
      }
    }, everyMs);
  };
  const running = runDebugContainer(kube, {
    namespace: run.namespace,
    pod: listed,
    containerName: run.containerName,
    container: run.container,
    image: run.image,
    imagePullPolicy: run.imagePullPolicy,
    capabilities: run.capabilities,
    unprivilegedChecks: unprivilegedCheckNames(),
    // The container can never outlive the job: `timeout` kills it at the deadline.
    command: ['timeout', '-s', 'KILL', String(run.timeoutSeconds), ...scriptCommand(run.steps, marker)],
    deadline: run.deadline,
    maxLogBytes: run.maxLogBytes,
    signal: run.signal,
    logSink: decoded,
    logText: followed,
    onInSpec: () => void releaseOnce().catch(() => undefined),
    onProgress: (status) => {
      startLive(status);
      run.onProgress?.(status);
    },
  });
  const result = await running.finally(() => {
    clearInterval(live);
    return releaseOnce();
  });
  const log = decoded ? (decoded.writableFinished ? decoded.result().text : '') : result.log;
  const results = splitOutput(log, run.steps, marker);
  if (result.deadlineState && results.every((r) => r.exitCode === null)) {
    throw new UserFacingError(
      `No result within the ${run.timeoutSeconds} s deadline: the debug container (image ${run.image}) was ${result.deadlineState}. Retry with a longer --timeout, or check the image can be pulled in that cluster.`,
      'deadline',
    );
  }
  const artifact = run.output && decoded ? await keptArtifact(run.output, decoded) : undefined;
  return {
    pod,
    targetContainer: result.targetContainer,
    containerName: result.containerName,
    added: result.added,
    results,
    deadlineState: result.deadlineState,
    ...(artifact ? { artifact } : {}),
  };
}
