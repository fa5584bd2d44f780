// The Helm chart, checked statically: the real helm (v4) lints and renders it for the default values
// and every ci/*-values.yaml variant; every rendered object is validated against the Kubernetes API
// schemas offline (see ./k8s-schema.ts), and the properties the install story promises are asserted
// on the rendered objects. kdebug's own config loader and policy parser read what the chart renders.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1PodSpec,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { checks } from '../../src/checks/index.js';
import { loadConfig } from '../../src/config/load.js';
import { parsePolicy, policyWarnings } from '../../src/policy/rules.js';
import { byKind, chartDir, ciValuesFiles, find, grantsFor, helm, NAMESPACE, renderChart, renderNotes, repoRoot, serviceAccountOf, valueArgs } from './helm-support.js';
import { validateObject, type KubeObject } from './k8s-schema.js';

type Deployment = V1Deployment & KubeObject;
type StatefulSet = V1StatefulSet & KubeObject;

const VARIANTS = ['(default values)', ...ciValuesFiles()];
const filesOf = (variant: string) => (variant.startsWith('ci/') ? [variant] : []);
/** The part of the chart's values (values.yaml) these tests read; a ci/*-values.yaml file sets some of it. */
interface ChartValues {
  slack?: { mode?: 'socket' | 'http'; botToken?: string; appToken?: string; signingSecret?: string; http?: { ingress?: { enabled?: boolean } } };
  redis?: {
    bundled?: { enabled?: boolean; auth?: { existingSecret?: string }; persistence?: { size?: string } };
    external?: { existingSecret?: string; urlFromSecret?: { name?: string } };
  };
  policy?: { enabled?: boolean };
  rbac?: { targetNamespaces?: string[] };
  metrics?: { serviceMonitor?: { enabled?: boolean } };
  networkPolicy?: { enabled?: boolean };
  terminationGracePeriodSeconds?: number;
  /** kdebug's own settings, by section (config.yaml's layout). */
  config?: Record<string, Record<string, unknown>>;
}
/** The values a variant sets on top of values.yaml. */
const valuesOf = (variant: string): ChartValues => (variant.startsWith('ci/') ? ((parseYaml(readFileSync(join(chartDir, variant), 'utf8')) as ChartValues | null) ?? {}) : {});

const rendered = new Map<string, KubeObject[]>();
beforeAll(async () => {
  for (const variant of VARIANTS) rendered.set(variant, await renderChart(filesOf(variant)));
}, 120_000);
const objectsOf = (variant: string) => rendered.get(variant)!;

function deployment(objects: KubeObject[], component: 'bot' | 'worker'): Deployment {
  const found = byKind<Deployment>(objects, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === component);
  expect(found).toHaveLength(1);
  return found[0]!;
}
const mainContainer = (d: Deployment): V1Container => d.spec!.template.spec!.containers[0]!;
const envOf = (c: V1Container): V1EnvVar[] => c.env ?? [];
const envValue = (c: V1Container, name: string) => envOf(c).find((e) => e.name === name);

