// The emulator's nodes and Deployment rollouts (what `--all` reads: which node and zone each pod runs
// in, which ReplicaSet made it), against the real @kubernetes/client-node and the real kubectl v1.33.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_NODE, KubeEmulator, type KubeObject } from '../../src/playground/kube-emulator.js';
import { kubectlPath } from '../support/kubectl.js';

const execFileAsync = promisify(execFile);

/** The HTTP status and the parsed Status body of a call client-node rejects with an ApiException. */
async function apiError(promise: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const e = err as ApiException<string>;
    return { code: e.code, status: JSON.parse(e.body) as Record<string, unknown> };
  }
  throw new Error('expected the call to fail');
}

const FORBIDDEN_USER = 'system:serviceaccount:kdebug:kdebug-worker';

/**
 * Three nodes in two zones (one NotReady, one with a role); Deployment prod/web mid-rollout: ReplicaSet
 * web-5d9f8b7c6d (revision 1) with 2 pods, web-7c4b9d8f5 (revision 2) with 4; 6 pods over the 3 nodes.
 */
async function seed(emu: KubeEmulator): Promise<{ deploy: KubeObject; old: KubeObject; current: KubeObject }> {
  emu.addNode('ip-10-0-1-7', { zone: 'eu-west-1a' });
  emu.addNode('ip-10-0-2-9', { zone: 'eu-west-1b', labels: { 'node-role.kubernetes.io/ingress': '' } });
  emu.addNode('ip-10-0-2-4', { zone: 'eu-west-1b', ready: false });
  const deploy = emu.addWorkload('deployment', { namespace: 'prod', name: 'web', matchLabels: { app: 'web' }, replicas: 6 });
  const old = emu.addReplicaSet({ namespace: 'prod', deployment: 'web', hash: '5d9f8b7c6d', replicas: 2 });
  const current = emu.addReplicaSet({ namespace: 'prod', deployment: 'web', hash: '7c4b9d8f5', replicas: 4 });
  const pods: [KubeObject, string, string][] = [
    [old, 'web-5d9f8b7c6d-x2k4p', 'ip-10-0-1-7'],
    [old, 'web-5d9f8b7c6d-q8w7z', 'ip-10-0-2-9'],
    [current, 'web-7c4b9d8f5-a1b2c', 'ip-10-0-1-7'],
    [current, 'web-7c4b9d8f5-d3e4f', 'ip-10-0-2-9'],
    [current, 'web-7c4b9d8f5-g5h6j', 'ip-10-0-2-4'],
    [current, 'web-7c4b9d8f5-k7m8n', 'ip-10-0-2-4'],
  ];
  for (const [owner, name, nodeName] of pods) await emu.addPod({ namespace: 'prod', name, owner, nodeName, containers: [{ name: 'app', image: 'nginx:1.27' }] });
  return { deploy, old, current };
}

