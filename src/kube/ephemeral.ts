// Adds one ephemeral debug container to a pod (what `kubectl debug --target` does), follows its
// log from when it runs, and waits on the namespace's shared pod watch (./pod-watches.ts) until
// the log is complete, the container terminates or the deadline passes.
import { once } from 'node:events';
import { Log, PatchStrategy, setHeaderOptions, type V1ContainerState, type V1EphemeralContainer, type V1Pod, type V1SecurityContext } from '@kubernetes/client-node';
import type { KubeClients } from './client.js';
import type { LogText } from './log-text.js';
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
  /**
   * Without logSink: follow the log into this from the moment the container runs, and stop waiting
   * as soon as it is complete (./log-text.ts), the container's exit not yet reported. A follow that
   * fails or ends short costs only time: the log is then read once the container terminates.
   */
  logText?: LogText;
  /** Called once the container is in the pod's spec: added by this call, or found from an earlier attempt. */
  onInSpec?: () => void;
  onProgress?: (status: string) => void;
}

export interface DebugContainerResult {
  containerName: string;
  /** False when a retried job found the container it had added before. */
  added: boolean;
  targetContainer: string;
  log: string;
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
 * Waits on the namespace's shared pod watch until the container terminates, `done` aborts (the
 * followed log is complete) or the deadline passes, reporting each new state of the pod; reads the
 * pod again whenever the watch may have missed a change.
 */
async function waitUntilTerminated(
  kube: KubeClients,
  req: DebugContainerRequest,
  waiter: PodWaiter,
  pod: V1Pod,
  onPod: (pod: V1Pod) => void,
  done: AbortSignal | undefined,
): Promise<V1Pod> {
  const podName = req.pod.metadata!.name!;
  const over = () => containerState(pod, req.containerName)?.terminated !== undefined || done?.aborted === true || Date.now() >= req.deadline;
  if (over()) return pod;
  waiter.seen(pod);
  const wake = AbortSignal.any([req.signal, done].filter((s): s is AbortSignal => s !== undefined));
  while (!over()) {
    req.signal?.throwIfAborted();
    const update = await waiter.next(req.deadline, wake);
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

async function readLog(kube: KubeClients, req: DebugContainerRequest): Promise<string> {
  try {
    return await kube.core.readNamespacedPodLog({ name: req.pod.metadata!.name!, namespace: req.namespace, container: req.containerName, limitBytes: req.maxLogBytes });
  } catch (err) {
    throw explainApiError(err, { action: `read the log of debug container ${req.containerName}`, namespace: req.namespace, apiServer: kube.server });
  }
}

/** A moment for a log's last bytes after the deadline. */
const LAST_BYTES_MS = 5000;
/**
 * How long a followed log may take to complete (or end) once its container terminated: the watch
 * event can overtake the last bytes, and a kubelet ends a follow within a second of the exit
 * (logForceCheckPeriod).
 */
const LOG_END_MS = 2000;

/** Waits for `promise`, but not past `until` (epoch milliseconds). */
async function waitUntil(promise: Promise<void>, until: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, until - Date.now()));
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
  const existing = req.pod.spec?.ephemeralContainers?.some((c) => c.name === req.containerName) ?? false;
  const sink = req.logSink ?? req.logText;
  let following: Promise<void> | undefined;
  const follow = (p: V1Pod) => {
    const state = containerState(p, req.containerName);
    if (!sink || following || !(state?.running || state?.terminated)) return;
    following = new Promise<void>((resolve, reject) => {
      sink.once('finish', () => resolve());
      sink.once('error', reject);
      // client-node pipes the response into the sink and leaves the response's own error (a
      // connection cut mid-log) unhandled, which would crash the process: it fails the follow instead.
      sink.once('pipe', (response: NodeJS.ReadableStream) =>
        response.once('error', () =>
          reject(
            new UserFacingError(
              `The connection to the Kubernetes API (${kube.server}) was cut while kdebug followed the log of debug container ${req.containerName}; run the command again.`,
              'kube-unreachable',
            ),
          ),
        ),
      );
      const options = { follow: true, ...(req.logText ? { limitBytes: req.maxLogBytes } : {}) };
      new Log(kube.kc).log(req.namespace, podName, req.containerName, sink as never, options).catch((err: unknown) => {
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
    req.onInSpec?.();
    req.onProgress?.(
      existing ? `found debug container ${req.containerName} in pod ${podName} from an earlier attempt` : `added debug container ${req.containerName} to pod ${podName}`,
    );
    report(pod);
    pod = await waitUntilTerminated(kube, req, waiter, pod, report, req.logText?.complete);
  } finally {
    waiter.leave();
  }

  req.signal?.throwIfAborted();
  const answer = { containerName: req.containerName, added: !existing, targetContainer };
  const state = containerState(pod, req.containerName);
  // A container first seen terminated still has its whole log to stream.
  follow(pod);
  if (req.logText && state?.terminated && following && !req.logText.complete.aborted) {
    // Until the text is complete, not until the follow ends: a kubelet ends it up to a second later.
    const complete = once(req.logText.complete, 'abort').then(() => undefined);
    await waitUntil(Promise.race([following, complete]), Math.min(req.deadline + LAST_BYTES_MS, Date.now() + LOG_END_MS)).catch(() => undefined);
  }
  if (req.logText?.complete.aborted) {
    if (!state?.terminated) req.onProgress?.('debug container finished its steps');
    return { ...answer, log: req.logText.text };
  }
  if (req.logSink) {
    if (following) await waitUntil(following, req.deadline + LAST_BYTES_MS);
    return { ...answer, log: '', ...(state?.terminated ? {} : { deadlineState: describeState(state) }) };
  }
  if (state?.terminated) return { ...answer, log: await readLog(kube, req) };
  // Deadline: keep whatever output a running container produced so far.
  const log = state?.running ? await readLog(kube, req).catch(() => '') : '';
  return { ...answer, log, deadlineState: describeState(state) };
}