/** The Pod Security Standards "restricted" profile, as the admission controller checks it. */
function restrictedViolations(spec: V1PodSpec): string[] {
  const problems: string[] = [];
  const podSc = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('host namespaces');
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret', 'name'];
  for (const v of spec.volumes ?? []) for (const key of Object.keys(v)) if (!allowedVolumes.includes(key)) problems.push(`volume ${v.name} of type ${key}`);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) problems.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${c.name}: allowPrivilegeEscalation is not false`);
    if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${c.name}: capabilities do not drop ALL`);
    const added = (sc.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length) problems.push(`${c.name}: adds capabilities ${added.join(',')}`);
    if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) problems.push(`${c.name}: runAsNonRoot not set`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) problems.push(`${c.name}: runs as uid 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${c.name}: seccompProfile is ${seccomp ?? 'unset'}`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${c.name}: root filesystem is writable`);
    for (const p of c.ports ?? []) if (p.hostPort) problems.push(`${c.name}: hostPort ${p.hostPort}`);
  }
  return problems;
}

/** The environment a container would see, with Secret values stubbed (and $(VAR) expanded). */
function containerEnv(c: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  const stub: Record<string, string> = {
    SLACK_BOT_TOKEN: 'xoxb-stub',
    SLACK_APP_TOKEN: 'xapp-stub',
    SLACK_SIGNING_SECRET: 'stub',
    REDIS_PASSWORD: 'stub',
    REDIS_URL: 'redis://stub:6379',
  };
  for (const e of envOf(c)) {
    if (e.valueFrom) env[e.name] = stub[e.name] ?? 'stub';
    else env[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
  }
  return env;
}

const SECRET_LOOKING = /xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

describe('the chart itself', () => {
  test("Chart.yaml: apiVersion v2, appVersion is package.json's version", () => {
    const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('kdebug');
    expect(chart.appVersion).toBe(pkg.version);
  });

  test('values.schema.json is a JSON Schema document', () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.additionalProperties).toBe(false);
  });

  test.each(VARIANTS)('helm lint --strict: %s', async (variant) => {
    const result = await helm(['lint', '.', '--strict', '--namespace', NAMESPACE, ...valueArgs(filesOf(variant))]);
    expect(`${result.stdout}${result.stderr}`).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  test.each([
    ['slack.mode=websocket', /slack\/mode/],
    ['bot.replicas=-1', /bot\/replicas/],
    ['bott.replicas=2', /additional properties 'bott'/],
    ['config.redis.url=redis://elsewhere:6379', /config\/redis/],
    ['config.kubernetes.kubeconfig=/root/.kube/config', /kubeconfig/],
    ['config.health.port=9090', /config\/health/],
    ['image.digest=latest', /image\/digest/],
    ['rbac.targetNamespaces[0]=Prod', /targetNamespaces/],
    ['redis.external.url=redis://:hunter2@redis:6379', /redis\/external\/url/],
  ])('values.schema.json rejects %s', async (set, where) => {
    const result = await helm(['template', 'kd', '.', '--set', set]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/schema/);
    expect(result.stderr).toMatch(where);
  });

  test.each([
    [['redis.external.url=redis://redis:6379'], /either redis\.bundled\.enabled=true or redis\.external\.url/],
    [['redis.bundled.enabled=false'], /set redis\.external\.url/],
    [['slack.http.ingress.enabled=true'], /needs slack\.mode=http/],
    [['redis.bundled.enabled=false', 'redis.external.url=redis://redis:6379', 'redis.external.username=kdebug'], /username needs redis\.external\.existingSecret/],
    [['slack.botToken=xoxb-1'], /slack\.appToken .* is required in Socket Mode/],
    [['slack.mode=http', 'slack.botToken=xoxb-1'], /slack\.signingSecret is required in HTTP mode/],
    [['terminationGracePeriodSeconds=30'], /graceSeconds \(45\) must be below terminationGracePeriodSeconds \(30\)/],
    [['policy.enabled=true'], /policy\.content is required/],
  ])('values that do not fit together fail with one line: %s', async (sets, message) => {
    const result = await helm(['template', 'kd', '.', ...valueArgs([], sets)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});

describe.each(VARIANTS)('rendered with %s', (variant) => {
  const values = valuesOf(variant);
  const mode = values.slack?.mode ?? 'socket';
  const bundledRedis = values.redis?.bundled?.enabled ?? true;

  test('every object is valid against the Kubernetes API schemas (types, enums, formats, required and unknown fields)', async () => {
    const errors = (await Promise.all(objectsOf(variant).map(validateObject))).flat();
    expect(errors).toEqual([]);
  });

  test('namespaced objects go to the release namespace (Roles to their target namespaces)', () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding']);
    const targets = values.rbac?.targetNamespaces ?? [];
    for (const o of objectsOf(variant)) {
      if (clusterScoped.has(o.kind)) expect(o.metadata.namespace).toBeUndefined();
      else if (o.kind === 'Role' || o.kind === 'RoleBinding') expect(targets).toContain(o.metadata.namespace);
      else expect(o.metadata.namespace).toBe(NAMESPACE);
    }
    const names = objectsOf(variant).map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  test('no secret in a ConfigMap or in plain env: Slack credentials only in a Secret, via secretKeyRef', () => {
    const configured = [values.slack?.botToken, values.slack?.appToken, values.slack?.signingSecret].filter((v): v is string => Boolean(v));
    for (const o of objectsOf(variant)) {
      if (o.kind === 'Secret') continue;
      const text = JSON.stringify(o);
      expect(text).not.toMatch(SECRET_LOOKING);
      for (const secret of configured) expect(text).not.toContain(secret);
      if (o.kind === 'ConfigMap') {
        for (const [key, value] of Object.entries((o as V1ConfigMap & KubeObject).data ?? {})) {
          const doc = JSON.stringify(parseYaml(value) ?? {});
          expect(`${key} ${doc}`).not.toMatch(/"(botToken|appToken|signingSecret|password|token|secret)"\s*:/i);
        }
      }
    }
    const secrets = byKind<V1Secret & KubeObject>(objectsOf(variant), 'Secret');
    expect(secrets).toHaveLength(configured.length ? 1 : 0);
    if (configured.length) {
      const decoded = Object.values(secrets[0]!.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
      expect(decoded.sort()).toEqual([...configured].sort());
    }
    for (const component of ['bot', 'worker'] as const) {
      for (const e of envOf(mainContainer(deployment(objectsOf(variant), component)))) {
        if (/^SLACK_|PASSWORD/.test(e.name)) {
          expect(e.value).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.name).toBeTruthy();
        }
      }
    }
  });

  test('each role gets only the Slack credentials it uses', () => {
    const names = (component: 'bot' | 'worker') =>
      envOf(mainContainer(deployment(objectsOf(variant), component)))
        .map((e) => e.name)
        .filter((n) => n.startsWith('SLACK_'))
        .sort();
    expect(names('worker')).toEqual(['SLACK_BOT_TOKEN']);
    expect(names('bot')).toEqual(mode === 'socket' ? ['SLACK_APP_TOKEN', 'SLACK_BOT_TOKEN'] : ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);
    expect(envValue(mainContainer(deployment(objectsOf(variant), 'bot')), 'KDEBUG_SLACK_MODE')?.value).toBe(mode);
  });

  test('the bot has its own service account, no token and no Kubernetes permissions at all', () => {
    const objects = objectsOf(variant);
    const bot = deployment(objects, 'bot');
    const account = serviceAccountOf(objects, 'bot');
    expect(account).not.toBe(serviceAccountOf(objects, 'worker'));
    expect(account).not.toBe('default');
    expect(bot.spec!.template.spec!.automountServiceAccountToken).toBe(false);
    expect(find<V1ServiceAccount & KubeObject>(objects, 'ServiceAccount', account).automountServiceAccountToken).toBe(false);
    expect(grantsFor(objects, account, NAMESPACE)).toEqual([]);
    // Nothing else mounts its token either.
    expect(JSON.stringify(bot.spec!.template.spec!.volumes ?? [])).not.toMatch(/serviceAccountToken/);
  });

  test('the worker is bound to a ClusterRole, or to a Role in each target namespace', () => {
    const objects = objectsOf(variant);
    const grants = grantsFor(objects, serviceAccountOf(objects, 'worker'), NAMESPACE);
    const targets = values.rbac?.targetNamespaces ?? [];
    if (targets.length === 0) {
      expect(grants.map((g) => g.role.kind)).toEqual(['ClusterRole']);
      expect(byKind(objects, 'Role')).toEqual([]);
    } else {
      const roles = grants.filter((g) => g.role.kind === 'Role');
      expect(roles.map((g) => g.namespace).sort()).toEqual([...targets].sort());
      // Nodes are cluster-scoped: one ClusterRole grants only `get nodes`, whatever the namespaces.
      const clusterRoles = grants.filter((g) => g.role.kind !== 'Role');
      expect(clusterRoles.map((g) => g.role.rules)).toEqual([[{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]]);
      expect(byKind(objects, 'ClusterRole')).toHaveLength(1);
      expect(byKind(objects, 'ClusterRoleBinding')).toHaveLength(1);
    }
    // Every namespace's grant has the same rules (their exact content is proven in rbac.test.ts).
    const rules = grants.filter((g) => targets.length === 0 || g.role.kind === 'Role').map((g) => JSON.stringify(g.role.rules));
    expect(new Set(rules).size).toBe(1);
  });

  test('kdebug\'s own pods and the bundled Redis meet the "restricted" Pod Security Standard', () => {
    const objects = objectsOf(variant);
    for (const component of ['bot', 'worker'] as const) {
      const spec = deployment(objects, component).spec!.template.spec!;
      expect(restrictedViolations(spec)).toEqual([]);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      // A writable /tmp on a read-only root.
      const tmp = spec.containers[0]!.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
      expect(spec.enableServiceLinks).toBe(false);
    }
    for (const sts of byKind<StatefulSet>(objects, 'StatefulSet')) {
      expect(restrictedViolations(sts.spec!.template.spec!)).toEqual([]);
      expect(sts.spec!.template.spec!.automountServiceAccountToken).toBe(false);
    }
  });

  test('liveness and readiness probes on /healthz and /readyz at the health port kdebug listens on', () => {
    for (const component of ['bot', 'worker'] as const) {
      const c = mainContainer(deployment(objectsOf(variant), component));
      const port = c.ports?.find((p) => p.name === 'health');
      expect(port).toBeDefined();
      expect(envValue(c, 'KDEBUG_HEALTH_PORT')?.value).toBe(String(port!.containerPort));
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    }
  });

  test('one image, the role as the argument; SIGTERM grace period', () => {
    const bot = deployment(objectsOf(variant), 'bot');
    const worker = deployment(objectsOf(variant), 'worker');
    expect(mainContainer(bot).image).toBe(mainContainer(worker).image);
    expect(mainContainer(bot).args).toEqual(['bot']);
    expect(mainContainer(worker).args).toEqual(['worker']);
    expect(mainContainer(bot).command).toBeUndefined();
    for (const d of [bot, worker]) expect(d.spec!.template.spec!.terminationGracePeriodSeconds).toBe(values.terminationGracePeriodSeconds ?? 60);
  });

  test("the config ConfigMap is mounted, named by KDEBUG_CONFIG, and kdebug's own loader accepts it with the pod's environment", () => {
    const objects = objectsOf(variant);
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-chart-'));
    for (const component of ['bot', 'worker'] as const) {
      const d = deployment(objects, component);
      const c = mainContainer(d);
      const path = envValue(c, 'KDEBUG_CONFIG')?.value;
      expect(path).toBe('/etc/kdebug/config/kdebug.yaml');
      const mount = c.volumeMounts!.find((m) => m.mountPath === '/etc/kdebug/config')!;
      expect(mount.readOnly).toBe(true);
      const volume = d.spec!.template.spec!.volumes!.find((v) => v.name === mount.name)!;
      const cm = find<V1ConfigMap & KubeObject>(objects, 'ConfigMap', volume.configMap!.name!);
      const file = join(dir, `${component}.yaml`);
      writeFileSync(file, cm.data!['kdebug.yaml']!);
      const config = loadConfig({ env: { ...containerEnv(c), KDEBUG_CONFIG: file } });
      expect(config.health.port).toBe(c.ports!.find((p) => p.name === 'health')!.containerPort);
      expect(config.shutdown.graceSeconds).toBeLessThan(d.spec!.template.spec!.terminationGracePeriodSeconds!);
      expect(config.kubernetes.kubeconfig).toBe('');
      if (component === 'bot') {
        expect(config.slack.mode).toBe(mode);
        if (mode === 'http') expect(config.slack.port).toBe(c.ports!.find((p) => p.name === 'http')!.containerPort);
      }
      for (const [section, settings] of Object.entries(values.config ?? {})) {
        expect((config as unknown as Record<string, Record<string, unknown>>)[section]).toMatchObject(settings);
      }
    }
  });

  test('a change of the configuration rolls the pods (checksum/config)', () => {
    const objects = objectsOf(variant);
    const configMaps = byKind<V1ConfigMap & KubeObject>(objects, 'ConfigMap');
    expect(configMaps.length).toBeGreaterThan(0);
    for (const component of ['bot', 'worker'] as const) {
      const annotations = deployment(objects, component).spec!.template.metadata!.annotations ?? {};
      expect(annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      if (byKind(objects, 'Secret').length) expect(annotations['checksum/slack-secret']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  test("the access policy, when configured, is mounted and kdebug's policy parser accepts it", () => {
    const objects = objectsOf(variant);
    for (const component of ['bot', 'worker'] as const) {
      const d = deployment(objects, component);
      const path = envValue(mainContainer(d), 'KDEBUG_POLICY_PATH')?.value;
      if (!values.policy?.enabled) {
        expect(path).toBeUndefined();
        continue;
      }
      expect(path).toBe('/etc/kdebug/policy/policy.yaml');
      const mount = mainContainer(d).volumeMounts!.find((m) => m.mountPath === '/etc/kdebug/policy')!;
      const volume = d.spec!.template.spec!.volumes!.find((v) => v.name === mount.name)!;
      const text = find<V1ConfigMap & KubeObject>(objects, 'ConfigMap', volume.configMap!.name!).data!['policy.yaml']!;
      const policy = parsePolicy(text, `${variant} policy.yaml`);
      expect(policy.rules.length).toBeGreaterThan(0);
      expect(policyWarnings(policy, checks.keys())).toEqual([]);
    }
  });

  test('Redis: REDIS_URL for the chosen Redis; a password only through $(REDIS_PASSWORD), defined before use', () => {
    const objects = objectsOf(variant);
    for (const component of ['bot', 'worker'] as const) {
      const c = mainContainer(deployment(objects, component));
      const env = envOf(c);
      // Kubernetes expands $(VAR) only for variables defined earlier in the list.
      env.forEach((e, i) => {
        for (const [, name] of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          expect(env.slice(0, i).map((x) => x.name)).toContain(name);
        }
      });
      const url = envValue(c, 'REDIS_URL')!;
      if (values.redis?.external?.urlFromSecret?.name) expect(url.valueFrom?.secretKeyRef?.name).toBe(values.redis.external.urlFromSecret.name);
      else if (bundledRedis) expect(url.value).toMatch(/^redis:\/\/(:\$\(REDIS_PASSWORD\)@)?[a-z0-9-]+-redis\.kdebug\.svc:6379$/);
      else expect(url.value).toMatch(/^rediss?:\/\//);
      const password = values.redis?.bundled?.auth?.existingSecret ?? values.redis?.external?.existingSecret;
      if (password) {
        expect(envValue(c, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.name).toBe(password);
        expect(url.value).toContain(':$(REDIS_PASSWORD)@');
      } else expect(envValue(c, 'REDIS_PASSWORD')).toBeUndefined();
    }
  });

  test('bundled Redis: a StatefulSet with a PVC, appendonly and noeviction as BullMQ requires, behind a Service', () => {
    const objects = objectsOf(variant);
    const sets = byKind<StatefulSet>(objects, 'StatefulSet');
    if (!bundledRedis) {
      expect(sets).toEqual([]);
      return;
    }
    expect(sets).toHaveLength(1);
    const sts = sets[0]!;
    const redis = sts.spec!.template.spec!.containers[0]!;
    const argv = [...(redis.command ?? []), ...(redis.args ?? [])].join(' ');
    expect(argv).toMatch(/--appendonly yes\b/);
    expect(argv).toMatch(/--maxmemory-policy noeviction\b/);
    expect(argv.match(/--maxmemory-policy/g)).toHaveLength(1);
    if (values.redis?.bundled?.auth?.existingSecret) expect(argv).toContain('--requirepass $(REDIS_PASSWORD)');
    expect(sts.spec!.replicas).toBe(1);
    const claim = sts.spec!.volumeClaimTemplates?.[0];
    expect(claim?.spec?.resources?.requests?.storage).toBe(values.redis?.bundled?.persistence?.size ?? '1Gi');
    expect(redis.volumeMounts?.find((m) => m.mountPath === '/data')?.name).toBe(claim?.metadata?.name);
    const service = find<V1Service & KubeObject>(objects, 'Service', sts.spec!.serviceName!);
    expect(service.spec!.selector).toEqual(sts.spec!.selector.matchLabels);
    const url = envValue(mainContainer(deployment(objects, 'worker')), 'REDIS_URL')!.value!;
    expect(url).toContain(`${service.metadata.name}.${NAMESPACE}.svc:${service.spec!.ports![0]!.port}`);
  });

  test('a PodDisruptionBudget for the bot and one for the worker, each selecting its pods', () => {
    const objects = objectsOf(variant);
    const pdbs = byKind<V1PodDisruptionBudget & KubeObject>(objects, 'PodDisruptionBudget');
    expect(pdbs).toHaveLength(2);
    for (const component of ['bot', 'worker'] as const) {
      const labels = deployment(objects, component).spec!.template.metadata!.labels!;
      const matching = pdbs.filter((p) => Object.entries(p.spec!.selector!.matchLabels!).every(([k, v]) => labels[k] === v));
      expect(matching).toHaveLength(1);
      const spec = matching[0]!.spec!;
      expect(spec.minAvailable === undefined).not.toBe(spec.maxUnavailable === undefined);
    }
  });

  test('Slack transport: Socket Mode needs no Service or Ingress; HTTP mode routes /slack/events to PORT', () => {
    const objects = objectsOf(variant);
    const bot = deployment(objects, 'bot');
    const slackServices = byKind<V1Service & KubeObject>(objects, 'Service').filter((s) => s.spec?.ports?.some((p) => p.targetPort === 'http'));
    const ingresses = byKind<V1Ingress & KubeObject>(objects, 'Ingress');
    if (mode === 'socket') {
      expect(slackServices).toEqual([]);
      expect(ingresses).toEqual([]);
      expect(envValue(mainContainer(bot), 'PORT')).toBeUndefined();
      return;
    }
    const http = mainContainer(bot).ports!.find((p) => p.name === 'http')!;
    expect(envValue(mainContainer(bot), 'PORT')?.value).toBe(String(http.containerPort));
    expect(slackServices).toHaveLength(1);
    expect(slackServices[0]!.spec!.selector).toEqual(bot.spec!.selector.matchLabels);
    if (values.slack?.http?.ingress?.enabled) {
      expect(ingresses).toHaveLength(1);
      const paths = ingresses[0]!.spec!.rules!.flatMap((r) => r.http!.paths);
      expect(paths).toEqual([{ path: '/slack/events', pathType: 'Exact', backend: { service: { name: slackServices[0]!.metadata.name, port: { name: 'http' } } } }]);
    }
  });

  test('ServiceMonitor (when enabled) scrapes /metrics on the health port of both roles', () => {
    const objects = objectsOf(variant);
    const monitors = byKind<KubeObject & { spec: { endpoints: Array<{ port: string; path: string }>; selector: { matchLabels: Record<string, string> } } }>(
      objects,
      'ServiceMonitor',
    );
    if (!values.metrics?.serviceMonitor?.enabled) {
      expect(monitors).toEqual([]);
      return;
    }
    expect(monitors).toHaveLength(1);
    expect(monitors[0]!.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    for (const component of ['bot', 'worker'] as const) {
      const service = byKind<V1Service & KubeObject>(objects, 'Service').find(
        (s) => s.metadata.labels?.['app.kubernetes.io/component'] === component && s.spec?.ports?.some((p) => p.name === 'metrics'),
      );
      expect(service?.spec?.ports?.find((p) => p.name === 'metrics')?.targetPort).toBe('health');
      expect(service?.spec?.selector).toEqual(deployment(objects, component).spec!.selector.matchLabels);
      for (const [k, v] of Object.entries(monitors[0]!.spec.selector.matchLabels)) expect(service?.metadata.labels?.[k]).toBe(v);
    }
  });

  test('NetworkPolicy (when enabled): ingress only to the HTTP and metrics ports; only the worker reaches the API server', () => {
    const objects = objectsOf(variant);
    const policies = byKind<V1NetworkPolicy & KubeObject>(objects, 'NetworkPolicy');
    if (!values.networkPolicy?.enabled) {
      expect(policies).toEqual([]);
      return;
    }
    const policyOf = (component: string) => policies.find((p) => p.spec!.podSelector?.matchLabels?.['app.kubernetes.io/component'] === component)!;
    for (const component of ['bot', 'worker'] as const) {
      const spec = policyOf(component).spec!;
      expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const ingressPorts = (spec.ingress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port));
      const expected = [...(component === 'bot' && mode === 'http' ? ['http'] : []), ...(values.metrics?.serviceMonitor?.enabled ? ['health'] : [])];
      expect(ingressPorts).toEqual(expected);
      for (const rule of spec.ingress ?? []) expect(rule.ports?.length).toBeGreaterThan(0);
      const egressPorts = (spec.egress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port));
      expect(egressPorts).toContain(53);
      expect(egressPorts).toContain(443);
      expect(egressPorts.includes(6443)).toBe(component === 'worker');
      for (const rule of spec.egress ?? []) expect(rule.ports?.length).toBeGreaterThan(0);
    }
    if (bundledRedis) {
      const redis = policyOf('redis').spec!;
      expect(redis.egress ?? []).toEqual([]);
      // (client-node names the field `_from`; on the wire it is `from`.)
      const from = (redis.ingress ?? []).flatMap((r) => (r as { from?: Array<{ podSelector?: { matchLabels?: Record<string, string> } }> }).from ?? []);
      expect(from.map((f) => f.podSelector?.matchLabels?.['app.kubernetes.io/component']).sort()).toEqual(['bot', 'worker']);
    }
  });
});

describe('the offline schema validation itself', () => {
  test('catches wrong types, bad quantities, missing required fields and unknown fields, at any depth', async () => {
    const good = deployment(objectsOf('(default values)'), 'worker');
    expect(await validateObject(good)).toEqual([]);
    const bad = structuredClone(good);
    const pod = bad.spec!.template.spec!;
    const container = pod.containers[0]!;
    // What the types would refuse, on purpose: a misspelt field, a string for an integer, no name.
    Object.assign(container, { securityContex: { runAsUser: 0 } });
    container.resources!.limits!.memory = 'lots';
    Object.assign(container.ports![0]!, { containerPort: '8080' });
    Reflect.deleteProperty(container, 'name');
    Object.assign(pod, { terminationGracePeriod: 60 });
    const errors = await validateObject(bad);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/containers\[0\]\.securityContex: unknown field/),
        expect.stringMatching(/spec\.template\.spec\.terminationGracePeriod: unknown field/),
        expect.stringMatching(/resources\/limits\/memory/),
        expect.stringMatching(/ports\/0\/containerPort must be integer/),
        expect.stringMatching(/containers\/0 must have required property '?name'?/),
      ]),
    );
  });

  test('knows custom resources (ServiceMonitor) and refuses kinds it has no schema for', async () => {
    const monitor = byKind(objectsOf('ci/http-ingress-values.yaml'), 'ServiceMonitor')[0]!;
    expect(await validateObject(monitor)).toEqual([]);
    const broken = { ...monitor, spec: { ...(monitor.spec as object), endpoints: 'metrics' } } as KubeObject;
    expect((await validateObject(broken)).join('\n')).toMatch(/endpoints/);
    expect(await validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual(['Widget/w: no schema for example.com/v1 Widget']);
  });
});

describe('external Redis with the whole URL in a Secret', () => {
  test('REDIS_URL comes from the Secret, nothing about Redis is in plain values', async () => {
    const objects = await renderChart([], ['redis.bundled.enabled=false', 'redis.external.urlFromSecret.name=kdebug-redis-url', 'redis.external.urlFromSecret.key=url']);
    expect((await Promise.all(objects.map(validateObject))).flat()).toEqual([]);
    expect(byKind(objects, 'StatefulSet')).toEqual([]);
    for (const component of ['bot', 'worker'] as const) {
      const c = mainContainer(deployment(objects, component));
      expect(envValue(c, 'REDIS_URL')).toEqual({ name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'kdebug-redis-url', key: 'url' } } });
      expect(envValue(c, 'REDIS_PASSWORD')).toBeUndefined();
    }
  });
});

describe('rollouts and NOTES', () => {
  test('changing a setting changes checksum/config, and nothing else changes it', async () => {
    const checksum = (objects: KubeObject[]) => deployment(objects, 'worker').spec!.template.metadata!.annotations!['checksum/config'];
    const base = checksum(await renderChart());
    expect(checksum(await renderChart())).toBe(base);
    expect(checksum(await renderChart([], ['config.log.level=debug']))).not.toBe(base);
    expect(checksum(await renderChart([], ['bot.replicas=3']))).toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(createHash('sha256').update('').digest('hex')).not.toBe(base);
  });

  test('NOTES: the next steps, and a warning while no Slack secret is configured', async () => {
    const bare = await renderNotes();
    expect(bare).toMatch(/WARNING: no Slack credentials are configured/);
    expect(bare).toContain('create secret generic kd-kdebug-slack');
    expect(bare).toContain('SLACK_APP_TOKEN=xapp-');
    expect(bare).toContain('/invite @kdebug');
    expect(bare).toContain('/kdebug dns <pod> -n <namespace>');
    expect(bare).toMatch(/every namespace/);

    const configured = await renderNotes(['ci/namespaced-rbac-values.yaml']);
    expect(configured).not.toMatch(/WARNING/);
    expect(configured).toContain('/kdebug dns <pod> -n <namespace>');
    expect(configured).toMatch(/prod, staging only/);

    const http = await renderNotes(['ci/http-ingress-values.yaml']);
    expect(http).toContain('https://kdebug.example.com/slack/events');
  });
});