describe('nodes and ReplicaSets with @kubernetes/client-node', () => {
  let emu: KubeEmulator;
  let dir: string;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let seeded: Awaited<ReturnType<typeof seed>>;

  beforeEach(async () => {
    emu = new KubeEmulator();
    await emu.start();
    seeded = await seed(emu);
    dir = mkdtempSync(join(tmpdir(), 'kube-emulator-nodes-'));
    emu.writeKubeconfig(join(dir, 'kubeconfig'));
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir, 'kubeconfig'));
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });

  afterEach(async () => {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('readNode: the labels, conditions, addresses and nodeInfo a kubelet registers; a cluster-scoped get', async () => {
    const node = await core.readNode({ name: 'ip-10-0-2-9' });
    expect(node.metadata?.labels).toEqual({
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': 'ip-10-0-2-9',
      'kubernetes.io/os': 'linux',
      'topology.kubernetes.io/region': 'eu-west-1',
      'topology.kubernetes.io/zone': 'eu-west-1b',
      'node-role.kubernetes.io/ingress': '',
    });
    expect(node.metadata?.namespace).toBeUndefined();
    expect(node.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}`)).toEqual([
      'MemoryPressure=False KubeletHasSufficientMemory',
      'DiskPressure=False KubeletHasNoDiskPressure',
      'PIDPressure=False KubeletHasSufficientPID',
      'Ready=True KubeletReady',
    ]);
    // client-node turns heartbeats into Dates, as for a real node.
    expect(node.status?.conditions?.[3]?.lastHeartbeatTime).toBeInstanceOf(Date);
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '127.243.0.2' },
      { type: 'Hostname', address: 'ip-10-0-2-9' },
    ]);
    expect(node.status?.nodeInfo).toMatchObject({ kubeletVersion: 'v1.33.1', operatingSystem: 'linux', architecture: 'amd64', containerRuntimeVersion: 'containerd://2.0.5' });
    expect((await core.readNode({ name: 'ip-10-0-2-4' })).status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'KubeletNotReady' });

    // The authorizer sees a cluster-scoped request: no namespace at all.
    expect(emu.requests.at(-1)).toEqual({ verb: 'get', apiGroup: '', resource: 'nodes', name: 'ip-10-0-2-4' });
  });

  test('discovery serves nodes as core v1, cluster-scoped, short name no, outside the "all" category', async () => {
    const res = await fetch(`${emu.url}/api/v1`, { headers: { Authorization: `Bearer ${emu.token}` } });
    const { resources } = (await res.json()) as { resources: { name: string }[] };
    expect(resources.find((r) => r.name === 'nodes')).toEqual({
      name: 'nodes',
      singularName: 'node',
      namespaced: false,
      kind: 'Node',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['no'],
    });
  });

  test('the region comes from the zone (AWS and GCP names), or is given, or is absent', async () => {
    emu.addNode('gke-a', { zone: 'europe-west1-b' });
    emu.addNode('onprem-a', { zone: 'rack-a' });
    emu.addNode('onprem-b', { zone: 'rack-b', region: 'dc1' });
    emu.addNode('bare');
    const labels = async (name: string): Promise<[string | undefined, string | undefined]> => {
      const l = (await core.readNode({ name })).metadata?.labels ?? {};
      return [l['topology.kubernetes.io/region'], l['topology.kubernetes.io/zone']];
    };
    expect(await labels('gke-a')).toEqual(['europe-west1', 'europe-west1-b']);
    expect(await labels('onprem-a')).toEqual([undefined, 'rack-a']);
    expect(await labels('onprem-b')).toEqual(['dc1', 'rack-b']);
    expect(await labels('bare')).toEqual([undefined, undefined]);
  });

  test('listNode: label selectors, metadata.name and spec.unschedulable field selectors, and what nodes cannot be selected by', async () => {
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
      const list = await core.listNode({ ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
      expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
      return list.items.map((n) => n.metadata?.name ?? '');
    };
    expect(await names()).toEqual(['ip-10-0-1-7', 'ip-10-0-2-4', 'ip-10-0-2-9']);
    expect(await names('topology.kubernetes.io/zone=eu-west-1b')).toEqual(['ip-10-0-2-4', 'ip-10-0-2-9']);
    expect(await names('topology.kubernetes.io/zone in (eu-west-1a),kubernetes.io/os=linux')).toEqual(['ip-10-0-1-7']);
    expect(await names('node-role.kubernetes.io/ingress')).toEqual(['ip-10-0-2-9']);
    expect(await names(undefined, 'metadata.name=ip-10-0-2-4')).toEqual(['ip-10-0-2-4']);
    // An absent spec.unschedulable selects as "false", as the API server's NodeToSelectableFields has it.
    expect(await names(undefined, 'spec.unschedulable=false')).toEqual(['ip-10-0-1-7', 'ip-10-0-2-4', 'ip-10-0-2-9']);
    expect(await names(undefined, 'spec.unschedulable=true')).toEqual([]);

    const bad = await apiError(core.listNode({ fieldSelector: 'metadata.namespace=prod' }));
    expect(bad).toMatchObject({ code: 400, status: { reason: 'BadRequest', message: 'field label not supported: metadata.namespace' } });
    expect(emu.requests).toContainEqual({ verb: 'list', apiGroup: '', resource: 'nodes' });
  });

  test('watch nodes: ADDED for the current ones, then for a node added later, within the selector', async () => {
    setTimeout(() => {
      emu.addNode('ip-10-0-2-11', { zone: 'eu-west-1b' });
      emu.addNode('ip-10-0-3-5', { zone: 'eu-west-1c' });
    }, 100);
    const res = await fetch(`${emu.url}/api/v1/nodes?watch=true&labelSelector=topology.kubernetes.io%2Fzone%3Deu-west-1b&timeoutSeconds=1`, {
      headers: { Authorization: `Bearer ${emu.token}` },
    });
    const events = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; object: { kind: string; metadata: { name: string } } });
    expect(events.map((e) => `${e.type} ${e.object.kind} ${e.object.metadata.name}`)).toEqual(['ADDED Node ip-10-0-2-4', 'ADDED Node ip-10-0-2-9', 'ADDED Node ip-10-0-2-11']);
    expect(emu.requests).toContainEqual({ verb: 'watch', apiGroup: '', resource: 'nodes' });
  });

  test("a missing node is the API server's 404; a denied get nodes its cluster-scope 403, before the lookup", async () => {
    const missing = await apiError(core.readNode({ name: 'nope' }));
    expect(missing).toEqual({
      code: 404,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'nodes "nope" not found',
        reason: 'NotFound',
        details: { name: 'nope', kind: 'nodes' },
        code: 404,
      },
    });
    // Nodes are not namespaced: under a namespace there is no such path.
    const nested = await fetch(`${emu.url}/api/v1/namespaces/prod/nodes/ip-10-0-1-7`, { headers: { Authorization: `Bearer ${emu.token}` } });
    expect(nested.status).toBe(404);
    expect(await nested.json()).toMatchObject({ message: 'the server could not find the requested resource' });

    emu.deny('get', 'nodes');
    for (const name of ['ip-10-0-1-7', 'nope']) {
      const denied = await apiError(core.readNode({ name }));
      expect(denied).toEqual({
        code: 403,
        status: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `nodes "${name}" is forbidden: User "${FORBIDDEN_USER}" cannot get resource "nodes" in API group "" at the cluster scope`,
          reason: 'Forbidden',
          details: { name, kind: 'nodes' },
          code: 403,
        },
      });
      expect(emu.requests.at(-1)).toEqual({ verb: 'get', apiGroup: '', resource: 'nodes', name });
    }
    // Only get is denied: a list still answers.
    expect((await core.listNode({})).items).toHaveLength(3);
    emu.deny('list', 'nodes');
    expect((await apiError(core.listNode({}))).status.message).toBe(
      `nodes is forbidden: User "${FORBIDDEN_USER}" cannot list resource "nodes" in API group "" at the cluster scope`,
    );
  });

  test('a rollout: ReplicaSets controlled by the Deployment, pods controlled by their ReplicaSet, on their nodes', async () => {
    const { deploy, old, current } = seeded;
    const list = await apps.listNamespacedReplicaSet({ namespace: 'prod' });
    expect(list.items.map((rs) => rs.metadata?.name)).toEqual(['web-5d9f8b7c6d', 'web-7c4b9d8f5']);
    const rs = list.items[1]!;
    expect(rs.metadata?.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deploy.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    expect(rs.metadata?.labels).toEqual({ app: 'web', 'pod-template-hash': '7c4b9d8f5' });
    expect(rs.metadata?.annotations).toEqual({
      'deployment.kubernetes.io/desired-replicas': '6',
      'deployment.kubernetes.io/max-replicas': '8',
      'deployment.kubernetes.io/revision': '2',
    });
    expect(list.items[0]?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(rs.spec?.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': '7c4b9d8f5' });
    expect(rs.spec?.template?.metadata?.labels).toEqual({ app: 'web', 'pod-template-hash': '7c4b9d8f5' });
    expect(rs.spec?.template?.spec?.containers.map((c) => c.image)).toEqual(['nginx:1.27']);
    expect([rs.spec?.replicas, rs.status?.replicas, rs.status?.readyReplicas]).toEqual([4, 4, 4]);
    expect(old.metadata.uid).not.toBe(current.metadata.uid);

    // What --all does: the Deployment's pods by its selector, each pod's ReplicaSet by its controller uid.
    const pods = (await core.listNamespacedPod({ namespace: 'prod', labelSelector: 'app=web' })).items;
    const rsByUid = new Map(list.items.map((r) => [r.metadata?.uid, r.metadata?.name]));
    expect(pods.map((p) => `${p.metadata?.name} ${rsByUid.get(p.metadata?.ownerReferences?.find((o) => o.controller)?.uid)} ${p.spec?.nodeName}`)).toEqual([
      'web-5d9f8b7c6d-q8w7z web-5d9f8b7c6d ip-10-0-2-9',
      'web-5d9f8b7c6d-x2k4p web-5d9f8b7c6d ip-10-0-1-7',
      'web-7c4b9d8f5-a1b2c web-7c4b9d8f5 ip-10-0-1-7',
      'web-7c4b9d8f5-d3e4f web-7c4b9d8f5 ip-10-0-2-9',
      'web-7c4b9d8f5-g5h6j web-7c4b9d8f5 ip-10-0-2-4',
      'web-7c4b9d8f5-k7m8n web-7c4b9d8f5 ip-10-0-2-4',
    ]);
    const pod = pods[0]!;
    expect(pod.metadata?.labels).toEqual({ app: 'web', 'pod-template-hash': '5d9f8b7c6d' });
    expect(pod.metadata?.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9f8b7c6d', uid: old.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    // The pod's hostIP is its node's InternalIP.
    expect(pod.status?.hostIP).toBe('127.243.0.2');

    expect((await core.listNamespacedPod({ namespace: 'prod', labelSelector: 'pod-template-hash=5d9f8b7c6d' })).items.map((p) => p.metadata?.name)).toEqual([
      'web-5d9f8b7c6d-q8w7z',
      'web-5d9f8b7c6d-x2k4p',
    ]);
    expect((await core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'spec.nodeName=ip-10-0-2-4' })).items.map((p) => p.metadata?.name)).toEqual([
      'web-7c4b9d8f5-g5h6j',
      'web-7c4b9d8f5-k7m8n',
    ]);
    expect(emu.requests).toContainEqual({ verb: 'list', apiGroup: 'apps', resource: 'replicasets', namespace: 'prod' });

    // A fully rolled-out ReplicaSet keeps 0 replicas and no other counts (they are omitempty).
    emu.addWorkload('deployment', { namespace: 'prod', name: 'api', matchLabels: { app: 'api' } });
    const drained = emu.addReplicaSet({ namespace: 'prod', deployment: 'api', hash: '6b8d9f7c4', replicas: 0 });
    expect(drained.status).toEqual({ replicas: 0, observedGeneration: 1 });
    expect(drained.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(() => emu.addReplicaSet({ namespace: 'prod', deployment: 'nope', hash: 'abc' })).toThrow('deployment prod/nope does not exist');
  });

  test('StatefulSet and DaemonSet pods are owned by their workload directly; a Deployment owns no pods', async () => {
    const sts = emu.addWorkload('statefulset', { namespace: 'prod', name: 'db', matchLabels: { app: 'db' } });
    const ds = emu.addWorkload('daemonset', { namespace: 'prod', name: 'agent', matchLabels: { app: 'agent' } });
    expect(sts.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const { pod: db } = await emu.addPod({ namespace: 'prod', name: 'db-0', owner: sts, labels: { role: 'primary' }, containers: [{ name: 'app', image: 'postgres:17' }] });
    const { pod: agent } = await emu.addPod({ namespace: 'prod', name: 'agent-x7k2p', owner: ds, nodeName: 'ip-10-0-2-4', containers: [{ name: 'app', image: 'agent:1' }] });
    expect(db.metadata.labels).toEqual({ app: 'db', role: 'primary' });
    expect(db.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(agent.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true }]);

    const pod = { name: 'x', containers: [{ name: 'app', image: 'x:1' }] };
    await expect(emu.addPod({ ...pod, namespace: 'prod', owner: seeded.deploy })).rejects.toThrow('pod prod/x: a Deployment owns no pods, its ReplicaSets do (addReplicaSet)');
    await expect(emu.addPod({ ...pod, namespace: 'staging', owner: sts })).rejects.toThrow('pod staging/x: owner StatefulSet prod/db is in another namespace');
  });

  test('pods without a nodeName run on DEFAULT_NODE, which needs no Node object but can have one', async () => {
    const { pod: before } = await emu.addPod({ namespace: 'prod', name: 'lone-0', containers: [{ name: 'app', image: 'x:1' }] });
    expect(before.spec.nodeName).toBe('emulator-node');
    expect(before.status.hostIP).toBe('127.0.0.1');
    expect((await apiError(core.readNode({ name: DEFAULT_NODE }))).code).toBe(404);

    emu.addNode(DEFAULT_NODE, { zone: 'eu-west-1c' });
    const { pod: after } = await emu.addPod({ namespace: 'prod', name: 'lone-1', containers: [{ name: 'app', image: 'x:1' }] });
    expect(after.status.hostIP).toBe('127.243.0.4');
    expect((await core.readNode({ name: DEFAULT_NODE })).metadata?.labels?.['topology.kubernetes.io/zone']).toBe('eu-west-1c');
    expect(() => emu.addNode(DEFAULT_NODE)).toThrow('node emulator-node already exists');
  });
});

describe('nodes and ReplicaSets with the real kubectl', () => {
  let emu: KubeEmulator;
  let dir: string;
  let kubectl: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  /** kubectl's table as rows of whitespace-separated cells, the AGE column dropped. */
  const rows = (stdout: string, ageColumn: number): string[] =>
    stdout
      .trim()
      .split('\n')
      .map((l) =>
        l
          .split(/\s+/)
          .filter((_, i) => i !== ageColumn)
          .join(' '),
      );
  const stderrOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => '',
      (err: { stderr: string }) => err.stderr.trim(),
    );

  beforeEach(async () => {
    emu = new KubeEmulator();
    await emu.start();
    await seed(emu);
    dir = mkdtempSync(join(tmpdir(), 'kube-emulator-nodes-kubectl-'));
    emu.writeKubeconfig(join(dir, 'kubeconfig'));
    const bin = await kubectlPath();
    kubectl = (...args) =>
      execFileAsync(bin, ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], {
        timeout: 30_000,
        env: { PATH: process.env.PATH ?? '', HOME: dir },
      });
  }, 120_000);

  afterEach(async () => {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('get nodes (all, by zone label, wide), get no <missing>, and a denied get', async () => {
    expect(rows((await kubectl('get', 'nodes')).stdout, 3)).toEqual([
      'NAME STATUS ROLES VERSION',
      'ip-10-0-1-7 Ready <none> v1.33.1',
      'ip-10-0-2-4 NotReady <none> v1.33.1',
      'ip-10-0-2-9 Ready ingress v1.33.1',
    ]);
    expect(rows((await kubectl('get', 'nodes', '-l', 'topology.kubernetes.io/zone=eu-west-1b')).stdout, 3)).toEqual([
      'NAME STATUS ROLES VERSION',
      'ip-10-0-2-4 NotReady <none> v1.33.1',
      'ip-10-0-2-9 Ready ingress v1.33.1',
    ]);
    // -o wide: the priority-1 columns; OS-IMAGE has spaces, so only the cells before it.
    const wide = rows((await kubectl('get', 'no', 'ip-10-0-1-7', '-o', 'wide')).stdout, 3).map((r) => r.split(' ').slice(0, 6).join(' '));
    expect(wide).toEqual(['NAME STATUS ROLES VERSION INTERNAL-IP EXTERNAL-IP', 'ip-10-0-1-7 Ready <none> v1.33.1 127.243.0.1 <none>']);

    expect(await stderrOf(kubectl('get', 'node', 'nope'))).toBe('Error from server (NotFound): nodes "nope" not found');
    emu.deny('get', 'nodes');
    expect(await stderrOf(kubectl('get', 'node', 'ip-10-0-1-7'))).toBe(
      `Error from server (Forbidden): nodes "ip-10-0-1-7" is forbidden: User "${FORBIDDEN_USER}" cannot get resource "nodes" in API group "" at the cluster scope`,
    );
  });

  test('get rs: DESIRED / CURRENT / READY, and with -o wide the containers, images and selector', async () => {
    expect(rows((await kubectl('get', 'rs', '-n', 'prod')).stdout, 4)).toEqual(['NAME DESIRED CURRENT READY', 'web-5d9f8b7c6d 2 2 2', 'web-7c4b9d8f5 4 4 4']);
    expect(rows((await kubectl('get', 'replicasets', '-n', 'prod', '-o', 'wide')).stdout, 4)).toEqual([
      'NAME DESIRED CURRENT READY CONTAINERS IMAGES SELECTOR',
      'web-5d9f8b7c6d 2 2 2 app nginx:1.27 app=web,pod-template-hash=5d9f8b7c6d',
      'web-7c4b9d8f5 4 4 4 app nginx:1.27 app=web,pod-template-hash=7c4b9d8f5',
    ]);
    // The pods' NODE column, for the nodes of the rollout.
    const pods = rows((await kubectl('get', 'pods', '-n', 'prod', '-l', 'pod-template-hash=7c4b9d8f5', '-o', 'wide')).stdout, 4).map((r) => {
      const cells = r.split(' ');
      return `${cells[0]} ${cells[5]}`;
    });
    expect(pods).toEqual(['NAME NODE', 'web-7c4b9d8f5-a1b2c ip-10-0-1-7', 'web-7c4b9d8f5-d3e4f ip-10-0-2-9', 'web-7c4b9d8f5-g5h6j ip-10-0-2-4', 'web-7c4b9d8f5-k7m8n ip-10-0-2-4']);
  });
});
