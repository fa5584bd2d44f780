// One pod watch per namespace for the whole worker process, shared by every job that waits on a pod
// there: 100 jobs in flight open one watch per namespace instead of one each. The watch is opened
// when the first job of a namespace starts waiting and closed a second after its last one leaves
// (unless another job joins meanwhile); each event goes to the jobs waiting on that pod. It resumes
// from the last resourceVersion it saw when it ends (the server's timeoutSeconds, a dropped
// connection), starts again from a fresh list when that version expired (410 Gone), and asks the
// jobs to read their pod again whenever it may have missed something (an expired version, a
// DELETED event, a watch that keeps failing).
//
// A job joins before it patches the pod and starts waiting with the patched pod: the watch, already
// open or opened from that pod's resourceVersion, carries every event after the patch. A job whose
// pod is older than where the open watch already was (a retried job that found its container)
// reads its pod once.
//
// A plain Watch rather than client-node's informer (makeInformer): an informer lists and caches
// every pod of the namespace and keeps them up to date, when the jobs need a handful of them for a
// minute; its own relist on 410 is that full list again. Here a 410 costs a one-item list (for a
// fresh resourceVersion) and one read per waiting job, and nothing is cached.
//
// Resource versions are compared as numbers, which Kubernetes guarantees since 1.35 (KEP-5504:
// decimal integers, comparable between objects of one resource) and every etcd-backed API server
// did before. A version that is not such a number is never trusted: the job reads its pod again.
import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export interface PodWatchOptions {
  /** timeoutSeconds of each watch request: the server ends the watch then, and it is resumed. Default 300. */
  timeoutSeconds?: number;
  /** The longest pause between attempts while the watch keeps failing. Default 5000. */
  maxBackoffMs?: number;
}

/** What PodWaiter.next() resolves with. */
export type PodUpdate =
  /** A newer state of the pod, in the order the API server sent them. */
  | { kind: 'pod'; pod: V1Pod }
  /** The watch may have missed changes (pod deleted, version expired, watch failing): read the pod and pass it to seen(). */
  | { kind: 'reread' }
  /** The deadline passed or the signal aborted first. */
  | { kind: 'idle' };

/** -1, 0 or 1; undefined when either is not a resourceVersion that compares (KEP-5504). */
function compareVersions(a: string, b: string): number | undefined {
  if (!/^[1-9]\d*$/.test(a) || !/^[1-9]\d*$/.test(b)) return undefined;
  if (a.length !== b.length) return Math.sign(a.length - b.length);
  return a === b ? 0 : a < b ? -1 : 1;
}

/** A watch that failed this many times in a row, none of them delivering anything, has the jobs read their pods meanwhile. */
const FAILURES_BEFORE_REREAD = 3;
/** A watch that lived this long, or delivered anything, counts as healthy when it ends. */
const HEALTHY_MS = 1000;
/**
 * How long a namespace's watch stays open after its last waiter left: in an incident the next
 * command's job often comes within it, and takes the open watch instead of closing it and opening
 * another (over HTTP/2 the server sees the old one's end a moment later, so both would count).
 */
const LINGER_MS = 1000;

/** What a waiter tells the shared watch of its namespace. */
interface WaiterStream {
  started(waiter: PodWaiter, version: string | undefined): void;
  leave(waiter: PodWaiter): void;
}

