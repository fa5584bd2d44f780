// A Kubernetes API server emulator for tests: a loopback server (http, and https for kubectl, which
// offers HTTP/2 first as kube-apiserver does) speaking the real REST wire protocol, so the real
// @kubernetes/client-node and the real kubectl run against it unchanged.
// It stores namespaces, nodes, pods and apps/v1 workloads (with the ReplicaSets a Deployment's rollouts
// leave, and pods owned by their workload), serves discovery, get/list/watch (with selectors,
// resourceVersions, bookmarks and 410 Expired), Tables for kubectl, pods/log, and the
// pods/ephemeralcontainers subresource with the API server's own validation and PodSecurity
// admission. A simulated kubelet runs each ephemeral container's command for real on this machine,
// inside the pod's own network namespace when `netns` is on.
//
// The pieces live in ./kube/: store (objects, resourceVersions, watch history), patch, validation
// (ephemeral containers + PodSecurity), kubelet, tables (discovery + Table printing), apiserver (routes).
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import { stringify } from 'yaml';
import { createHandler, type ApiFault, type ApiResponse, type DenyRule, type RecordedRequest } from './kube/apiserver.js';
import { Kubelet } from './kube/kubelet.js';
import type { CpuGroup, NodeCpuWeight } from './kube/runtime.js';
import { ObjectStore } from './kube/store.js';
import { SERVER_VERSION } from './kube/tables.js';
import { servingCert } from './kube/tls.js';
import { clone, k8sTime, type ContainerSpec, type ContainerStatus, type KubeObject, type OwnerReference, type Pod, type PodPhase, type SecurityContext } from './kube/types.js';
import { defaultContainer } from './kube/validation.js';
import { createPodNetwork, netnsAvailable, type PodNetwork, type PodNetworkOptions } from './netns.js';

export type { ApiFault, RecordedRequest } from './kube/apiserver.js';
export type { Pod, KubeObject } from './kube/types.js';

export interface KubeEmulatorOptions {
  /** Give every pod its own network namespace (needs root and iproute2). Default false. */
  netns?: boolean;
  /** Bearer token clients must present. Default: a random one. */
  token?: string;
  /** false: the server does not serve pods/ephemeralcontainers (404), like clusters before 1.23. Default true. */
  ephemeralContainersEnabled?: boolean;
  /** How many events the watch cache keeps; older resourceVersions get 410 Expired. Default 1000. */
  watchHistory?: number;
  /** User named in 403 messages. Default system:serviceaccount:kdebug:kdebug-worker. */
  user?: string;
  /** Interval of BOOKMARK events on watches that allow them. Default 10 s (a real server: about 1 min). */
  bookmarkIntervalMs?: number;
  /**
   * A watch without timeoutSeconds ends after this many seconds times a random 1 to 2, as the API
   * server's --min-request-timeout does. Default 1800 (the API server's default).
   */
  minRequestTimeoutSeconds?: number;
  /**
   * The node's containers' CPU weight against every process outside the node (see NodeCpuWeight).
   * Default 'equal'. 'besteffort' is what a kubelet gives pods that request no CPU, as these pods
   * request none: bench/incident-load.mjs uses it, so that the simulated node, which in a real
   * cluster has cores of its own, does not take half of the machine from kdebug. (Tests keep
   * 'equal': their load is not kdebug's, and starving the tools they check would only slow them.)
   */
  nodeCpuWeight?: NodeCpuWeight;
}

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet';
const WORKLOAD_KINDS: Record<string, WorkloadKind> = { deployment: 'Deployment', replicaset: 'ReplicaSet', statefulset: 'StatefulSet', daemonset: 'DaemonSet' };

