// The chart's worker-only form (bot.enabled=false, issue 13): one bot serves every cluster through one
// shared Redis, and each other cluster runs only its worker, which holds no Slack credentials (the bot's
// process delivers its answers). The real helm lints and renders it, from a values file kept out of the
// chart's ci/ variants (whose tests assume a bot) and from the bare `--set` install command; the
// rendered objects are validated against the Kubernetes schemas, and kdebug's own config loader reads
// what the chart gives the worker.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap, V1Container, V1Deployment, V1NetworkPolicy, V1Service } from '@kubernetes/client-node';
import { loadConfig, requireSecretsFor } from '../../src/config/load.js';
import { queueNameFor } from '../../src/queue/job.js';
import { byKind, expandRules, find, grantsFor, helm, NAMESPACE, renderChart, renderNotes, repoRoot, serviceAccountOf, valueArgs } from './helm-support.js';
import { validateObject, type KubeObject } from './k8s-schema.js';

type Deployment = V1Deployment & KubeObject;

const VALUES = join(repoRoot, 'test/fixtures/helm/worker-only-values.yaml');
const CLUSTER = 'prod-eu';
/** The install command of values.yaml and the README, minus the image. */
const SETS = ['bot.enabled=false', `config.cluster.name=${CLUSTER}`, 'redis.bundled.enabled=false', 'redis.external.url=rediss://redis.example.com:6380'];

const FORMS = {
  'the values file': { files: [VALUES], sets: [] as string[] },
  'the --set install command': { files: [] as string[], sets: SETS },
};
type Form = keyof typeof FORMS;

const rendered = new Map<Form, KubeObject[]>();
let withBot: KubeObject[];
beforeAll(async () => {
  for (const [form, { files, sets }] of Object.entries(FORMS)) rendered.set(form as Form, await renderChart(files, sets));
  withBot = await renderChart();
}, 120_000);

const componentOf = (o: KubeObject) => o.metadata.labels?.['app.kubernetes.io/component'];
const workerOf = (objects: KubeObject[]): Deployment => {
  const deployments = byKind<Deployment>(objects, 'Deployment');
  expect(deployments.map(componentOf)).toEqual(['worker']);
  return deployments[0]!;
};
const containerOf = (d: Deployment): V1Container => d.spec!.template.spec!.containers[0]!;

/** The worker's environment as Kubernetes would give it, with Secret values stubbed and $(VAR) expanded. */
function containerEnv(c: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.valueFrom) env[e.name] = 'stub';
    else env[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
  }
  return env;
}