/** One job waiting on one pod. Every event of the pod reaches it from join() on, queued until next() takes it. */
export class PodWaiter {
  /** The stream delivers every event after this resourceVersion to this waiter (undefined: not known yet). */
  coveredFrom: string | undefined;
  private known: string | undefined;
  private started = false;
  private readonly queue: V1Pod[] = [];
  private rereadNeeded = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly stream: WaiterStream,
    readonly name: string,
  ) {}

  get isStarted(): boolean {
    return this.started;
  }

  /**
   * The pod as the job knows it now (as patched, or read again): only later events are passed on.
   * The first call also opens the namespace's watch if none is open, from this pod's resourceVersion.
   */
  seen(pod: V1Pod): void {
    const version = pod.metadata?.resourceVersion;
    if (version && (this.known === undefined || (compareVersions(version, this.known) ?? 1) > 0)) this.known = version;
    if (!this.started) {
      this.started = true;
      this.stream.started(this, version);
    }
  }

  /** The next update of the pod; 'idle' at the deadline or when `signal` aborts. */
  async next(deadline: number, signal?: AbortSignal): Promise<PodUpdate> {
    for (;;) {
      const update = this.take();
      if (update) return update;
      if (Date.now() >= deadline || signal?.aborted) return { kind: 'idle' };
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, deadline - Date.now());
        signal?.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
  }

  /** The job stops waiting; the last one to leave a namespace closes its watch. */
  leave(): void {
    this.stream.leave(this);
    this.wake?.();
  }

  /** From the stream: a new state of the pod. */
  push(pod: V1Pod): void {
    this.queue.push(pod);
    this.wake?.();
  }

  /** From the stream: the pod must be read again. */
  reread(): void {
    this.rereadNeeded = true;
    this.wake?.();
  }

  private take(): PodUpdate | undefined {
    if (this.rereadNeeded) {
      // Whatever is queued is older than what the read will return.
      this.rereadNeeded = false;
      this.queue.length = 0;
      return { kind: 'reread' };
    }
    for (let pod = this.queue.shift(); pod; pod = this.queue.shift()) {
      const version = pod.metadata?.resourceVersion;
      if (version && this.known !== undefined && (compareVersions(version, this.known) ?? 1) <= 0) continue;
      if (version) this.known = version;
      return { kind: 'pod', pod };
    }
    return undefined;
  }
}

/** The shared watch of one namespace's pods. */
class NamespaceWatch implements WaiterStream {
  private readonly waiters = new Map<string, Set<PodWaiter>>();
  private size = 0;
  /** idle: nothing open; watching: a request open (or opening); paused: about to resume; relisting: fetching a fresh version after a 410. */
  private state: 'idle' | 'watching' | 'paused' | 'relisting' = 'idle';
  /** The resourceVersion the watch resumes from: where it started, then the last event or bookmark. */
  private position: string | undefined;
  /** Bumped by every open, end and close: callbacks of an older request are ignored. */
  private generation = 0;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private linger: NodeJS.Timeout | undefined;
  private openedAt = 0;
  private delivered = false;
  private failures = 0;

  constructor(
    private readonly owner: { kc: KubeConfig; core: CoreV1Api; options: Required<PodWatchOptions>; closed(namespace: string): void },
    readonly namespace: string,
  ) {}

  join(name: string): PodWaiter {
    clearTimeout(this.linger);
    this.linger = undefined;
    const waiter = new PodWaiter(this, name);
    // A watch open or about to resume delivers every event after its position: this waiter's too.
    waiter.coveredFrom = this.state === 'watching' || this.state === 'paused' ? this.position : undefined;
    let set = this.waiters.get(name);
    if (!set) this.waiters.set(name, (set = new Set()));
    set.add(waiter);
    this.size += 1;
    return waiter;
  }

  started(waiter: PodWaiter, version: string | undefined): void {
    if (this.state === 'idle') {
      if (version) this.open(version);
      else this.relist();
      return;
    }
    // The relist asks every started waiter to read its pod again.
    if (this.state === 'relisting') return;
    // Changes between the job's version and where the watch started would be missed: read the pod once.
    const from = waiter.coveredFrom;
    if (!version || !from || (compareVersions(version, from) ?? -1) < 0) waiter.reread();
  }

  leave(waiter: PodWaiter): void {
    const set = this.waiters.get(waiter.name);
    if (!set?.delete(waiter)) return;
    this.size -= 1;
    if (set.size === 0) this.waiters.delete(waiter.name);
    if (this.size > 0) return;
    // Only a healthy watch lingers: one failing or relisting has nobody left to retry for.
    if (this.state !== 'watching') return this.close();
    this.linger = setTimeout(() => {
      if (this.size === 0) this.close();
    }, LINGER_MS);
    // A worker shutting down need not wait for it.
    this.linger.unref();
  }

  private open(version: string): void {
    this.state = 'watching';
    this.position = version;
    this.openedAt = Date.now();
    this.delivered = false;
    for (const set of this.waiters.values()) for (const w of set) w.coveredFrom ??= version;
    const generation = ++this.generation;
    new Watch(this.owner.kc)
      .watch(
        `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`,
        { resourceVersion: version, allowWatchBookmarks: true, timeoutSeconds: this.owner.options.timeoutSeconds },
        (type: string, obj: V1Pod & { code?: number }) => this.onEvent(generation, type, obj),
        (err: unknown) => this.ended(generation, err ? 'failed' : 'closed'),
      )
      .then((controller) => {
        if (generation === this.generation) this.controller = controller;
        else controller.abort();
      })
      .catch(() => this.ended(generation, 'failed'));
  }

