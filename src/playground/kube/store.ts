// The object store: every write takes the next value of one global resourceVersion counter (as etcd's
// revision does) and is appended to a bounded event history that watches replay from, the way the API
// server's watch cache does. A watch from a resourceVersion older than the history gets 410 Expired.
import { randomUUID } from 'node:crypto';
import { expired, type Status } from './status.js';
import { clone, k8sTime, type KubeObject } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ResourceInfo {
  /** Plural resource name, as in URLs and RBAC rules. */
  resource: string;
  group: '' | 'apps';
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
}

export const RESOURCES = {
  namespaces: { resource: 'namespaces', group: '', kind: 'Namespace', namespaced: false, shortNames: ['ns'] },
  nodes: { resource: 'nodes', group: '', kind: 'Node', namespaced: false, shortNames: ['no'] },
  pods: { resource: 'pods', group: '', kind: 'Pod', namespaced: true, shortNames: ['po'] },
  deployments: { resource: 'deployments', group: 'apps', kind: 'Deployment', namespaced: true, shortNames: ['deploy'] },
  replicasets: { resource: 'replicasets', group: 'apps', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'] },
  statefulsets: { resource: 'statefulsets', group: 'apps', kind: 'StatefulSet', namespaced: true, shortNames: ['sts'] },
  daemonsets: { resource: 'daemonsets', group: 'apps', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'] },
} as const satisfies Record<string, ResourceInfo>;

export type ResourceName = keyof typeof RESOURCES;

export function apiVersionOf(info: ResourceInfo): string {
  return info.group ? `${info.group}/v1` : 'v1';
}

interface StoredEvent {
  rv: number;
  resource: ResourceName;
  type: EventType;
  object: KubeObject;
  /** The object before a MODIFIED, to turn selector transitions into ADDED/DELETED. */
  previous?: KubeObject;
}

export interface WatchEvent {
  type: EventType | 'BOOKMARK' | 'ERROR';
  object: KubeObject | Status;
}

export interface WatchOptions {
  resource: ResourceName;
  namespace?: string;
  matches: (obj: KubeObject) => boolean;
  /** Undefined or 0: start with ADDED events for the current objects. Otherwise replay history after it. */
  resourceVersion?: number;
  /**
   * Gets each event as it happens. The object is the store's own copy of that version, shared by
   * every watch and the history (one copy per change, not one per watcher: copying pods was the
   * emulator's largest cost in bench/incident-load.mjs's burst): read or serialize it at once, never
   * keep or change it.
   */
  send: (event: WatchEvent) => void;
}

interface Watcher {
  opts: WatchOptions;
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private rv = 100;
  /**
   * The current version of every object. A stored object is never changed: the same copy is its
   * event's in the history and every watch's, and a change stores a new one.
   */
  private readonly objects = new Map<ResourceName, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  /** True once the history has dropped events: from then on old resourceVersions are 410 Expired. */
  private trimmed = false;
  private readonly watchers = new Set<Watcher>();

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): string {
    return String(this.rv);
  }

  private bucket(resource: ResourceName): Map<string, KubeObject> {
    let b = this.objects.get(resource);
    if (!b) this.objects.set(resource, (b = new Map<string, KubeObject>()));
    return b;
  }

  /** Objects sorted by namespace then name (etcd key order), as lists return them. */
  list(resource: ResourceName, namespace?: string): KubeObject[] {
    const out = [...this.bucket(resource).values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
    out.sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
    return out.map(clone);
  }

  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.bucket(resource).get(key(namespace, name));
    return obj && clone(obj);
  }

  create<T extends KubeObject>(resource: ResourceName, obj: T): T {
    const b = this.bucket(resource);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    if (b.has(k)) throw new Error(`${resource} ${k} already exists`);
    const stored = clone(obj);
    stored.metadata.uid ||= randomUUID();
    stored.metadata.creationTimestamp ||= k8sTime();
    stored.metadata.resourceVersion = String(++this.rv);
    b.set(k, stored);
    this.record({ rv: this.rv, resource, type: 'ADDED', object: stored });
    return clone(stored);
  }

  /** Replaces an existing object, bumping its resourceVersion. */
  update<T extends KubeObject>(resource: ResourceName, obj: T): T {
    const b = this.bucket(resource);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const previous = b.get(k);
    if (!previous) throw new Error(`${resource} ${k} does not exist`);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    b.set(k, stored);
    this.record({ rv: this.rv, resource, type: 'MODIFIED', object: stored, previous });
    return clone(stored);
  }

  delete(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined {
    const b = this.bucket(resource);
    const k = key(namespace, name);
    const obj = b.get(k);
    if (!obj) return undefined;
    b.delete(k);
    // A DELETED event carries the object at the deletion's resourceVersion (a copy: the stored one
    // is also its last event's).
    const deleted = clone(obj);
    deleted.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, resource, type: 'DELETED', object: deleted });
    return clone(deleted);
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      this.history.shift();
      this.trimmed = true;
    }
    for (const w of this.watchers) this.deliver(w.opts, event);
  }

  /** Sends `event` to a watch if it concerns it, turning selector transitions into ADDED/DELETED. */
  private deliver(opts: WatchOptions, event: StoredEvent): void {
    if (event.resource !== opts.resource) return;
    if (opts.namespace !== undefined && event.object.metadata.namespace !== opts.namespace) return;
    const now = opts.matches(event.object);
    if (event.type === 'MODIFIED' && event.previous) {
      const before = opts.matches(event.previous);
      if (now && before) opts.send({ type: 'MODIFIED', object: event.object });
      else if (now) opts.send({ type: 'ADDED', object: event.object });
      else if (before) opts.send({ type: 'DELETED', object: event.object });
      return;
    }
    if (now) opts.send({ type: event.type, object: event.object });
  }

  /**
   * Starts a watch. Returns a function that stops it, or a 410 Status when the requested
   * resourceVersion is older than the kept history (the caller sends it as an ERROR event).
   */
  watch(opts: WatchOptions): { stop: () => void } | { expired: Status } {
    const from = opts.resourceVersion;
    if (from === undefined || from === 0) {
      for (const obj of this.list(opts.resource, opts.namespace)) {
        if (opts.matches(obj)) opts.send({ type: 'ADDED', object: obj });
      }
    } else {
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      // The watch cache can serve any version from (oldest event - 1) on; older ones are gone.
      if (this.trimmed && from < oldest - 1) return { expired: expired(from, oldest - 1) };
      for (const event of this.history) if (event.rv > from) this.deliver(opts, event);
    }
    // Replay and subscription happen in the same tick, so no event can fall between them.
    const watcher: Watcher = { opts };
    this.watchers.add(watcher);
    return { stop: () => this.watchers.delete(watcher) };
  }

  /** Watches open now on `resource` in `namespace`; without a namespace, every watch on `resource`. */
  openWatches(resource: ResourceName, namespace?: string): number {
    let n = 0;
    for (const w of this.watchers) if (w.opts.resource === resource && (namespace === undefined || w.opts.namespace === namespace)) n++;
    return n;
  }

  stopAllWatches(): void {
    this.watchers.clear();
  }
}