export interface AddPodOptions {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers: { name: string; image: string; securityContext?: SecurityContext }[];
  phase?: 'Running' | 'Pending' | 'Succeeded' | 'Failed';
  ownerReferences?: OwnerReference[];
  /**
   * The workload whose controller made the pod: an object from addWorkload or addReplicaSet. The pod
   * gets its pod template's labels (`labels` go on top) and a controller ownerReference to it. Not a
   * Deployment: a Deployment's pods belong to its ReplicaSets.
   */
  owner?: KubeObject;
  /** The node the pod runs on. Default DEFAULT_NODE. It need not exist as a Node object. */
  nodeName?: string;
  /** Pod-level securityContext (PodSecurity checks read runAsNonRoot and seccompProfile from it). */
  securityContext?: SecurityContext;
  /** Resolver settings of the pod's network namespace (only used when the emulator has netns on). */
  network?: PodNetworkOptions;
}

export interface AddNodeOptions {
  /** topology.kubernetes.io/zone. */
  zone?: string;
  /** topology.kubernetes.io/region. Default: the zone without its letter (eu-west-1b: eu-west-1, europe-west1-b: europe-west1). */
  region?: string;
  /** Extra labels (node-role.kubernetes.io/<role> shows in kubectl's ROLES column). */
  labels?: Record<string, string>;
  /** false: the kubelet reports Ready False (kubectl: NotReady). Default true. */
  ready?: boolean;
}

const WORKLOAD_RESOURCE = { Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets' } as const;
/** The node of pods added without a nodeName. */
export const DEFAULT_NODE = 'emulator-node';

/** The spec fields of the workloads addWorkload and addReplicaSet make (a DaemonSet has no replicas). */
interface WorkloadSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: { containers: ContainerSpec[] } };
}

/** The ownerReference a controller puts on what it creates. */
function controllerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

function nodeCondition(type: string, status: 'True' | 'False', reason: string, message: string, now: string): Record<string, string> {
  return { type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message };
}

export class KubeEmulator {
  /** Every resource request received, as the authorizer saw it (verb, apiGroup, resource, subresource...). */
  readonly requests: RecordedRequest[] = [];
  readonly token: string;
  private readonly opts: Required<Omit<KubeEmulatorOptions, 'token'>>;
  private readonly store: ObjectStore;
  private readonly kubelet: Kubelet;
  private readonly networks = new Map<string, PodNetwork>();
  /** Networks of deleted pods, destroyed by stop(). */
  private readonly retiredNetworks: PodNetwork[] = [];
  private readonly denyRules: DenyRule[] = [];
  private readonly faults: Array<{ verb: string; resource: string; subresource: string; fault: ApiFault; times: number }> = [];
  private readonly failingImages = new Set<string>();
  private readonly streams = new Set<ApiResponse>();
  private startDelayMs = 50;
  private exitReportDelayMs = 0;
  private followEndDelayMs = 0;
  private podCount = 0;
  private nodeCount = 0;
  private servers: Server[] = [];
  /** Every connection either server accepted, destroyed by stop(). */
  private readonly connections = new Set<Socket>();
  private baseUrl = '';
  private tlsUrl = '';
  private caPem = '';

  constructor(opts: KubeEmulatorOptions = {}) {
    this.token = opts.token ?? randomBytes(16).toString('hex');
    this.opts = {
      netns: opts.netns ?? false,
      ephemeralContainersEnabled: opts.ephemeralContainersEnabled ?? true,
      watchHistory: opts.watchHistory ?? 1000,
      user: opts.user ?? 'system:serviceaccount:kdebug:kdebug-worker',
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
      minRequestTimeoutSeconds: opts.minRequestTimeoutSeconds ?? 1800,
      nodeCpuWeight: opts.nodeCpuWeight ?? 'equal',
    };
    this.store = new ObjectStore(this.opts.watchHistory);
    this.kubelet = new Kubelet({
      store: this.store,
      startDelayMs: () => this.startDelayMs,
      exitReportDelayMs: () => this.exitReportDelayMs,
      imagePullFails: (image) => this.failingImages.has(image),
      netnsOf: (ns, pod) => this.networks.get(`${ns}/${pod}`)?.netns,
      cpuWeight: this.opts.nodeCpuWeight,
    });
  }

