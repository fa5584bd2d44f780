// Proves the Kubernetes API emulator against the real clients: @kubernetes/client-node 2.x and the
// real kubectl v1.33. Whatever passes here is what kdebug's own tests can rely on.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { KubeEmulator, type Pod } from '../../src/playground/kube-emulator.js';
import { kubectlPath } from '../support/kubectl.js';
import { netnsAvailable } from '../../src/playground/netns.js';

const execFileAsync = promisify(execFile);

interface Status {
  kind: string;
  code: number;
  reason: string;
  message: string;
  details?: { name?: string; kind?: string; group?: string; causes?: { reason: string; message: string; field?: string }[] };
}

/**
 * client-node 2.x throws ApiException for any non-2xx answer: `code` is the HTTP status and `body`
 * is the raw response text (a JSON Status string, not a parsed object), `headers` the response
 * headers. Exception: on 401 the generated code throws ApiException(401, "Unauthorized") with
 * `body` undefined. Errors from fetch itself (connection refused) are plain Errors.
 */
async function apiError(promise: Promise<unknown>): Promise<{ code: number; status: Status }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiException) {
      const e = err as ApiException<unknown>;
      expect(typeof e.body).toBe('string');
      return { code: e.code, status: JSON.parse(e.body as string) as Status };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

type EphemeralSpec = Record<string, unknown> & { name?: string };

function debugContainer(name: string, command: string[], extra: Record<string, unknown> = {}): EphemeralSpec {
  return { name, image: 'nicolaka/netshoot', command, targetContainerName: 'app', ...extra };
}

/** One word per ephemeral container state: "waiting:ContainerCreating", "running", "terminated:Completed". */
function stateOf(pod: Pod, container: string): string | undefined {
  const s = pod.status.ephemeralContainerStatuses?.find((c) => c.name === container)?.state;
  if (!s) return undefined;
  if (s.waiting) return `waiting:${s.waiting.reason}`;
  if (s.running) return 'running';
  return `terminated:${s.terminated?.reason}`;
}

/**
 * Follows a pod with client-node's Watch from `resourceVersion` until `done(pod)`, collecting the
 * distinct states of `container` along the way.
 */
async function watchUntil(kc: KubeConfig, pod: Pod, container: string, done: (p: Pod) => boolean): Promise<{ pod: Pod; states: string[] }> {
  const states: string[] = [];
  const { namespace = '', name, resourceVersion } = pod.metadata;
  let controller: AbortController | undefined;
  const result = await new Promise<Pod>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; states so far: ${states.join(' -> ')}`)), 20_000);
    void new Watch(kc)
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { fieldSelector: `metadata.name=${name}`, resourceVersion },
        (type: string, obj: Pod) => {
          if (type !== 'MODIFIED' && type !== 'ADDED') return;
          const state = stateOf(obj, container);
          if (state && states.at(-1) !== state) states.push(state);
          if (done(obj)) {
            clearTimeout(timer);
            resolve(obj);
          }
        },
        (err: unknown) => {
          if (err) {
            clearTimeout(timer);
            reject(err instanceof Error ? err : new Error('the watch failed', { cause: err }));
          }
        },
      )
      .then((c) => {
        controller = c;
      }, reject);
  });
  controller?.abort();
  return { pod: result, states };
}

/** Namespace prod: web-0 (Running), web-1 (Pending), api-0 (tier=backend), two-0 (two containers); workloads. */
async function seed(emu: KubeEmulator): Promise<void> {
  emu.addNamespace('prod', { team: 'payments' });
  emu.addNamespace('staging');
  await emu.addPod({ namespace: 'prod', name: 'web-0', labels: { app: 'web' }, containers: [{ name: 'app', image: 'registry.local/web:1' }] });
  await emu.addPod({ namespace: 'prod', name: 'web-1', labels: { app: 'web', canary: 'true' }, containers: [{ name: 'app', image: 'registry.local/web:1' }], phase: 'Pending' });
  await emu.addPod({ namespace: 'prod', name: 'api-0', labels: { app: 'api', tier: 'backend' }, containers: [{ name: 'app', image: 'registry.local/api:2' }] });
  await emu.addPod({
    namespace: 'prod',
    name: 'two-0',
    labels: { app: 'two' },
    containers: [
      { name: 'app', image: 'a:1' },
      { name: 'sidecar', image: 'b:1' },
    ],
  });
  await emu.addPod({ namespace: 'staging', name: 'web-0', labels: { app: 'web' }, containers: [{ name: 'app', image: 'registry.local/web:1' }] });
  emu.addWorkload('Deployment', { namespace: 'prod', name: 'web', matchLabels: { app: 'web' }, replicas: 2 });
  emu.addWorkload('statefulset', { namespace: 'prod', name: 'api', matchLabels: { app: 'api' } });
  emu.addWorkload('DaemonSet', { namespace: 'prod', name: 'agent', matchLabels: { app: 'agent' } });
  emu.addWorkload('ReplicaSet', { namespace: 'prod', name: 'web-5d9f', matchLabels: { app: 'web' } });
}

describe('KubeEmulator with @kubernetes/client-node', () => {
  let emu: KubeEmulator;
  let dir: string;
  let kc: KubeConfig;
  let core: CoreV1Api;

  beforeEach(async () => {
    emu = new KubeEmulator();
    await emu.start();
    await seed(emu);
    dir = mkdtempSync(join(tmpdir(), 'kube-emulator-test-'));
    emu.writeKubeconfig(join(dir, 'kubeconfig'), { namespace: 'prod' });
    kc = new KubeConfig();
    kc.loadFromFile(join(dir, 'kubeconfig'));
    core = kc.makeApiClient(CoreV1Api);
  });

  afterEach(async () => {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("for a benchmark's clock: every pod change as it is stored, and when a container's last line of output arrived", async () => {
    const seen: string[] = [];
    const stop = emu.onPodChange((pod) => seen.push(`${pod.metadata.name} ${pod.status.phase}`));
    expect(emu.openPodWatches()).toBe(1);
    emu.setPodPhase('prod', 'web-1', 'Running');
    stop();
    emu.setPodPhase('prod', 'web-1', 'Failed');
    expect(seen).toEqual(['web-1 Running']);
    expect(emu.openPodWatches()).toBe(0);

    expect(emu.lastLogLineAt('prod', 'web-0', 'app')).toBeUndefined();
    const before = Date.now();
    emu.appendLog('prod', 'web-0', 'app', 'one\ntwo\n');
    expect(emu.lastLogLineAt('prod', 'web-0', 'app')).toBeGreaterThanOrEqual(before);
    expect(emu.lastLogLineAt('prod', 'web-0', 'app')).toBeLessThanOrEqual(Date.now());
  });

  test('lists pods with label and field selectors; lists carry a resourceVersion', async () => {
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
      const list = await core.listNamespacedPod({ namespace: 'prod', ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
      expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
      return list.items.map((p) => p.metadata?.name ?? '');
    };
    expect(await names()).toEqual(['api-0', 'two-0', 'web-0', 'web-1']);
    expect(await names('app=web')).toEqual(['web-0', 'web-1']);
    expect(await names('app==web,canary!=true')).toEqual(['web-0']);
    expect(await names('app in (web, api),!canary')).toEqual(['api-0', 'web-0']);
    expect(await names('tier notin (frontend)')).toEqual(['api-0', 'two-0', 'web-0', 'web-1']);
    expect(await names('tier')).toEqual(['api-0']);
    expect(await names(undefined, 'status.phase=Running')).toEqual(['api-0', 'two-0', 'web-0']);
    expect(await names('app=web', 'status.phase!=Pending,metadata.namespace=prod')).toEqual(['web-0']);
    expect(await names(undefined, 'metadata.name==web-1')).toEqual(['web-1']);

    const all = await core.listPodForAllNamespaces({ labelSelector: 'app=web', fieldSelector: 'metadata.name=web-0' });
    expect(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual(['prod/web-0', 'staging/web-0']);
    // client-node turns the status into a real V1Pod: startTime is a Date, phase and podIP come through.
    const web0 = all.items[0]!;
    expect(web0.status?.phase).toBe('Running');
    expect(web0.status?.startTime).toBeInstanceOf(Date);
    expect(web0.spec?.containers[0]).toMatchObject({ name: 'app', image: 'registry.local/web:1', imagePullPolicy: 'IfNotPresent' });

    const bad = await apiError(core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'spec.image=x' }));
    expect(bad).toMatchObject({ code: 400, status: { reason: 'BadRequest', message: 'field label not supported: spec.image' } });
  });

  test('namespaces with labels, and apps/v1 workloads', async () => {
    const ns = await core.readNamespace({ name: 'prod' });
    expect(ns.metadata?.labels).toEqual({ 'kubernetes.io/metadata.name': 'prod', team: 'payments' });
    const apps = kc.makeApiClient(AppsV1Api);
    const deploy = await apps.readNamespacedDeployment({ namespace: 'prod', name: 'web' });
    expect(deploy.spec?.selector.matchLabels).toEqual({ app: 'web' });
    expect(deploy.spec?.replicas).toBe(2);
    expect((await apps.listNamespacedStatefulSet({ namespace: 'prod' })).items.map((s) => s.metadata?.name)).toEqual(['api']);
    expect((await apps.listNamespacedDaemonSet({ namespace: 'prod' })).items.map((s) => s.metadata?.name)).toEqual(['agent']);
    expect((await apps.readNamespacedReplicaSet({ namespace: 'prod', name: 'web-5d9f' })).spec?.selector.matchLabels).toEqual({ app: 'web' });
    const missing = await apiError(apps.readNamespacedDeployment({ namespace: 'prod', name: 'nope' }));
    expect(missing.status).toMatchObject({
      code: 404,
      reason: 'NotFound',
      message: 'deployments.apps "nope" not found',
      details: { name: 'nope', group: 'apps', kind: 'deployments' },
    });
  });

  test('a missing pod is an ApiException 404 with the real Status; a wrong token is 401', async () => {
    const { code, status } = await apiError(core.readNamespacedPod({ namespace: 'prod', name: 'nope' }));
    expect(code).toBe(404);
    expect(status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'pods' },
      code: 404,
    });

    const wrong = new KubeConfig();
    wrong.loadFromOptions({
      clusters: [{ name: 'c', server: emu.httpsUrl, caData: Buffer.from(emu.caCertificate).toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'u', token: 'not-the-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    try {
      await wrong.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'prod' });
      throw new Error('expected 401');
    } catch (err) {
      expect(err).toBeInstanceOf(ApiException);
      // On 401 client-node drops the body: ApiException(401, "Unauthorized", undefined, headers).
      expect((err as ApiException<unknown>).code).toBe(401);
      expect((err as ApiException<unknown>).body).toBeUndefined();
    }
    const raw = await fetch(`${emu.url}/api/v1/namespaces/prod/pods`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 });
  });

  test('strategic-merge patch adds an ephemeral container; the kubelet runs it; Watch sees it finish; its log is real', async () => {
    const patched = await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('dbg', ['sh', '-c', 'echo hello; ip -4 addr show; echo oops >&2'])] } } },
      smp,
    );
    const ec = patched.spec?.ephemeralContainers?.[0];
    // Defaults are applied as the API server does; the response carries no status for it yet.
    expect(ec).toMatchObject({
      name: 'dbg',
      targetContainerName: 'app',
      imagePullPolicy: 'Always',
      terminationMessagePolicy: 'File',
      terminationMessagePath: '/dev/termination-log',
    });
    expect(patched.status?.ephemeralContainerStatuses ?? []).toEqual([]);

    const { pod, states } = await watchUntil(kc, patched as unknown as Pod, 'dbg', (p) => stateOf(p, 'dbg')?.startsWith('terminated') ?? false);
    expect(states).toEqual(['waiting:ContainerCreating', 'running', 'terminated:Completed']);
    const status = pod.status.ephemeralContainerStatuses?.[0];
    expect(status?.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(status?.image).toBe('docker.io/nicolaka/netshoot:latest');
    expect(status?.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);

    const log = await core.readNamespacedPodLog({ namespace: 'prod', name: 'web-0', container: 'dbg' });
    expect(log).toMatch(/^hello\n/);
    expect(log).toContain('inet 127.0.0.1/8');
    expect(log).toContain('oops\n');

    // A failing command terminates with its exit code and reason Error.
    const failing = await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('dbg2', ['sh', '-c', 'echo nope; exit 3'])] } } },
      smp,
    );
    const done = await watchUntil(kc, failing as unknown as Pod, 'dbg2', (p) => stateOf(p, 'dbg2')?.startsWith('terminated') ?? false);
    expect(done.pod.status.ephemeralContainerStatuses?.find((s) => s.name === 'dbg2')?.state.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(await core.readNamespacedPodLog({ namespace: 'prod', name: 'web-0', container: 'dbg2' })).toBe('nope\n');

    expect(emu.requests).toEqual(
      expect.arrayContaining([
        { verb: 'patch', apiGroup: '', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'prod', name: 'web-0' },
        { verb: 'watch', apiGroup: '', resource: 'pods', namespace: 'prod' },
        { verb: 'get', apiGroup: '', resource: 'pods', subresource: 'log', namespace: 'prod', name: 'web-0' },
      ]),
    );
  });

  test("ephemeral container validation answers the API server's 422 Invalid bodies", async () => {
    const invalid = async (container: EphemeralSpec): Promise<Status> => {
      const { code, status } = await apiError(
        core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [container] } } }, smp),
      );
      expect(code).toBe(422);
      expect(status).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422, details: { name: 'web-0', kind: 'Pod' } });
      return status;
    };
    const cases: [EphemeralSpec, string, string, string][] = [
      [debugContainer('app', ['true']), 'spec.ephemeralContainers[0].name', 'FieldValueDuplicate', 'Duplicate value: "app"'],
      [debugContainer('dbg', ['true'], { targetContainerName: 'nope' }), 'spec.ephemeralContainers[0].targetContainerName', 'FieldValueNotFound', 'Not found: "nope"'],
      [
        debugContainer('dbg', ['true'], { ports: [{ containerPort: 80 }] }),
        'spec.ephemeralContainers[0].ports',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [
        debugContainer('dbg', ['true'], { resources: { limits: { cpu: '1' } } }),
        'spec.ephemeralContainers[0].resources',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [
        debugContainer('dbg', ['true'], { lifecycle: { preStop: { exec: { command: ['true'] } } } }),
        'spec.ephemeralContainers[0].lifecycle',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [
        debugContainer('dbg', ['true'], { livenessProbe: { exec: { command: ['true'] } } }),
        'spec.ephemeralContainers[0].livenessProbe',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [
        debugContainer('dbg', ['true'], { readinessProbe: { exec: { command: ['true'] } } }),
        'spec.ephemeralContainers[0].readinessProbe',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [
        debugContainer('dbg', ['true'], { startupProbe: { exec: { command: ['true'] } } }),
        'spec.ephemeralContainers[0].startupProbe',
        'FieldValueForbidden',
        'Forbidden: cannot be set for an Ephemeral Container',
      ],
      [{ name: 'dbg', command: ['true'] }, 'spec.ephemeralContainers[0].image', 'FieldValueRequired', 'Required value'],
      [{ image: 'busybox', command: ['true'] }, 'spec.ephemeralContainers[0].name', 'FieldValueRequired', 'Required value'],
    ];
    for (const [container, field, reason, body] of cases) {
      const status = await invalid(container);
      expect(status.message).toBe(`Pod "web-0" is invalid: ${field}: ${body}`);
      expect(status.details?.causes).toEqual([{ reason, message: body, field }]);
    }

    // Several errors are listed together, in the API server's order.
    const many = await invalid(debugContainer('app', ['true'], { targetContainerName: 'nope', ports: [{ containerPort: 80 }] }));
    expect(many.message).toBe(
      'Pod "web-0" is invalid: [spec.ephemeralContainers[0].name: Duplicate value: "app", ' +
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope", spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container]',
    );
    expect(many.details?.causes?.map((c) => c.reason)).toEqual(['FieldValueDuplicate', 'FieldValueNotFound', 'FieldValueForbidden']);

    // Nothing invalid was stored.
    expect(emu.getPod('prod', 'web-0')?.spec.ephemeralContainers).toBeUndefined();
  });

  test('existing ephemeral containers may be neither changed nor removed (all three patch types)', async () => {
    await core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('dbg', ['true'])] } } }, smp);
    const before = emu.getPod('prod', 'web-0')!;

    // Strategic merge: same name merges into the existing container, changing it.
    const changed = await apiError(
      core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox' }] } } }, smp),
    );
    expect(changed.code).toBe(422);
    expect(changed.status.message).toMatch(/^Pod "web-0" is invalid: spec\.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be changed\n/);
    expect(changed.status.details?.causes?.[0]).toMatchObject({ reason: 'FieldValueForbidden', field: 'spec.ephemeralContainers' });

    // JSON merge patch replaces the list: dropping the container is a removal.
    const removed = await apiError(core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [] } } }, mergePatch));
    expect(removed.status.message).toBe('Pod "web-0" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed\n');

    // JSON patch: remove op, and an add that duplicates an existing ephemeral name.
    const jsonRemoved = await apiError(
      core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body: [{ op: 'remove', path: '/spec/ephemeralContainers/0' }] }, jsonPatch),
    );
    expect(jsonRemoved.status.message).toContain('existing ephemeral containers "dbg" may not be removed');
    const dup = await apiError(
      core.patchNamespacedPodEphemeralcontainers(
        { namespace: 'prod', name: 'web-0', body: [{ op: 'add', path: '/spec/ephemeralContainers/-', value: debugContainer('dbg', ['true']) }] },
        jsonPatch,
      ),
    );
    expect(dup.status.message).toBe('Pod "web-0" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "dbg"');

    // JSON patch adding a new container works, and so does a merge patch that lists old + new.
    await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: [{ op: 'add', path: '/spec/ephemeralContainers/-', value: debugContainer('dbg2', ['true']) }] },
      jsonPatch,
    );
    const current = emu.getPod('prod', 'web-0')!.spec.ephemeralContainers!;
    await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [...current, debugContainer('dbg3', ['true'])] } } },
      mergePatch,
    );
    expect(emu.getPod('prod', 'web-0')!.spec.ephemeralContainers!.map((c) => c.name)).toEqual(['dbg', 'dbg2', 'dbg3']);
    expect(Number(emu.getPod('prod', 'web-0')!.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));

    // A stale resourceVersion in the patch is a 409 Conflict.
    const stale = await apiError(
      core.patchNamespacedPodEphemeralcontainers(
        {
          namespace: 'prod',
          name: 'web-0',
          body: { metadata: { resourceVersion: before.metadata.resourceVersion }, spec: { ephemeralContainers: [debugContainer('dbg4', ['true'])] } },
        },
        smp,
      ),
    );
    expect(stale.status).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on pods "web-0": the object has been modified; please apply your changes to the latest version and try again',
    });
  });

  test('403 from PodSecurity admission and from RBAC (deny), which comes before anything else', async () => {
    emu.addNamespace('secure', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    emu.addNamespace('base', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.30' });
    await emu.addPod({ namespace: 'secure', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
    await emu.addPod({ namespace: 'base', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
    const patch = (namespace: string, name: string, c: EphemeralSpec): Promise<unknown> =>
      core.patchNamespacedPodEphemeralcontainers({ namespace, name, body: { spec: { ephemeralContainers: [c] } } }, smp);
    const restrictedOk = { allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, capabilities: { drop: ['ALL'] } };

    const restricted = await apiError(patch('secure', 'web-0', debugContainer('x', ['true'])));
    expect(restricted.status).toMatchObject({ code: 403, reason: 'Forbidden', details: { name: 'web-0', kind: 'pods' } });
    expect(restricted.status.message).toBe(
      'pods "web-0" is forbidden: violates PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    const addsNetRaw = await apiError(
      patch(
        'secure',
        'web-0',
        debugContainer('x', ['true'], {
          securityContext: { ...restrictedOk, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } },
        }),
      ),
    );
    expect(addsNetRaw.status.message).toBe(
      'pods "web-0" is forbidden: violates PodSecurity "restricted:latest": unrestricted capabilities (container "x" must not include "NET_RAW" in securityContext.capabilities.add)',
    );
    await patch('secure', 'web-0', debugContainer('ok', ['true'], { securityContext: restrictedOk }));

    const baseline = await apiError(
      patch('base', 'web-0', debugContainer('x', ['true'], { securityContext: { privileged: true, capabilities: { add: ['NET_RAW', 'NET_ADMIN', 'CHOWN'] } } })),
    );
    expect(baseline.status.message).toBe(
      'pods "web-0" is forbidden: violates PodSecurity "baseline:v1.30": ' +
        'privileged (container "x" must not set securityContext.privileged=true), ' +
        'non-default capabilities (container "x" must not include "NET_ADMIN", "NET_RAW" in securityContext.capabilities.add)',
    );
    await patch('base', 'web-0', debugContainer('ok', ['true'], { securityContext: { capabilities: { add: ['CHOWN'] } } }));

    // RBAC: the 403 comes before the pod is even looked up.
    emu.deny('patch', 'pods', 'ephemeralcontainers');
    for (const name of ['web-0', 'nope']) {
      const denied = await apiError(patch('prod', name, debugContainer('dbg', ['true'])));
      expect(denied.code).toBe(403);
      expect(denied.status).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: `pods "${name}" is forbidden: User "system:serviceaccount:kdebug:kdebug-worker" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "prod"`,
        details: { name, kind: 'pods' },
      });
    }
    emu.deny('list', 'pods');
    const listDenied = await apiError(core.listPodForAllNamespaces({}));
    expect(listDenied.status.message).toBe('pods is forbidden: User "system:serviceaccount:kdebug:kdebug-worker" cannot list resource "pods" in API group "" at the cluster scope');
    expect(emu.requests).toContainEqual({ verb: 'list', apiGroup: '', resource: 'pods' });
  });

  test('404s: a missing pod, and a cluster that does not serve pods/ephemeralcontainers', async () => {
    const body = { spec: { ephemeralContainers: [debugContainer('dbg', ['true'])] } };
    const missing = await apiError(core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'nope', body }, smp));
    expect(missing.status).toMatchObject({ code: 404, reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });

    const old = new KubeEmulator({ ephemeralContainersEnabled: false });
    await old.start();
    try {
      await old.addPod({ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
      old.writeKubeconfig(join(dir, 'old'));
      const oldKc = new KubeConfig();
      oldKc.loadFromFile(join(dir, 'old'));
      const gone = await apiError(oldKc.makeApiClient(CoreV1Api).patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'web-0', body }, smp));
      expect(gone.status).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server could not find the requested resource',
        reason: 'NotFound',
        details: {},
        code: 404,
      });
    } finally {
      await old.stop();
    }
  });

  test('an image that cannot be pulled: ErrImagePull, then ImagePullBackOff; its log is a 400', async () => {
    emu.failImagePull('nicolaka/netshoot:nope');
    const patched = await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('dbg', ['true'], { image: 'nicolaka/netshoot:nope' })] } } },
      smp,
    );
    const { pod, states } = await watchUntil(kc, patched as unknown as Pod, 'dbg', (p) => stateOf(p, 'dbg') === 'waiting:ImagePullBackOff');
    expect(states).toEqual(['waiting:ContainerCreating', 'waiting:ErrImagePull', 'waiting:ImagePullBackOff']);
    expect(pod.status.ephemeralContainerStatuses?.[0]?.state.waiting?.message).toBe('Back-off pulling image "nicolaka/netshoot:nope"');

    const logErr = await apiError(core.readNamespacedPodLog({ namespace: 'prod', name: 'web-0', container: 'dbg' }));
    expect(logErr.status).toMatchObject({ code: 400, reason: 'BadRequest', message: 'container "dbg" in pod "web-0" is waiting to start: trying and failing to pull image' });
  });

  test("ErrImagePull carries containerd's message", async () => {
    emu.failImagePull('nicolaka/netshoot:nope');
    emu.setStartDelay(10);
    const patched = await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('dbg', ['true'], { image: 'nicolaka/netshoot:nope' })] } } },
      smp,
    );
    const { pod } = await watchUntil(kc, patched as unknown as Pod, 'dbg', (p) => stateOf(p, 'dbg') === 'waiting:ErrImagePull');
    expect(pod.status.ephemeralContainerStatuses?.[0]?.state.waiting?.message).toContain('failed to pull and unpack image "docker.io/nicolaka/netshoot:nope": ');
  });

  test("pods/log: the API server's 400s, and tailLines / limitBytes / timestamps / follow", async () => {
    const log = (container?: string, extra: Record<string, unknown> = {}): Promise<string> =>
      core.readNamespacedPodLog({ namespace: 'prod', name: 'two-0', ...(container ? { container } : {}), ...extra });
    const choose = await apiError(log());
    expect(choose.status).toMatchObject({ code: 400, reason: 'BadRequest', message: 'a container name must be specified for pod two-0, choose one of: [app sidecar]' });
    expect((await apiError(log('nope'))).status.message).toBe('container nope is not valid for pod two-0');

    emu.setStartDelay(60_000);
    await core.patchNamespacedPodEphemeralcontainers({ namespace: 'prod', name: 'two-0', body: { spec: { ephemeralContainers: [debugContainer('dbg', ['true'])] } } }, smp);
    await new Promise((r) => setTimeout(r, 50));
    expect((await apiError(log('dbg'))).status.message).toBe('container "dbg" in pod "two-0" is waiting to start: ContainerCreating');
    // Kubernetes 1.33 lists every container (older servers said "... or one of the ephemeral containers: [dbg]").
    expect((await apiError(log())).status.message).toBe('a container name must be specified for pod two-0, choose one of: [app sidecar dbg]');

    // A single regular container is the default, whatever ephemeral containers the pod has.
    emu.appendLog('prod', 'two-0', 'app', 'one\ntwo\nthree\n');
    expect(await log('app')).toBe('one\ntwo\nthree\n');
    expect(await log('app', { tailLines: 2 })).toBe('two\nthree\n');
    expect(await log('app', { limitBytes: 6 })).toBe('one\ntw');
    expect(await log('app', { timestamps: true })).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z one\n/);

    // follow streams until the container terminates.
    emu.setStartDelay(0);
    await core.patchNamespacedPodEphemeralcontainers(
      { namespace: 'prod', name: 'web-0', body: { spec: { ephemeralContainers: [debugContainer('slow', ['sh', '-c', 'echo a; sleep 0.3; echo b'])] } } },
      smp,
    );
    await waitFor(() => stateOf(emu.getPod('prod', 'web-0')!, 'slow') === 'running');
    const started = Date.now();
    const res = await fetch(`${emu.url}/api/v1/namespaces/prod/pods/web-0/log?container=slow&follow=true`, { headers: { Authorization: `Bearer ${emu.token}` } });
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('a\nb\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  test('watch: a replay from history sends each version as it was stored: a change, then the deletion, each with its own resourceVersion', async () => {
    const emulator = new KubeEmulator({ minRequestTimeoutSeconds: 1 });
    await emulator.start();
    try {
      await emulator.addPod({ namespace: 'prod', name: 'a', containers: [{ name: 'app', image: 'x:1' }] });
      const from = emulator.resourceVersion;
      const failed = emulator.setPodPhase('prod', 'a', 'Failed');
      const deleted = emulator.deletePod('prod', 'a');
      const res = await fetch(`${emulator.url}/api/v1/namespaces/prod/pods?watch=true&resourceVersion=${from}&timeoutSeconds=1`, {
        headers: { Authorization: `Bearer ${emulator.token}` },
      });
      const replay = (await res.text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; object: { metadata: { resourceVersion: string }; status: { phase: string } } });
      expect(replay.map((e) => [e.type, e.object.metadata.resourceVersion, e.object.status.phase])).toEqual([
        ['MODIFIED', failed.metadata.resourceVersion, 'Failed'],
        ['DELETED', deleted?.metadata.resourceVersion, 'Failed'],
      ]);
      expect(Number(deleted?.metadata.resourceVersion)).toBeGreaterThan(Number(failed.metadata.resourceVersion));
    } finally {
      await emulator.stop();
    }
  });

  test('watch: ADDED for current objects, selector transitions, bookmarks, timeoutSeconds (or the server default), 410 Expired', async () => {
    const small = new KubeEmulator({ watchHistory: 5, bookmarkIntervalMs: 100, minRequestTimeoutSeconds: 1 });
    await small.start();
    try {
      await small.addPod({ namespace: 'prod', name: 'a', labels: { app: 'web' }, containers: [{ name: 'app', image: 'x:1' }] });
      const rvAfterA = small.resourceVersion;
      const headers = { Authorization: `Bearer ${small.token}` };
      const events = async (
        query: string,
      ): Promise<
        { type: string; object: { metadata: { name?: string; resourceVersion: string; annotations?: Record<string, string> }; code?: number; message?: string; reason?: string } }[]
      > => {
        const res = await fetch(`${small.url}/api/v1/namespaces/prod/pods?watch=true&${query}`, { headers });
        return (await res.text())
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as never);
      };

      // No resourceVersion: the current objects as ADDED; the stream ends at timeoutSeconds.
      const initial = await events('timeoutSeconds=1');
      expect(initial.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a']);

      // Without timeoutSeconds the server ends it all the same, after --min-request-timeout times 1 to 2;
      // openPodWatches() counts it, in its namespace, while it is open.
      const started = Date.now();
      const untimed = events(`resourceVersion=${small.resourceVersion}`);
      await waitFor(() => small.openPodWatches('prod') === 1);
      expect(small.openPodWatches('other')).toBe(0);
      expect(await untimed).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(small.openPodWatches()).toBe(0);

      // A label change moving a pod into / out of the selector is ADDED / DELETED for that watch.
      setTimeout(() => {
        void small.addPod({ namespace: 'prod', name: 'b', labels: { app: 'db' }, containers: [{ name: 'app', image: 'x:1' }] });
        small.setPodPhase('prod', 'a', 'Failed');
      }, 100);
      const replay = await events(`resourceVersion=${rvAfterA}&labelSelector=app%3Dweb&allowWatchBookmarks=true&timeoutSeconds=1`);
      const types = replay.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`);
      expect(types.filter((t) => !t.startsWith('BOOKMARK'))).toEqual(['MODIFIED a']);
      expect(types.some((t) => t.startsWith('BOOKMARK'))).toBe(true);

      // More writes than the history keeps: the old resourceVersion is gone (410 Expired), as in the API server.
      for (let i = 0; i < 6; i++) small.setPodPhase('prod', 'a', i % 2 ? 'Running' : 'Failed');
      const expired = await events(`resourceVersion=${rvAfterA}`);
      expect(expired).toHaveLength(1);
      expect(expired[0]?.type).toBe('ERROR');
      expect(expired[0]?.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
      expect(expired[0]?.object.message).toMatch(new RegExp(`^too old resource version: ${rvAfterA} \\(\\d+\\)$`));

      // client-node's Watch delivers the same as an ERROR event.
      const smallKc = new KubeConfig();
      small.writeKubeconfig(join(dir, 'small'));
      smallKc.loadFromFile(join(dir, 'small'));
      const seen = await new Promise<{ type: string; obj: { code?: number } }>((resolve, reject) => {
        void new Watch(smallKc).watch(
          '/api/v1/namespaces/prod/pods',
          { resourceVersion: rvAfterA },
          (type: string, obj: { code?: number }) => resolve({ type, obj }),
          (err: unknown) => err && reject(err instanceof Error ? err : new Error('the watch failed', { cause: err })),
        );
      });
      expect(seen).toMatchObject({ type: 'ERROR', obj: { code: 410 } });
    } finally {
      await small.stop();
    }
  });

  test('kubectl-style Table for pods', async () => {
    const res = await fetch(`${emu.url}/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb`, {
      headers: { Authorization: `Bearer ${emu.token}`, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    });
    const t = (await res.json()) as {
      kind: string;
      apiVersion: string;
      columnDefinitions: { name: string; priority: number }[];
      rows: { cells: unknown[]; object: { kind: string } }[];
    };
    expect(t.kind).toBe('Table');
    expect(t.apiVersion).toBe('meta.k8s.io/v1');
    expect(t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age']);
    expect(t.rows.map((r) => r.cells.slice(0, 4))).toEqual([
      ['web-0', '1/1', 'Running', '0'],
      ['web-1', '0/1', 'ContainerCreating', '0'],
    ]);
    expect(t.rows[0]?.object.kind).toBe('PartialObjectMetadata');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('KubeEmulator with per-pod network namespaces', () => {
  let emu: KubeEmulator | undefined;

  afterEach(async () => {
    await emu?.stop();
    emu = undefined;
  });

  test("ephemeral containers run inside the pod's network namespace, with its resolv.conf", async () => {
    const reason = await netnsAvailable();
    if (reason) throw new Error(`this test needs network namespaces: ${reason}`);
    emu = new KubeEmulator({ netns: true });
    await emu.start();
    const { pod, network } = await emu.addPod({
      namespace: 'prod',
      name: 'web-0',
      containers: [{ name: 'app', image: 'web:1' }],
      network: { search: ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 },
    });
    expect(network).toBeDefined();
    expect(pod.status.podIP).toBe(network!.podIp);
    expect(network!.podIp).toMatch(/^10\.213\.\d+\.\d+$/);

    const dir = mkdtempSync(join(tmpdir(), 'kube-emulator-netns-'));
    try {
      emu.writeKubeconfig(join(dir, 'kubeconfig'));
      const kc = new KubeConfig();
      kc.loadFromFile(join(dir, 'kubeconfig'));
      const core = kc.makeApiClient(CoreV1Api);
      const patched = await core.patchNamespacedPodEphemeralcontainers(
        {
          namespace: 'prod',
          name: 'web-0',
          body: {
            spec: {
              ephemeralContainers: [
                debugContainer('dbg', ['sh', '-c', 'cat /etc/resolv.conf; ip -4 -o addr show; dig +time=1 +tries=1 +short kubernetes.default.svc.cluster.local || true']),
              ],
            },
          },
        },
        smp,
      );
      await watchUntil(kc, patched as unknown as Pod, 'dbg', (p) => stateOf(p, 'dbg')?.startsWith('terminated') ?? false);
      const log = await core.readNamespacedPodLog({ namespace: 'prod', name: 'web-0', container: 'dbg' });
      expect(log).toContain(`nameserver ${network!.hostIp}\nsearch prod.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`);
      // Only lo and the pod's end of the veth pair: this is the pod's namespace, not the host's.
      expect(log).toMatch(new RegExp(`inet ${network!.podIp.replace(/\./g, '\\.')}/30`));
      expect(log).not.toMatch(new RegExp(`inet ${network!.hostIp.replace(/\./g, '\\.')}/`));
      // dig used the pod's resolver (nothing listens on hostIp:53 here, so it times out talking to it).
      expect(log).toContain(`;; communications error to ${network!.hostIp}#53`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KubeEmulator with the real kubectl', () => {
  let emu: KubeEmulator;
  let dir: string;
  let kubectl: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;

  beforeEach(async () => {
    emu = new KubeEmulator();
    await emu.start();
    await seed(emu);
    dir = mkdtempSync(join(tmpdir(), 'kube-emulator-kubectl-'));
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

  test('get pods, debug --target, logs', async () => {
    const { stdout: table } = await kubectl('get', 'pods', '-n', 'prod');
    const lines = table.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4).join(' '))).toEqual([
      'api-0 1/1 Running 0',
      'two-0 2/2 Running 0',
      'web-0 1/1 Running 0',
      'web-1 0/1 ContainerCreating 0',
    ]);

    const debug = await kubectl('debug', 'web-0', '-n', 'prod', '--image=busybox', '--target=app', '--attach=false', '--', 'sh', '-c', 'echo hi');
    // With --attach=false kubectl prints this to stdout (and the --profile=legacy deprecation to stderr).
    expect(debug.stdout).toContain('Targeting container "app".');
    const name = /Defaulting debug container name to (debugger-[a-z0-9]+)\./.exec(debug.stdout)?.[1];
    expect(name).toBeDefined();
    const ec = emu.getPod('prod', 'web-0')?.spec.ephemeralContainers?.find((c) => c.name === name);
    // What kubectl sent (strategic merge patch): command, image, name, resources {}, targetContainerName, terminationMessagePolicy.
    expect(ec).toMatchObject({ image: 'busybox', command: ['sh', '-c', 'echo hi'], targetContainerName: 'app', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' });
    expect(emu.requests).toContainEqual({ verb: 'patch', apiGroup: '', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'prod', name: 'web-0' });

    await waitFor(() => stateOf(emu.getPod('prod', 'web-0')!, name!) === 'terminated:Completed');
    const { stdout: logs } = await kubectl('logs', 'web-0', '-n', 'prod', '-c', name!);
    expect(logs).toBe('hi\n');

    // A second debug container: now kubectl's patch also carries $setElementOrder/ephemeralContainers.
    const again = await kubectl('debug', 'web-0', '-n', 'prod', '--image=busybox', '--profile=netadmin', '--attach=false', '--', 'ip', '-4', 'addr', 'show', 'lo');
    const second = /Defaulting debug container name to (debugger-[a-z0-9]+)\./.exec(again.stdout)?.[1];
    const names = emu.getPod('prod', 'web-0')?.spec.ephemeralContainers?.map((c) => c.name);
    expect(names).toEqual([name, second]);
    expect(emu.getPod('prod', 'web-0')?.spec.ephemeralContainers?.[1]?.securityContext).toEqual({ capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    await waitFor(() => stateOf(emu.getPod('prod', 'web-0')!, second!) === 'terminated:Completed');
    expect((await kubectl('logs', 'web-0', '-n', 'prod', '-c', second!)).stdout).toContain('inet 127.0.0.1/8');

    const notFound = await kubectl('get', 'pod', 'nope', '-n', 'prod').then(
      () => '',
      (err: { stderr: string }) => err.stderr,
    );
    expect(notFound.trim()).toBe('Error from server (NotFound): pods "nope" not found');
  });
});
