// A simulated kubelet for ephemeral containers. It walks each new container through the states a real
// node reports (waiting ContainerCreating -> running -> terminated, or ErrImagePull -> ImagePullBackOff)
// and RUNS the container's command + args for real on this machine, inside the pod's network namespace
// when it has one, capturing stdout and stderr as the container log. The commands are started by the
// node's runtime process (runtime.ts), not from the emulator's own thread. The image itself is
// ignored: the host's tools stand in for those of a debug image such as nicolaka/netshoot.
import { randomBytes } from 'node:crypto';
import { ContainerRuntime, type CpuGroup, type NodeCpuWeight } from './runtime.js';
import type { ObjectStore } from './store.js';
import { k8sTime, type ContainerSpec, type ContainerState, type ContainerStatus, type Pod } from './types.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** RFC 3339 with nanoseconds, trailing zeros trimmed (Go's time.RFC3339Nano), as `kubectl logs --timestamps`. */
export function rfc3339Nano(): string {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  const date = new Date(Number(ns / 1_000_000n));
  const frac = String(ns % 1_000_000_000n)
    .padStart(9, '0')
    .replace(/0+$/, '');
  return date.toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : 'Z');
}

/** docker.io normalisation of an image reference, as containerd reports it. */
export function normalizeImage(image: string): string {
  let ref = image;
  const first = ref.split('/')[0] ?? '';
  const hasRegistry = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) ref = `docker.io/${ref.includes('/') ? ref : `library/${ref}`}`;
  const last = ref.split('/').pop() ?? '';
  if (!last.includes(':') && !last.includes('@')) ref += ':latest';
  return ref;
}

interface LogLine {
  time: string;
  text: string;
}

/** One container's log: complete lines as the CRI writes them, and whether the container has exited. */
export class ContainerLog {
  readonly lines: LogLine[] = [];
  finished = false;
  private readonly partial = { stdout: '', stderr: '' };
  private readonly listeners = new Set<() => void>();

  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.lines.push({ time: rfc3339Nano(), text: `${line}\n` });
    if (parts.length) this.notify();
  }

  finish(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.lines.push({ time: rfc3339Nano(), text: this.partial[stream] });
      this.partial[stream] = '';
    }
    this.finished = true;
    this.notify();
  }

  /** Calls `fn` after every change; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }
}

export interface KubeletOptions {
  store: ObjectStore;
  startDelayMs: () => number;
  /** Between a container's exit and its terminated status (a kubelet's relist). */
  exitReportDelayMs: () => number;
  imagePullFails: (image: string) => boolean;
  /** Network namespace of a pod, if it has one. */
  netnsOf: (namespace: string, pod: string) => string | undefined;
  /** The containers' CPU weight (see NodeCpuWeight). Default 'equal'. */
  cpuWeight?: NodeCpuWeight;
}

type Phase = 'creating' | 'started';

