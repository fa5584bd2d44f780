// Discovery documents and server-side printing (meta.k8s.io/v1 Table), the parts of the API that
// kubectl needs before and while it prints anything.
import { apiVersionOf, RESOURCES, type ResourceInfo } from './store.js';
import type { KubeObject, Pod } from './types.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.1',
  gitCommit: '8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828',
  gitTreeState: 'clean',
  buildDate: '2025-05-15T08:19:08Z',
  goVersion: 'go1.24.2',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function singular(info: ResourceInfo): string {
  return info.kind.toLowerCase();
}

/** APIResourceList for /api/v1 or /apis/apps/v1. */
export function apiResourceList(group: '' | 'apps', ephemeralContainersEnabled: boolean): object {
  const resources: object[] = [];
  for (const info of Object.values(RESOURCES) as ResourceInfo[]) {
    if (info.group !== group) continue;
    resources.push({
      name: info.resource,
      singularName: singular(info),
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.resource === 'namespaces' ? ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] : ALL_VERBS,
      ...(info.shortNames ? { shortNames: info.shortNames } : {}),
      // `kubectl get all` means the namespaced workload resources: no namespaces, no nodes.
      ...(info.namespaced ? { categories: ['all'] } : {}),
    });
    if (info.resource === 'pods') {
      if (ephemeralContainersEnabled) resources.push({ name: 'pods/ephemeralcontainers', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] });
      resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
      resources.push({ name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/v1` : 'v1', resources };
}

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

const APPS_GROUP = { name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } };

export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [APPS_GROUP] };
}

export function apiGroup(): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...APPS_GROUP };
}

// --- Tables ----------------------------------------------------------------------------------------------

/** duration.HumanDuration, as the AGE column prints it. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function age(obj: KubeObject): string {
  return humanDuration(Date.now() - Date.parse(obj.metadata.creationTimestamp));
}

const NAME_DOC =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const AGE_DOC =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}
const col = (name: string, description: string, priority = 0, format = ''): Column => ({ name, type: 'string', format, description, priority });
const intCol = (name: string, description: string): Column => ({ ...col(name, description), type: 'integer' });

const POD_COLUMNS: Column[] = [
  col('Name', NAME_DOC, 0, 'name'),
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'The aggregate status of the containers in this pod.'),
  col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  col('Age', AGE_DOC),
  col('IP', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
  col('Node', 'NodeName indicates in which node this pod is scheduled.', 1),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
];

/** printPod's STATUS column, simplified: waiting/terminated reasons win over the phase. */
function podStatusReason(pod: Pod): string {
  if (typeof pod.status.reason === 'string' && pod.status.reason) return pod.status.reason;
  let reason: string = pod.status.phase;
  for (const cs of pod.status.containerStatuses ?? []) {
    if (cs.state.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state.terminated?.reason) reason = cs.state.terminated.reason;
  }
  if (pod.status.phase === 'Running' && reason === 'Completed') reason = 'Running';
  if (pod.status.phase === 'Succeeded') reason = 'Completed';
  if (pod.metadata.deletionTimestamp) reason = 'Terminating';
  return reason;
}

function podCells(pod: Pod): unknown[] {
  const statuses = pod.status.containerStatuses ?? [];
  const ready = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((n, s) => n + s.restartCount, 0);
  return [
    pod.metadata.name,
    `${ready}/${pod.spec.containers.length}`,
    podStatusReason(pod),
    String(restarts),
    age(pod),
    pod.status.podIP || '<none>',
    pod.spec.nodeName || '<none>',
    '<none>',
    '<none>',
  ];
}

const NODE_ADDRESSES_DOC =
  "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

const NODE_COLUMNS: Column[] = [
  col('Name', NAME_DOC, 0, 'name'),
  col('Status', 'The status of the node'),
  col('Roles', 'The roles of the node'),
  col('Age', AGE_DOC),
  col('Version', 'Kubelet Version reported by the node.'),
  col('Internal-IP', NODE_ADDRESSES_DOC, 1),
  col('External-IP', NODE_ADDRESSES_DOC, 1),
  col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
  col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
  col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
];

type Node = KubeObject & {
  spec?: { unschedulable?: boolean };
  status?: {
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
    nodeInfo?: { kubeletVersion?: string; osImage?: string; kernelVersion?: string; containerRuntimeVersion?: string };
  };
};

const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';

/** printNode: the Ready condition (or Unknown), SchedulingDisabled, and the roles from node-role labels. */
function nodeCells(node: Node): unknown[] {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const status = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(node.metadata.labels ?? {})) {
    const role = key.startsWith(NODE_ROLE_PREFIX) ? key.slice(NODE_ROLE_PREFIX.length) : key === 'kubernetes.io/role' ? value : '';
    if (role) roles.add(role);
  }
  const address = (type: string): string => node.status?.addresses?.find((a) => a.type === type)?.address ?? '<none>';
  const info = node.status?.nodeInfo ?? {};
  return [
    node.metadata.name,
    status.join(','),
    [...roles].sort().join(',') || '<none>',
    age(node),
    info.kubeletVersion ?? '',
    address('InternalIP'),
    address('ExternalIP'),
    info.osImage || '<unknown>',
    info.kernelVersion || '<unknown>',
    info.containerRuntimeVersion || '<unknown>',
  ];
}

const REPLICASET_COLUMNS: Column[] = [
  col('Name', NAME_DOC, 0, 'name'),
  intCol(
    'Desired',
    'Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset',
  ),
  intCol('Current', 'Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset'),
  intCol('Ready', 'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.'),
  col('Age', AGE_DOC),
  col('Containers', 'Names of each container in the template.', 1),
  col('Images', 'Images referenced by each container in the template.', 1),
  col(
    'Selector',
    "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    1,
  ),
];

type ReplicaSet = KubeObject & {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { spec?: { containers?: { name: string; image?: string }[] } };
  };
  status?: { replicas?: number; readyReplicas?: number };
};

/** printReplicaSet; the selector as metav1.FormatLabelSelector prints matchLabels (sorted by key). */
function replicaSetCells(rs: ReplicaSet): unknown[] {
  const containers = rs.spec?.template?.spec?.containers ?? [];
  const matchLabels = rs.spec?.selector?.matchLabels ?? {};
  const selector = Object.keys(matchLabels)
    .sort()
    .map((k) => `${k}=${matchLabels[k]}`)
    .join(',');
  return [
    rs.metadata.name,
    rs.spec?.replicas ?? 0,
    rs.status?.replicas ?? 0,
    rs.status?.readyReplicas ?? 0,
    age(rs),
    containers.map((c) => c.name).join(','),
    containers.map((c) => c.image ?? '').join(','),
    selector || '<none>',
  ];
}

function columnsAndCells(resource: string): { columns: Column[]; cells: (obj: KubeObject) => unknown[] } {
  switch (resource) {
    case 'pods':
      return { columns: POD_COLUMNS, cells: (o) => podCells(o as Pod) };
    case 'nodes':
      return { columns: NODE_COLUMNS, cells: (o) => nodeCells(o as Node) };
    case 'replicasets':
      return { columns: REPLICASET_COLUMNS, cells: (o) => replicaSetCells(o as ReplicaSet) };
    case 'namespaces':
      return {
        columns: [col('Name', NAME_DOC, 0, 'name'), col('Status', 'The status of the namespace'), col('Age', AGE_DOC)],
        cells: (o) => [o.metadata.name, (o.status as { phase?: string } | undefined)?.phase ?? 'Active', age(o)],
      };
    default:
      return { columns: [col('Name', NAME_DOC, 0, 'name'), col('Age', AGE_DOC)], cells: (o) => [o.metadata.name, age(o)] };
  }
}

/** A meta.k8s.io/v1 Table for `objects`; `includeObject` follows the query parameter of that name. */
export function table(resource: string, objects: KubeObject[], resourceVersion: string, includeObject: string | null, cont?: string): object {
  const { columns, cells } = columnsAndCells(resource);
  const info = (RESOURCES as Record<string, ResourceInfo>)[resource];
  const rows = objects.map((obj) => {
    const row: Record<string, unknown> = { cells: cells(obj) };
    if (includeObject === 'Object') row.object = { ...obj, kind: info?.kind ?? obj.kind, apiVersion: info ? apiVersionOf(info) : obj.apiVersion };
    else if (includeObject !== 'None') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion, ...(cont ? { continue: cont } : {}) },
    columnDefinitions: columns,
    rows,
  };
}