  private onEvent(generation: number, type: string, obj: V1Pod & { code?: number }): void {
    if (generation !== this.generation) return;
    if (type === 'ERROR') {
      // 410 Gone: the version is older than the server's watch history.
      this.ended(generation, obj.code === 410 ? 'expired' : 'failed');
      return;
    }
    this.delivered = true;
    this.position = obj.metadata?.resourceVersion ?? this.position;
    if (type === 'BOOKMARK') return;
    const set = this.waiters.get(obj.metadata?.name ?? '');
    if (!set) return;
    for (const waiter of set) {
      // Read again, the pod is either gone ("deleted while the diagnostic ran") or a new one of the same name.
      if (type === 'DELETED') waiter.reread();
      else waiter.push(obj);
    }
  }

  /** The watch request ended: resume from the last version, or start from a fresh one after a 410. */
  private ended(generation: number, how: 'closed' | 'failed' | 'expired'): void {
    if (generation !== this.generation) return;
    this.generation += 1;
    this.controller?.abort();
    this.controller = undefined;
    if (this.size === 0) return this.close();
    if (how === 'expired') return this.relist();
    const healthy = this.delivered || Date.now() - this.openedAt >= HEALTHY_MS;
    this.failures = healthy ? 0 : this.failures + 1;
    // A watch that keeps failing may stay broken (403, a proxy that refuses it): the jobs read their pods meanwhile.
    if (this.failures >= FAILURES_BEFORE_REREAD) this.rereadAll();
    const from = this.position;
    if (from) this.pause(() => this.open(from));
    else this.relist();
  }

  /** A fresh resourceVersion from a one-item list; every job reads its pod again, after it. */
  private relist(): void {
    this.state = 'relisting';
    this.position = undefined;
    for (const set of this.waiters.values()) for (const w of set) w.coveredFrom = undefined;
    const generation = ++this.generation;
    const listed = (version: string | undefined) => {
      if (generation !== this.generation) return;
      if (version) {
        this.failures = 0;
        this.open(version);
      } else {
        this.failures += 1;
        this.pause(() => this.relist());
      }
      this.rereadAll();
    };
    this.owner.core.listNamespacedPod({ namespace: this.namespace, limit: 1 }).then(
      (list) => listed(list.metadata?.resourceVersion),
      () => listed(undefined),
    );
  }

  private pause(then: () => void): void {
    this.state = 'paused';
    const delay = this.failures === 0 ? 0 : Math.min(this.owner.options.maxBackoffMs, 250 * 2 ** (this.failures - 1));
    const generation = this.generation;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (generation === this.generation) then();
    }, delay);
  }

  private rereadAll(): void {
    for (const set of this.waiters.values()) for (const w of set) if (w.isStarted) w.reread();
  }

  private close(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    this.generation += 1;
    this.controller?.abort();
    this.controller = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'idle';
    this.position = undefined;
    this.owner.closed(this.namespace);
  }
}

/** The worker process's pod watches, one per namespace with a job waiting there (see KubeClients). */
export class PodWatches {
  private readonly namespaces = new Map<string, NamespaceWatch>();
  private readonly options: Required<PodWatchOptions>;

  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    options: PodWatchOptions = {},
  ) {
    this.options = { timeoutSeconds: options.timeoutSeconds ?? 300, maxBackoffMs: options.maxBackoffMs ?? 5000 };
  }

  /**
   * Starts collecting the events of pod `name` for one job. Join before changing the pod, then pass
   * the changed pod to seen(): no event in between is lost. leave() when done.
   */
  join(namespace: string, name: string): PodWaiter {
    let stream = this.namespaces.get(namespace);
    if (!stream) {
      const owner = { kc: this.kc, core: this.core, options: this.options, closed: (ns: string) => this.namespaces.delete(ns) };
      this.namespaces.set(namespace, (stream = new NamespaceWatch(owner, namespace)));
    }
    return stream.join(name);
  }
}