export class Kubelet {
  private readonly phases = new Map<string, Phase>();
  private readonly logs = new Map<string, ContainerLog>();
  private readonly runtime: ContainerRuntime;
  /** The runtime's id of each container whose command has not yet exited. */
  private readonly processes = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly opts: KubeletOptions) {
    this.runtime = new ContainerRuntime(opts.cpuWeight);
  }

  /** The log of a container, created empty on first use (regular containers log nothing by default). */
  log(namespace: string, pod: string, container: string): ContainerLog {
    const k = `${namespace}/${pod}/${container}`;
    let log = this.logs.get(k);
    if (!log) this.logs.set(k, (log = new ContainerLog()));
    return log;
  }

  /** Picks up ephemeral containers added to a pod, and starts waiting ones once the pod runs. */
  sync(namespace: string, name: string): void {
    const pod = this.opts.store.get('pods', namespace, name) as Pod | undefined;
    if (!pod || this.stopped) return;
    for (const ec of pod.spec.ephemeralContainers ?? []) {
      const k = `${namespace}/${name}/${ec.name}`;
      if (!this.phases.has(k)) {
        this.phases.set(k, 'creating');
        // The PATCH response carries no status for the new container; the node reports it right after.
        this.later(0, () => this.setStatus(namespace, name, ec, { waiting: { reason: 'ContainerCreating' } }));
      }
      // Like a real node, only a running pod gets its ephemeral containers started.
      if (this.phases.get(k) === 'creating' && pod.status.phase === 'Running') {
        this.phases.set(k, 'started');
        this.later(this.opts.startDelayMs(), () => this.start(namespace, name, ec));
      }
    }
  }

  /** Where this node's containers are scheduled (see ContainerRuntime.cpuGroup). */
  cpuGroup(): CpuGroup | undefined {
    return this.runtime.cpuGroup();
  }

  /** Kills the processes of a deleted pod. */
  podDeleted(namespace: string, name: string): void {
    for (const [k, id] of this.processes) {
      if (k.startsWith(`${namespace}/${name}/`)) this.runtime.kill(id);
    }
  }

  /** Kills every process this kubelet started and cancels pending state changes. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.runtime.stop();
    this.processes.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private setStatus(namespace: string, name: string, ec: ContainerSpec, state: ContainerState, extra: Partial<ContainerStatus> = {}): void {
    const pod = this.opts.store.get('pods', namespace, name) as Pod | undefined;
    if (!pod) return;
    const statuses = pod.status.ephemeralContainerStatuses ?? [];
    const previous = statuses.find((s) => s.name === ec.name);
    const next: ContainerStatus = {
      name: ec.name,
      state,
      lastState: {},
      ready: false,
      restartCount: 0,
      image: previous?.image ?? ec.image ?? '',
      imageID: previous?.imageID ?? '',
      ...(previous?.containerID ? { containerID: previous.containerID } : {}),
      ...extra,
    };
    pod.status.ephemeralContainerStatuses = previous ? statuses.map((s) => (s.name === ec.name ? next : s)) : [...statuses, next];
    this.opts.store.update('pods', pod);
  }

  private start(namespace: string, name: string, ec: ContainerSpec): void {
    const image = ec.image ?? '';
    if (this.opts.imagePullFails(image)) {
      const ref = normalizeImage(image);
      this.setStatus(namespace, name, ec, {
        waiting: {
          reason: 'ErrImagePull',
          message: `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`,
        },
      });
      // The node keeps retrying with back-off; the container never starts.
      this.later(Math.max(this.opts.startDelayMs(), 50), () =>
        this.setStatus(namespace, name, ec, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } }),
      );
      return;
    }

    const containerID = `containerd://${randomBytes(32).toString('hex')}`;
    const pulled = { image: normalizeImage(image), imageID: `${normalizeImage(image).replace(/:[^:/]*$/, '')}@sha256:${randomBytes(32).toString('hex')}`, containerID };
    const startedAt = k8sTime();
    const log = this.log(namespace, name, ec.name);
    const argv = [...(ec.command ?? []), ...(ec.args ?? [])];
    const PATH = process.env.PATH || DEFAULT_PATH;

    // No command: the image's default (an interactive shell waiting on stdin) just keeps running.
    if (argv.length === 0) {
      this.setStatus(namespace, name, ec, { running: { startedAt } }, { ...pulled, started: true });
      return;
    }
    const netns = this.opts.netnsOf(namespace, name);
    const env: Record<string, string> = { PATH };
    for (const e of ec.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
    const k = `${namespace}/${name}/${ec.name}`;
    const command = { command: argv[0]!, argv: netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv, env, cwd: ec.workingDir || '/' };
    const id = this.runtime.run(command, {
      missing: () => {
        this.processes.delete(k);
        log.finish();
        if (this.stopped) return;
        this.setStatus(
          namespace,
          name,
          ec,
          {
            terminated: {
              exitCode: 128,
              reason: 'StartError',
              message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: ${JSON.stringify(argv[0])}: executable file not found in $PATH: unknown`,
              startedAt: '1970-01-01T00:00:00Z',
              finishedAt: k8sTime(),
              containerID,
            },
          },
          { ...pulled, started: false },
        );
      },
      started: () => {
        if (!this.stopped) this.setStatus(namespace, name, ec, { running: { startedAt } }, { ...pulled, started: true });
      },
      output: (stream, text) => log.write(stream, text),
      error: (message) => log.write('stderr', `${message}\n`),
      exited: (code, signal) => {
        this.processes.delete(k);
        log.finish();
        if (this.stopped) return;
        const exitCode = code ?? 128 + signalNumber(signal);
        const finishedAt = k8sTime();
        const report = () =>
          this.setStatus(
            namespace,
            name,
            ec,
            { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt, containerID } },
            { ...pulled, started: false },
          );
        const delay = this.opts.exitReportDelayMs();
        if (delay > 0) this.later(delay, report);
        else report();
      },
    });
    this.processes.set(k, id);
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) || 0;
}