  /** Plain-http base URL, e.g. http://127.0.0.1:41234 (set by start()). */
  get url(): string {
    if (!this.baseUrl) throw new Error('KubeEmulator not started');
    return this.baseUrl;
  }

  /**
   * The same API over TLS (another port, self-signed certificate for 127.0.0.1). kubectl needs it:
   * client-go sends a kubeconfig's token only over https.
   */
  get httpsUrl(): string {
    if (!this.tlsUrl) throw new Error('KubeEmulator not started');
    return this.tlsUrl;
  }

  /** TLS connections clients opened to httpsUrl so far (each one a handshake on both sides). */
  tlsConnections = 0;

  /** PEM of the self-signed certificate behind httpsUrl (it is its own CA). */
  get caCertificate(): string {
    return this.caPem;
  }

  async start(): Promise<void> {
    if (this.opts.netns) {
      const reason = await netnsAvailable();
      if (reason) throw new Error(`KubeEmulator({ netns: true }) needs network namespaces: ${reason}`);
    }
    const handler = createHandler({
      store: this.store,
      kubelet: this.kubelet,
      token: this.token,
      user: this.opts.user,
      ephemeralContainersEnabled: this.opts.ephemeralContainersEnabled,
      bookmarkIntervalMs: this.opts.bookmarkIntervalMs,
      minRequestTimeoutSeconds: this.opts.minRequestTimeoutSeconds,
      followEndDelayMs: () => this.followEndDelayMs,
      requests: this.requests,
      isDenied: (req) => this.denyRules.some((d) => d.verb === req.verb && d.resource === req.resource && (d.subresource ?? '') === (req.subresource ?? '')),
      takeFault: (req) => {
        const entry = this.faults.find((f) => f.times > 0 && f.verb === req.verb && f.resource === req.resource && f.subresource === (req.subresource ?? ''));
        if (!entry) return undefined;
        entry.times -= 1;
        return entry.fault;
      },
      streams: this.streams,
      deletePod: (ns, name) => this.deletePod(ns, name),
    });
    const tls = await servingCert();
    this.caPem = tls.cert;
    const listen = (server: Server): Promise<number> =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
        this.servers.push(server);
      });
    const track = (server: Server) =>
      server.on('connection', (socket: Socket) => {
        this.connections.add(socket);
        socket.once('close', () => this.connections.delete(socket));
      });
    this.baseUrl = `http://127.0.0.1:${await listen(track(createServer(handler)))}`;
    // Like kube-apiserver, TLS offers HTTP/2 first (ALPN h2, then http/1.1): client-go and
    // client-node (undici) then send every request and stream over one connection.
    const httpsServer = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, handler);
    httpsServer.on('secureConnection', () => (this.tlsConnections += 1));
    this.tlsUrl = `https://127.0.0.1:${await listen(track(httpsServer))}`;
  }

  /** Kills every process the kubelet started, closes watches and connections, removes network namespaces. */
  async stop(): Promise<void> {
    this.kubelet.stop();
    this.store.stopAllWatches();
    for (const res of this.streams) res.destroy();
    this.streams.clear();
    const servers = this.servers;
    this.servers = [];
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    const networks = [...this.networks.values(), ...this.retiredNetworks.splice(0)];
    this.networks.clear();
    await Promise.all(networks.map((n) => n.destroy()));
  }

  /**
   * Writes a kubeconfig with a bearer-token user for this server. By default it points at httpsUrl
   * with the certificate embedded, which both client-node and kubectl accept; `tls: false` points it
   * at the plain-http url instead, marked insecure-skip-tls-verify (client-node refuses http without
   * it: "HTTP protocol is not allowed when skipTLSVerify is not set or false"); client-node sends the
   * token there, kubectl does not (it only sends tokens over TLS), so kubectl gets 401s.
   * Synchronous, so it can be called right after start() without awaiting.
   */
  writeKubeconfig(path: string, opts: { namespace?: string; tls?: boolean } = {}): void {
    const tls = opts.tls ?? true;
    const cluster = tls
      ? { server: this.httpsUrl, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') }
      : { server: this.url, 'insecure-skip-tls-verify': true };
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'emulator', cluster }],
      users: [{ name: 'kdebug', user: { token: this.token } }],
      contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'kdebug', ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
      'current-context': 'emulator',
    };
    writeFileSync(path, stringify(config), { mode: 0o600 });
  }

  // --- objects ---------------------------------------------------------------------------------------

  hasNamespace(name: string): boolean {
    return this.store.get('namespaces', undefined, name) !== undefined;
  }

  addNamespace(name: string, labels: Record<string, string> = {}): KubeObject {
    return this.store.create('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: '', resourceVersion: '', creationTimestamp: '', labels: { 'kubernetes.io/metadata.name': name, ...labels } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  /**
   * Adds a Node as a kubelet registers it, with the well-known labels, a Ready condition, its
   * addresses (a loopback InternalIP of its own, so nothing leaves this machine) and nodeInfo.
   */
  addNode(name: string, opts: AddNodeOptions = {}): KubeObject {
    if (this.store.get('nodes', undefined, name)) throw new Error(`node ${name} already exists`);
    const n = ++this.nodeCount;
    const region = opts.region ?? (opts.zone ? /^(.*\d)-?[a-z]$/.exec(opts.zone)?.[1] : undefined);
    const now = k8sTime();
    const ready = opts.ready ?? true;
    const resources = { cpu: '4', 'ephemeral-storage': '83873772Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '16203312Ki', pods: '110' };
    return this.store.create('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: {
          'beta.kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          ...(region ? { 'topology.kubernetes.io/region': region } : {}),
          ...(opts.zone ? { 'topology.kubernetes.io/zone': opts.zone } : {}),
          ...opts.labels,
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
      },
      spec: {},
      status: {
        capacity: resources,
        allocatable: { ...resources, cpu: '3920m', 'ephemeral-storage': '76224326324', memory: '15186392Ki' },
        conditions: [
          nodeCondition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', now),
          nodeCondition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', now),
          nodeCondition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', now),
          ready
            ? nodeCondition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', now)
            : nodeCondition(
                'Ready',
                'False',
                'KubeletNotReady',
                'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized',
                now,
              ),
        ],
        addresses: [
          { type: 'InternalIP', address: `127.243.${(n >> 8) & 255}.${n & 255}` },
          { type: 'Hostname', address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: randomBytes(16).toString('hex'),
          systemUUID: randomUUID(),
          bootID: randomUUID(),
          kernelVersion: '6.8.0-1029-aws',
          osImage: 'Ubuntu 24.04.2 LTS',
          containerRuntimeVersion: 'containerd://2.0.5',
          kubeletVersion: SERVER_VERSION.gitVersion,
          kubeProxyVersion: '',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    });
  }

  /** Adds a pod (its namespace too, if missing). With netns on, the pod gets its own network namespace. */
  async addPod(opts: AddPodOptions): Promise<{ pod: Pod; network?: PodNetwork }> {
    if (this.store.get('pods', opts.namespace, opts.name)) throw new Error(`pod ${opts.namespace}/${opts.name} already exists`);
    const owner = opts.owner;
    if (owner) {
      if (owner.kind === 'Deployment') throw new Error(`pod ${opts.namespace}/${opts.name}: a Deployment owns no pods, its ReplicaSets do (addReplicaSet)`);
      if (owner.metadata.namespace !== opts.namespace)
        throw new Error(`pod ${opts.namespace}/${opts.name}: owner ${owner.kind} ${owner.metadata.namespace}/${owner.metadata.name} is in another namespace`);
      if (opts.ownerReferences) throw new Error(`pod ${opts.namespace}/${opts.name}: give owner or ownerReferences, not both`);
    }
    const labels = owner ? { ...(owner.spec as WorkloadSpec).template.metadata.labels, ...opts.labels } : opts.labels;
    const ownerReferences = owner ? [controllerRef(owner)] : opts.ownerReferences;
    const nodeName = opts.nodeName ?? DEFAULT_NODE;
    if (!this.store.get('namespaces', undefined, opts.namespace)) this.addNamespace(opts.namespace);
    let network: PodNetwork | undefined;
    if (this.opts.netns) {
      network = await createPodNetwork(opts.network ?? {});
      this.networks.set(`${opts.namespace}/${opts.name}`, network);
    }
    // Without a network namespace the pod IP is a loopback address: whatever tries to reach it stays on this machine.
    const n = ++this.podCount;
    const podIp = network?.podIp ?? `127.244.${(n >> 8) & 255}.${n & 255}`;
    // The kubelet reports its node's InternalIP as the pod's hostIP (loopback on an unregistered node).
    const hostIp = network?.hostIp ?? this.nodeIp(nodeName) ?? '127.0.0.1';
    const phase = opts.phase ?? 'Running';
    const created = k8sTime();
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: opts.name,
        namespace: opts.namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: created,
        ...(labels ? { labels: { ...labels } } : {}),
        ...(opts.annotations ? { annotations: { ...opts.annotations } } : {}),
        ...(ownerReferences ? { ownerReferences: clone(ownerReferences) } : {}),
      },
      spec: {
        containers: opts.containers.map((c) => defaultContainer({ ...clone(c) })),
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: 'default',
        serviceAccount: 'default',
        nodeName,
        securityContext: clone(opts.securityContext ?? {}),
        schedulerName: 'default-scheduler',
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
        priority: 0,
      },
      status: {
        phase,
        hostIP: hostIp,
        hostIPs: [{ ip: hostIp }],
        podIP: podIp,
        podIPs: [{ ip: podIp }],
        startTime: created,
        qosClass: 'BestEffort',
      },
    };
    this.applyPhase(pod, phase);
    const stored = this.store.create('pods', pod);
    return network ? { pod: stored, network } : { pod: stored };
  }

  /** Removes a pod (watchers see DELETED), killing its ephemeral containers' processes. */
  deletePod(namespace: string, name: string): KubeObject | undefined {
    const deleted = this.store.delete('pods', namespace, name);
    this.kubelet.podDeleted(namespace, name);
    const network = this.networks.get(`${namespace}/${name}`);
    if (network) {
      this.networks.delete(`${namespace}/${name}`);
      this.retiredNetworks.push(network);
    }
    return deleted;
  }

  /** Adds an apps/v1 workload (kind in either case) whose selector and pod template use `matchLabels`. */
  addWorkload(kindName: WorkloadKind | Lowercase<WorkloadKind>, opts: { namespace: string; name: string; matchLabels: Record<string, string>; replicas?: number }): KubeObject {
    const kind = WORKLOAD_KINDS[kindName.toLowerCase()];
    if (!kind) throw new Error(`unknown workload kind ${kindName}`);
    if (!this.store.get('namespaces', undefined, opts.namespace)) this.addNamespace(opts.namespace);
    const replicas = opts.replicas ?? 1;
    const template = {
      metadata: { labels: { ...opts.matchLabels } },
      spec: { containers: [defaultContainer({ name: 'app', image: 'nginx:1.27' })] },
    };
    const spec: Record<string, unknown> = { selector: { matchLabels: { ...opts.matchLabels } }, template };
    if (kind !== 'DaemonSet') spec.replicas = replicas;
    if (kind === 'StatefulSet') spec.serviceName = opts.name;
    const status =
      kind === 'DaemonSet'
        ? { currentNumberScheduled: 1, desiredNumberScheduled: 1, numberReady: 1, numberAvailable: 1, observedGeneration: 1 }
        : { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 };
    return this.store.create(WORKLOAD_RESOURCE[kind], {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name: opts.name, namespace: opts.namespace, uid: '', resourceVersion: '', creationTimestamp: '', generation: 1 },
      spec,
      status,
    });
  }

  /**
   * Adds a ReplicaSet of a Deployment from addWorkload, as the Deployment controller makes one per
   * rollout: named <deployment>-<hash>, controlled by the Deployment, selecting its matchLabels plus
   * pod-template-hash=<hash>; revisions count up in the order they are added. `replicas` defaults to the
   * Deployment's. Pass it to addPod as `owner` for its pods.
   */
  addReplicaSet(opts: { namespace: string; deployment: string; hash: string; replicas?: number }): KubeObject {
    const deployment = this.store.get('deployments', opts.namespace, opts.deployment);
    if (!deployment) throw new Error(`deployment ${opts.namespace}/${opts.deployment} does not exist`);
    const spec = deployment.spec as WorkloadSpec;
    const desired = spec.replicas ?? 1;
    const replicas = opts.replicas ?? desired;
    const labels = { ...spec.selector.matchLabels, 'pod-template-hash': opts.hash };
    const revision =
      this.store.list('replicasets', opts.namespace).filter((rs) => rs.metadata.ownerReferences?.some((r) => r.controller && r.uid === deployment.metadata.uid)).length + 1;
    return this.store.create('replicasets', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${opts.deployment}-${opts.hash}`,
        namespace: opts.namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        generation: 1,
        labels,
        // max-replicas: desired plus the default maxSurge of 25%, rounded up.
        annotations: {
          'deployment.kubernetes.io/desired-replicas': String(desired),
          'deployment.kubernetes.io/max-replicas': String(desired + Math.ceil(desired / 4)),
          'deployment.kubernetes.io/revision': String(revision),
        },
        ownerReferences: [controllerRef(deployment)],
      },
      spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: clone(spec.template.spec) } },
      // The counts other than replicas are omitempty: a scaled-down ReplicaSet has none.
      status: { replicas, ...(replicas ? { fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas } : {}), observedGeneration: 1 },
    });
  }

  /** Changes a pod's phase and its containers' states; a pod that starts Running gets its waiting ephemeral containers started. */
  setPodPhase(namespace: string, name: string, phase: PodPhase): Pod {
    const pod = this.getPod(namespace, name);
    if (!pod) throw new Error(`pod ${namespace}/${name} does not exist`);
    pod.status.phase = phase;
    this.applyPhase(pod, phase);
    const stored = this.store.update('pods', pod);
    this.kubelet.sync(namespace, name);
    return stored;
  }

  getPod(namespace: string, name: string): Pod | undefined {
    return this.store.get('pods', namespace, name) as Pod | undefined;
  }

  /** The current resourceVersion of the whole store (what a list would return). */
  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  /** Pod watches open now in `namespace`; without one, every open pod watch. */
  openPodWatches(namespace?: string): number {
    return this.store.openWatches('pods', namespace);
  }

  /** The network namespace of a pod, when the emulator runs with netns on. */
  podNetwork(namespace: string, name: string): PodNetwork | undefined {
    return this.networks.get(`${namespace}/${name}`);
  }

  /**
   * Where the node's containers are scheduled: one CPU cgroup shared by all of them (as a real node's
   * pods share `kubepods`) and its weight, or why they are not; undefined until the first container
   * was started.
   */
  nodeCpuGroup(): CpuGroup | undefined {
    return this.kubelet.cpuGroup();
  }

  /** When the container's last line of output so far reached the kubelet (epoch ms); undefined before any. */
  lastLogLineAt(namespace: string, pod: string, container: string): number | undefined {
    const last = this.kubelet.log(namespace, pod, container).lines.at(-1);
    return last && Date.parse(last.time);
  }

  /**
   * Calls `changed` with every pod as each change to it is stored, in every namespace, as a watch of
   * the API server would see it (the store's own copy: read it, never keep or change it). Not a
   * request, so not counted in `requests`; it is counted in openPodWatches(). Returns the stop.
   */
  onPodChange(changed: (pod: Pod) => void): () => void {
    const started = this.store.watch({ resource: 'pods', matches: () => true, resourceVersion: Number(this.store.resourceVersion), send: (event) => changed(event.object as Pod) });
    if ('expired' in started) throw new Error('the store has no history at its own resourceVersion');
    return started.stop;
  }

  /** Appends output to a container's log (regular containers log nothing otherwise). */
  appendLog(namespace: string, pod: string, container: string, text: string): void {
    this.kubelet.log(namespace, pod, container).write('stdout', text);
  }

  // --- behaviour switches ----------------------------------------------------------------------------

  /**
   * Makes the authorizer deny `verb` on `resource` (optionally a subresource; 'pods/log' works too)
   * with the RBAC 403 body, in every namespace.
   */
  deny(verb: RecordedRequest['verb'], resource: string, subresource?: string): void {
    const [res, sub] = resource.includes('/') ? resource.split('/', 2) : [resource, subresource];
    this.denyRules.push({ verb, resource: res ?? resource, ...(sub ? { subresource: sub } : {}) });
  }

  /**
   * The next `times` requests with this verb on this resource (e.g. 'patch', 'pods/ephemeralcontainers')
   * get `fault`: a 5xx or 429, a late answer, a watch cut short, or a watch told its version expired.
   */
  injectFault(verb: RecordedRequest['verb'], resource: string, fault: ApiFault, times = 1): void {
    const [res, sub] = resource.split('/');
    this.faults.push({ verb, resource: res ?? resource, subresource: sub ?? '', fault, times });
  }

  /** Ephemeral containers using exactly this image go ErrImagePull, then ImagePullBackOff forever. */
  failImagePull(image: string): void {
    this.failingImages.add(image);
  }

  /** Time between an ephemeral container's ContainerCreating and its start (or pull failure). Default 50 ms. */
  setStartDelay(ms: number): void {
    this.startDelayMs = ms;
  }

  /**
   * Time between a container's exit and the node reporting it terminated. Default 0; a real
   * kubelet notices an exit on its next relist, up to a second later, while the container's log
   * (followed or read) is whole from the exit on.
   */
  setExitReportDelay(ms: number): void {
    this.exitReportDelayMs = ms;
  }

  /**
   * How long a followed log stays open after its container exited. Default 0; a real kubelet
   * checks a followed container's state every second (logForceCheckPeriod) and ends the follow
   * only then, although the log is whole from the exit on.
   */
  setFollowEndDelay(ms: number): void {
    this.followEndDelayMs = ms;
  }

  /** The InternalIP of a node added with addNode. */
  private nodeIp(name: string): string | undefined {
    const status = this.store.get('nodes', undefined, name)?.status as { addresses: { type: string; address: string }[] } | undefined;
    return status?.addresses.find((a) => a.type === 'InternalIP')?.address;
  }

  private applyPhase(pod: Pod, phase: PodPhase): void {
    const now = k8sTime();
    const state = (): ContainerStatus['state'] => {
      switch (phase) {
        case 'Running':
          return { running: { startedAt: pod.status.startTime ?? now } };
        case 'Succeeded':
          return { terminated: { exitCode: 0, reason: 'Completed', startedAt: pod.status.startTime ?? now, finishedAt: now } };
        case 'Failed':
          return { terminated: { exitCode: 1, reason: 'Error', startedAt: pod.status.startTime ?? now, finishedAt: now } };
        default:
          return { waiting: { reason: 'ContainerCreating' } };
      }
    };
    pod.status.containerStatuses = pod.spec.containers.map((c) => ({
      name: c.name,
      state: state(),
      lastState: {},
      ready: phase === 'Running',
      restartCount: 0,
      image: c.image ?? '',
      imageID: '',
      started: phase === 'Running',
      ...(phase === 'Pending' ? {} : { containerID: `containerd://${randomBytes(32).toString('hex')}` }),
    }));
    const ready = phase === 'Running' ? 'True' : 'False';
    pod.status.conditions = [
      { type: 'PodReadyToStartContainers', status: phase === 'Pending' ? 'False' : 'True', lastProbeTime: null, lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      { type: 'Ready', status: ready, lastProbeTime: null, lastTransitionTime: now },
      { type: 'ContainersReady', status: ready, lastProbeTime: null, lastTransitionTime: now },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now },
    ];
  }
}
