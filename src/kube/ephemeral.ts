// Adds one ephemeral debug container to a pod (what `kubectl debug --target` does), waits for it
// on the namespace's shared pod watch (./pod-watches.ts) until it terminates or the deadline
// passes, and reads its log.
import { Log, PatchStrategy, setHeaderOptions, type V1ContainerState, type V1EphemeralContainer, type V1Pod, type V1SecurityContext } from '@kubernetes/client-node';
import type { KubeClients } from './client.js';
import { UserFacingError } from '../core/errors.js';
import { explainApiError, statusOf } from './errors.js';
import type { PodWaiter } from './pod-watches.js';

export interface DebugContainerRequest {
  namespace: string;
  pod: V1Pod;
  /** Derived from the job id, so a retried job finds its container instead of adding another. */
  containerName: string;
  /** The `-c` container, if the user named one. */
  container?: string;
  image: string;
  imagePullPolicy: string;
  capabilities: readonly string[];
  /** Checks that need no capability: named in the answer when Pod Security refuses this container. */
  unprivilegedChecks?: readonly string[];
  command: string[];
  /** Epoch milliseconds. */
  deadline: number;
  maxLogBytes: number;
  /** Stops the wait early (the worker is shutting down); the container keeps running. */
  signal?: AbortSignal;
  /**
   * Follow the log into this stream from the moment the container runs (for captures, whose
   * output is too large to read at the end and may be rotated by the kubelet). The stream is ended
   * when the log ends; `log` in the result is then empty.
   */
  logSink?: NodeJS.WritableStream;
  onProgress?: (status: string) => void;
}

export interface DebugContainerResult {
  containerName: string;
  /** False when a retried job found the container it had added before. */
  added: boolean;
  /** The command the container runs: the one it was added with, which a retry did not choose. */
  command: string[];
  targetContainer: string;
  log: string;
  exitCode: number | null;
  /** Set when the deadline passed first: what the container was doing then. */
  deadlineState?: string;
}

/** `-c` if given, else the pod's kubectl.kubernetes.io/default-container, else its first container. */
export function chooseTargetContainer(pod: V1Pod, requested?: string): string {
  const names = pod.spec?.containers.map((c) => c.name) ?? [];
  const podName = pod.metadata?.name ?? '?';
  if (requested) {
    if (names.includes(requested)) return requested;
    throw new UserFacingError(`Pod ${podName} has no container named ${requested}; its containers are: ${names.join(', ')}.`, 'invalid-target');
  }
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated && names.includes(annotated)) return annotated;
  const first = names[0];
  if (!first) throw new UserFacingError(`Pod ${podName} has no containers to attach to.`, 'invalid-target');
  return first;
}

/**
 * Least privilege: drop every capability and add back only what the check declares; never
 * privileged, no privilege escalation, the runtime's default seccomp profile. A check that needs
 * no capability also runs as a non-root user, which is what the "restricted" Pod Security level asks.
 */