describe.each(Object.keys(FORMS) as Form[])('bot.enabled=false, from %s', (form) => {
  const objects = () => rendered.get(form)!;

  test('helm lint --strict passes', async () => {
    const { files, sets } = FORMS[form];
    const result = await helm(['lint', '.', '--strict', '--namespace', NAMESPACE, ...valueArgs(files, sets)]);
    expect(`${result.stdout}${result.stderr}`).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  test('every object is valid against the Kubernetes API schemas', async () => {
    expect(objects().length).toBeGreaterThan(0);
    expect((await Promise.all(objects().map(validateObject))).flat()).toEqual([]);
  });

  test('nothing of the bot: no bot Deployment, Service, Ingress, PDB, ServiceAccount, NetworkPolicy or scrape target', () => {
    const all = objects();
    expect(all.filter((o) => componentOf(o) === 'bot').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    expect(byKind(all, 'Ingress')).toEqual([]);
    // No selector anywhere picks the bot's pods (a Service, a PDB, a NetworkPolicy or one of its peers).
    expect(JSON.stringify(all)).not.toMatch(/"app\.kubernetes\.io\/component":"bot"/);
    for (const s of byKind<V1Service & KubeObject>(all, 'Service')) expect(s.spec?.selector?.['app.kubernetes.io/component']).toBe('worker');
    for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
      for (const o of byKind<KubeObject & { spec: { selector?: { matchLabels?: Record<string, string> }; podSelector?: { matchLabels?: Record<string, string> } } }>(all, kind)) {
        expect((o.spec.selector ?? o.spec.podSelector)?.matchLabels?.['app.kubernetes.io/component']).toBe('worker');
      }
    }
    expect(byKind(all, 'ServiceAccount').map(componentOf)).toEqual(['worker']);
    const monitors = byKind<KubeObject & { spec: { selector: { matchExpressions: Array<{ values: string[] }> } } }>(all, 'ServiceMonitor');
    for (const m of monitors) expect(m.spec.selector.matchExpressions.flatMap((e) => e.values)).toEqual(['worker']);
    // What is left: the worker and what it needs (and, when enabled, its NetworkPolicy and scrape target).
    const kinds = [...new Set(all.map((o) => o.kind))].sort();
    expect(kinds.filter((k) => !['NetworkPolicy', 'Service', 'ServiceMonitor'].includes(k))).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'ServiceAccount',
    ]);
  });

  test('no Slack credentials anywhere: no Secret, no SLACK_* env or secret reference in the worker', () => {
    const all = objects();
    expect(byKind(all, 'Secret')).toEqual([]);
    const worker = workerOf(all);
    const c = containerOf(worker);
    expect((c.env ?? []).map((e) => e.name).filter((n) => /SLACK/i.test(n))).toEqual([]);
    expect(c.envFrom ?? []).toEqual([]);
    expect(JSON.stringify(worker)).not.toMatch(/slack/i);
    expect(worker.spec!.template.metadata!.annotations?.['checksum/slack-secret']).toBeUndefined();
  });

  test("kdebug's config loader reads the rendered ConfigMap: cluster prod-eu, and the worker starts without Slack secrets", () => {
    const all = objects();
    const worker = workerOf(all);
    const c = containerOf(worker);
    const mount = c.volumeMounts!.find((m) => m.mountPath === '/etc/kdebug/config')!;
    const volume = worker.spec!.template.spec!.volumes!.find((v) => v.name === mount.name)!;
    const cm = find<V1ConfigMap & KubeObject>(all, 'ConfigMap', volume.configMap!.name!);
    const file = join(mkdtempSync(join(tmpdir(), 'kdebug-worker-only-')), 'kdebug.yaml');
    writeFileSync(file, cm.data!['kdebug.yaml']!);
    const env = containerEnv(c);
    expect(env.KDEBUG_CONFIG).toBe('/etc/kdebug/config/kdebug.yaml');
    const config = loadConfig({ env: { ...env, KDEBUG_CONFIG: file } });
    expect(config.cluster.name).toBe(CLUSTER);
    expect(queueNameFor(config.cluster.name)).toBe(`diagnostics-${CLUSTER}`);
    expect(config.redis.url).toMatch(/^rediss:\/\//);
    expect(config.secrets).toEqual({ botToken: undefined, appToken: undefined, signingSecret: undefined });
    expect(() => requireSecretsFor('worker', config)).not.toThrow();
    // …which is the worker role's exception: the bot would refuse to start like this.
    expect(() => requireSecretsFor('bot', config)).toThrow(/SLACK_BOT_TOKEN is not set/);
    expect(c.args).toEqual(['worker']);
  });

  test("the worker's RBAC is the same least-privilege grant as with the bot", () => {
    const grantsOf = (all: KubeObject[]) =>
      grantsFor(all, serviceAccountOf(all, 'worker'), NAMESPACE)
        .map((g) => `${g.role.kind} ${g.namespace ?? '*'}: ${expandRules(g.role.rules).join(', ')}`)
        .sort();
    expect(grantsOf(objects())).toEqual(grantsOf(withBot));
    expect(grantsOf(objects()).length).toBeGreaterThan(0);
  });
});

describe('bot.enabled=false, what the NetworkPolicy and the ServiceMonitor keep', () => {
  test("the worker's egress: DNS, the shared Redis and the API server, but not Slack (it has no token)", () => {
    const policies = byKind<V1NetworkPolicy & KubeObject>(rendered.get('the values file')!, 'NetworkPolicy');
    expect(policies.map(componentOf)).toEqual(['worker']);
    const egress = policies[0]!.spec!.egress ?? [];
    const https = egress.filter((r) => (r.ports ?? []).some((p) => p.port === 443));
    // Port 443 only towards the API server's address (values: networkPolicy.apiServer.cidrs).
    expect(https.flatMap((r) => (r.to ?? []).map((peer) => peer.ipBlock?.cidr))).toEqual(['10.0.0.10/32']);
    const redis = egress.find((r) => (r.ports ?? []).some((p) => p.port === 6380));
    expect(redis?.to?.map((peer) => peer.ipBlock?.cidr)).toEqual(['10.20.0.0/16']);
  });

  test('the ServiceMonitor scrapes the worker', () => {
    const all = rendered.get('the values file')!;
    expect(byKind(all, 'ServiceMonitor')).toHaveLength(1);
    const metrics = byKind<V1Service & KubeObject>(all, 'Service');
    expect(metrics.map((s) => s.spec?.ports?.[0]?.name)).toEqual(['metrics']);
    expect(metrics[0]!.spec!.selector).toEqual(workerOf(all).spec!.selector.matchLabels);
  });
});

describe('bot.enabled=false refuses what cannot work, with one line saying what to set', () => {
  const external = ['redis.bundled.enabled=false', 'redis.external.url=rediss://redis.example.com:6380'];
  test.each<[string[], RegExp]>([
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`], /bot\.enabled=false .*that bot's Redis: set redis\.bundled\.enabled=false and redis\.external\.url/],
    // The install command without redis.bundled.enabled=false: the same answer, not the generic "not both".
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`, 'redis.external.url=rediss://redis.example.com:6380'], /that bot's Redis: set redis\.bundled\.enabled=false/],
    [['bot.enabled=false', ...external], /bot\.enabled=false needs config\.cluster\.name/],
    [['bot.enabled=false', 'config.cluster.name=default', ...external], /bot\.enabled=false needs config\.cluster\.name/],
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`, ...external, 'slack.existingSecret=kdebug-slack'], /without Slack credentials .*unset slack\.existingSecret/],
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`, ...external, 'slack.botToken=xoxb-1'], /without Slack credentials/],
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`, ...external, 'policy.enabled=true', 'policy.content=x'], /policy\.enabled=true has no effect with bot\.enabled=false/],
    [['bot.enabled=false', `config.cluster.name=${CLUSTER}`, ...external, 'slack.mode=http', 'slack.http.ingress.enabled=true'], /ingress\.enabled needs the bot/],
  ])('--set %j', async (sets, message) => {
    const result = await helm(['template', 'kd', '.', ...valueArgs([], sets)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  test.each([
    ['bot.enabled=no', /bot\/enabled/],
    ['config.cluster.name=Prod_EU', /config\/cluster\/name/],
  ])('values.schema.json rejects %s', async (set, where) => {
    const result = await helm(['template', 'kd', '.', '--set', set]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(where);
  });
});

describe('bot.enabled=true (the default)', () => {
  test('renders the same with bot.enabled=true and with no bot.enabled at all (helm upgrade --reuse-values of an older release)', async () => {
    const template = async (sets: string[]) => (await helm(['template', 'kd', '.', '--namespace', NAMESPACE, ...valueArgs([], sets)])).stdout;
    const base = await template([]);
    expect(base).toContain('args: ["bot"]');
    expect(await template(['bot.enabled=true'])).toBe(base);
    expect(await template(['bot.enabled=null'])).toBe(base);
  });
});

describe('NOTES of a worker-only install', () => {
  test('say what was installed (the worker for the cluster, its queue, the bot delivers) and what to do next', async () => {
    const notes = await renderNotes([VALUES]);
    expect(notes).toContain(`a worker for cluster ${CLUSTER}`);
    expect(notes).toContain(`queue diagnostics-${CLUSTER}`);
    expect(notes).toMatch(/bot's release delivers the\s+answers/);
    expect(notes).toContain('rediss://redis.example.internal:6380/0');
    expect(notes).toContain('/kdebug clusters');
    expect(notes).toContain(`--cluster ${CLUSTER}`);
    expect(notes).toContain("config.redis.keyPrefix as the bot's release (kdebug-prod here)");
    expect(notes).toMatch(/every namespace/);
    // None of the bot's steps or warnings.
    expect(notes).not.toMatch(/WARNING|create secret generic|\/invite|Socket Mode|no access policy/);
  });
});