export function debugSecurityContext(capabilities: readonly string[]): V1SecurityContext {
  const context: V1SecurityContext = {
    privileged: false,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'], ...(capabilities.length ? { add: [...capabilities] } : {}) },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (capabilities.length === 0) Object.assign(context, { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534 });
  return context;
}

export function debugContainerSpec(req: DebugContainerRequest, targetContainer: string): V1EphemeralContainer {
  return {
    name: req.containerName,
    image: req.image,
    imagePullPolicy: req.imagePullPolicy,
    command: req.command,
    targetContainerName: targetContainer,
    stdin: false,
    tty: false,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: debugSecurityContext(req.capabilities),
  };
}

function containerState(pod: V1Pod, name: string): V1ContainerState | undefined {
  return pod.status?.ephemeralContainerStatuses?.find((s) => s.name === name)?.state;
}

function describeState(state: V1ContainerState | undefined): string {
  if (!state) return 'not yet scheduled by the kubelet';
  if (state.waiting) return `waiting: ${state.waiting.reason ?? 'unknown'}${state.waiting.message ? ` (${state.waiting.message})` : ''}`;
  if (state.running) return 'running';
  return `terminated with exit code ${state.terminated?.exitCode}`;
}

async function addContainer(kube: KubeClients, req: DebugContainerRequest, spec: V1EphemeralContainer): Promise<V1Pod> {
  const podName = req.pod.metadata!.name!;
  try {
    // Strategic merge keyed by container name, as kubectl debug sends: the list is appended to,
    // never replaced. The generated client would otherwise send a JSON patch.
    return await kube.core.patchNamespacedPodEphemeralcontainers(
      { name: podName, namespace: req.namespace, body: { spec: { ephemeralContainers: [spec] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  } catch (err) {
    const status = statusOf(err);
    if (status?.code === 404) {
      if (/could not find the requested resource/.test(status.status.message ?? '')) {
        throw new UserFacingError(
          'This cluster does not serve the pods/ephemeralcontainers API (ephemeral containers need Kubernetes 1.23 or later, stable since 1.25), so kdebug cannot attach to pods here.',
          'ephemeral-unavailable',
        );
      }
      throw new UserFacingError(
        `Pod ${podName} disappeared from ${req.namespace} before the debug container could be added; run the command again to target its replacement.`,
        'not-found',
      );
    }
    throw explainApiError(err, { action: `add a debug container to pod ${podName}`, namespace: req.namespace, apiServer: kube.server, unprivilegedChecks: req.unprivilegedChecks });
  }
}

/**
 * Waits on the namespace's shared pod watch until the container terminates or the deadline passes,
 * reporting each new state of the pod; reads the pod again whenever the watch may have missed a change.
 */
async function waitUntilTerminated(kube: KubeClients, req: DebugContainerRequest, waiter: PodWaiter, pod: V1Pod, onPod: (pod: V1Pod) => void): Promise<V1Pod> {
  const podName = req.pod.metadata!.name!;
  if (containerState(pod, req.containerName)?.terminated || Date.now() >= req.deadline) return pod;
  waiter.seen(pod);
  while (!containerState(pod, req.containerName)?.terminated && Date.now() < req.deadline) {
    req.signal?.throwIfAborted();
    const update = await waiter.next(req.deadline, req.signal);
    if (update.kind === 'pod') {
      pod = update.pod;
      onPod(pod);
    } else if (update.kind === 'reread') {
      // Deleted, an expired resourceVersion, or a watch that keeps failing: read the pod itself.
      try {
        pod = await kube.core.readNamespacedPod({ name: podName, namespace: req.namespace });
      } catch (err) {
        if (statusOf(err)?.code === 404) throw new UserFacingError(`Pod ${podName} was deleted while the diagnostic ran.`, 'not-found');
        throw explainApiError(err, { action: `watch pod ${podName}`, namespace: req.namespace, apiServer: kube.server });
      }
      waiter.seen(pod);
      onPod(pod);
    }
  }
  return pod;
}

/** A debug container's log so far (for live progress of a check whose log is not followed). */
export async function readDebugLog(kube: KubeClients, namespace: string, pod: string, container: string, maxBytes: number): Promise<string> {
  return kube.core.readNamespacedPodLog({ name: pod, namespace, container, limitBytes: maxBytes });
}

async function readLog(kube: KubeClients, req: DebugContainerRequest): Promise<string> {
  try {
    return await readDebugLog(kube, req.namespace, req.pod.metadata!.name!, req.containerName, req.maxLogBytes);
  } catch (err) {
    throw explainApiError(err, { action: `read the log of debug container ${req.containerName}`, namespace: req.namespace, apiServer: kube.server });
  }
}

/** Waits for `promise`, but no longer than the deadline (plus a moment for the last bytes). */
async function waitUntil(promise: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 5000);
  });
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runDebugContainer(kube: KubeClients, req: DebugContainerRequest): Promise<DebugContainerResult> {
  const podName = req.pod.metadata!.name!;
  const targetContainer = chooseTargetContainer(req.pod, req.container);
  const existingSpec = req.pod.spec?.ephemeralContainers?.find((c) => c.name === req.containerName);
  const existing = existingSpec !== undefined;
  const command = existingSpec?.command ?? req.command;
  let following: Promise<void> | undefined;
  const follow = (p: V1Pod) => {
    const state = containerState(p, req.containerName);
    if (!req.logSink || following || !(state?.running || state?.terminated)) return;
    const sink = req.logSink;
    following = new Promise<void>((resolve, reject) => {
      sink.once('finish', () => resolve());
      sink.once('error', reject);
      new Log(kube.kc).log(req.namespace, podName, req.containerName, sink as never, { follow: true }).catch((err: unknown) => {
        reject(explainApiError(err, { action: `follow the log of debug container ${req.containerName}`, namespace: req.namespace, apiServer: kube.server }));
      });
    });
    following.catch(() => undefined);
  };
  let lastReported = '';
  const report = (p: V1Pod) => {
    follow(p);
    const described = describeState(containerState(p, req.containerName));
    if (described !== lastReported) {
      lastReported = described;
      req.onProgress?.(`debug container ${described}`);
    }
  };

  // Joined before the patch, so that no event of the pod between the two is missed.
  const waiter = kube.podWatches.join(req.namespace, podName);
  let pod: V1Pod;
  try {
    pod = existing ? req.pod : await addContainer(kube, req, debugContainerSpec(req, targetContainer));
    req.onProgress?.(
      existing ? `found debug container ${req.containerName} in pod ${podName} from an earlier attempt` : `added debug container ${req.containerName} to pod ${podName}`,
    );
    report(pod);
    pod = await waitUntilTerminated(kube, req, waiter, pod, report);
  } finally {
    waiter.leave();
  }

  req.signal?.throwIfAborted();
  const state = containerState(pod, req.containerName);
  if (req.logSink) {
    follow(pod);
    if (following) await waitUntil(following, req.deadline);
    return {
      containerName: req.containerName,
      added: !existing,
      command,
      targetContainer,
      log: '',
      exitCode: state?.terminated?.exitCode ?? null,
      ...(state?.terminated ? {} : { deadlineState: describeState(state) }),
    };
  }
  if (state?.terminated) {
    return { containerName: req.containerName, added: !existing, command, targetContainer, log: await readLog(kube, req), exitCode: state.terminated.exitCode ?? null };
  }
  // Deadline: keep whatever output a running container produced so far.
  const log = state?.running ? await readLog(kube, req).catch(() => '') : '';
  return { containerName: req.containerName, added: !existing, command, targetContainer, log, exitCode: null, deadlineState: describeState(state) };
}
