// Proves that the worker's RBAC in the Helm chart is exactly what kdebug uses: nothing missing,
// nothing extra. The worker's real job path (runJob and everything below it: target resolution, the
// ephemeral container, the watch, the log), with the real @kubernetes/client-node built by
// createKubeClients from a kubeconfig, runs against the Kubernetes API emulator for every kind of target,
// plus a pod that does not exist (which lists pods for suggestions). Progress updates go through a real
// WebClient to the Slack emulator; the answers are kept in memory (the worker hands them to its delivery
// queue). The emulator records every request as the API server's authorizer sees it (verb, API group,
// resource, subresource). That set must equal the permissions `helm template` grants the worker's
// service account, in both the ClusterRole variant (default values) and the Role-per-namespace variant
// (ci/namespaced-rbac-values.yaml).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { WebClient } from '@slack/web-api';
import ts from 'typescript';
import { checks } from '../../src/checks/index.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createKubeClients, type KubeClients } from '../../src/kube/client.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { jobIdFor, validateJob, type DiagnosticJob } from '../../src/queue/job.js';
import { JobThread } from '../../src/slack/web.js';
import type { AnswerSink } from '../../src/delivery/answer-sink.js';
import { runJob, type JobOutcome } from '../../src/worker/run-job.js';
import { DnsServer } from '../../src/playground/dns-server.js';
import { DEFAULT_NODE, KubeEmulator } from '../../src/playground/kube-emulator.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';
import { expandRules, grantsFor, NAMESPACE, permission, renderChart, repoRoot, serviceAccountOf } from './helm-support.js';

const CHANNEL = 'C0RBACTEST';
const TARGET_NS = 'prod';

let kube: KubeEmulator;
let slack: SlackEmulator;
let dns: DnsServer;
let config: Config;
let clients: KubeClients;
let web: WebClient;
const outcomes = new Map<string, JobOutcome>();
/** The answers the jobs produced (the worker would hand them to its delivery queue). */
const answerTexts: string[] = [];
const answers: AnswerSink = {
  async write(_jobId, ops) {
    for (const op of ops) answerTexts.push(JSON.stringify(op));
    return true;
  },
  exists: async () => false,
  deliver: async () => undefined,
};

let targets = 0;

/**
 * Runs one job through the worker's real job path, as the worker would for `/kdebug dns <target> -n prod`,
 * in a channel of its own: the jobs follow each other faster than Slack's one message a second per channel.
 */
async function runTarget(kind: DiagnosticJob['target']['kind'], name: string, all = false): Promise<JobOutcome> {
  const id = jobIdFor('T0RBAC', `${kind}/${name}`, String(all), String(Date.now()));
  const channel = `${CHANNEL}${++targets}`;
  slack.addChannel(channel, { botIsMember: true });
  const root = await web.chat.postMessage({ channel, text: `dns ${kind}/${name}: queued` });
  const validated = validateJob(
    {
      v: 1,
      id,
      check: 'dns',
      target: { kind, name },
      namespace: TARGET_NS,
      timeoutSeconds: 30,
      positional: ['kubernetes.default.svc.cluster.local'],
      options: { server: `127.0.0.1:${dns.address.port}` },
      commandText: `/kdebug dns ${kind}/${name} -n ${TARGET_NS}`,
      requestedBy: { teamId: 'T0RBAC', userId: 'U0RBAC' },
      reply: { channel, rootTs: root.ts! },
      enqueuedAt: Date.now(),
      ...(all ? { all: true } : {}),
    },
    checks,
  );
  if (!validated.ok) throw new Error(`test job is invalid: ${validated.reason}`);
  return runJob(validated.job, validated.check, validated.args, {
    kube: clients,
    rootUpdates: new JobThread(web, channel, root.ts!),
    answers,
    settings: {
      image: config.kubernetes.debugImage,
      imagePullPolicy: config.kubernetes.imagePullPolicy,
      maxLogBytes: config.kubernetes.maxLogBytes,
      maxInlineOutputChars: config.replies.maxInlineOutputChars,
      checks: config.checks,
      fanout: config.fanout,
    },
    logger: createLogger('silent'),
    metrics: new Metrics(),
  });
}

beforeAll(async () => {
  slack = new SlackEmulator();
  await slack.start();

  dns = new DnsServer({ host: '127.0.0.1', port: 0 });
  await dns.start();
  dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');

  kube = new KubeEmulator();
  await kube.start();
  kube.addNamespace(TARGET_NS);
  const app = (name: string, labels: Record<string, string>) => kube.addPod({ namespace: TARGET_NS, name, labels, containers: [{ name: 'app', image: 'registry.local/app:1' }] });
  await app('web-0', { app: 'web' });
  await app('db-0', { app: 'db' });
  await app('agent-x7k2p', { app: 'agent' });
  kube.addNode(DEFAULT_NODE, { zone: 'eu-west-1a' });
  kube.addWorkload('deployment', { namespace: TARGET_NS, name: 'web', matchLabels: { app: 'web' } });
  kube.addWorkload('statefulset', { namespace: TARGET_NS, name: 'db', matchLabels: { app: 'db' } });
  kube.addWorkload('daemonset', { namespace: TARGET_NS, name: 'agent', matchLabels: { app: 'agent' } });

  // The worker's own way to the API: createKubeClients from the configuration, here a kubeconfig file.
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-rbac-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  config = loadConfig({ env: { KUBECONFIG: kubeconfig, SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl } });
  clients = createKubeClients(config);
  web = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });

  outcomes.set('pod', await runTarget('pod', 'web-0'));
  outcomes.set('deployment', await runTarget('deployment', 'web'));
  outcomes.set('statefulset', await runTarget('statefulset', 'db'));
  outcomes.set('daemonset', await runTarget('daemonset', 'agent'));
  outcomes.set('missing pod', await runTarget('pod', 'web-9'));
  // --all: the workload's pods, and the zone of their node.
  outcomes.set('deployment --all', await runTarget('deployment', 'web', true));
}, 120_000);

afterAll(async () => {
  await kube?.stop();
  await dns?.stop();
  await slack?.stop();
});

/** Every permission the worker needed, from the emulator's request log. */
function used(): string[] {
  return [...new Set(kube.requests.map((r) => permission(r.verb, r.apiGroup, r.resource, r.subresource)))].sort();
}

describe("the worker's job path against the API emulator", () => {
  test('ran every kind of target to the end', () => {
    for (const kind of ['pod', 'deployment', 'statefulset', 'daemonset', 'deployment --all']) {
      expect(outcomes.get(kind)).toMatchObject({ status: 'done', verdict: 'ok' });
    }
    expect(outcomes.get('deployment --all')?.pods).toEqual(['web-0']);
    expect(outcomes.get('missing pod')).toMatchObject({ status: 'failed', failure: 'not-found' });
    // The "did you mean" came from listing the namespace's pods.
    expect(answerTexts.some((text) => /Pod web-9 not found in namespace prod\. Similar pods there: web-0/.test(text))).toBe(true);
    // Each existing target got one debug container, through the subresource (web-0: as a pod, for deploy/web, and for deploy/web --all).
    for (const pod of ['web-0', 'db-0', 'agent-x7k2p']) {
      expect(kube.getPod(TARGET_NS, pod)!.spec.ephemeralContainers?.filter((c) => c.name.startsWith('kdebug-'))).toHaveLength(pod === 'web-0' ? 3 : 1);
    }
  });

  test('stayed in the target namespace and never touched anything it should not', () => {
    expect(new Set(kube.requests.filter((r) => r.resource !== 'nodes').map((r) => r.namespace))).toEqual(new Set([TARGET_NS]));
    // The one cluster-scoped request: a node's zone.
    expect(kube.requests.filter((r) => r.namespace === undefined).map((r) => permission(r.verb, r.apiGroup, r.resource, r.subresource))).toEqual(['get core nodes']);
    expect(used()).not.toContainEqual(expect.stringMatching(/secrets|pods\/exec|pods\/attach|delete|create|update/));
  });

  test('used exactly the permissions the README lists', () => {
    expect(used()).toEqual(
      [
        'get apps daemonsets',
        'get apps deployments',
        'get apps statefulsets',
        'get core nodes',
        'get core pods',
        'get core pods/log',
        'list core pods',
        'patch core pods/ephemeralcontainers',
        'watch core pods',
      ].sort(),
    );
  });
});

// ---- every Kubernetes API call site in src/, statically --------------------------------------------
// The run above exercises the job path; this scan makes sure no call site escapes it: each client-node
// API method (or watch path, or streaming helper) used anywhere in src/ maps to a permission, and every
// such permission was seen by the emulator. A new kind of call fails here until it is added to this
// table, to the chart's rules and to the run above.

const API_CALL_PERMISSIONS: Record<string, string> = {
  readNamespacedPod: 'get core pods',
  listNamespacedPod: 'list core pods',
  patchNamespacedPodEphemeralcontainers: 'patch core pods/ephemeralcontainers',
  readNamespacedPodLog: 'get core pods/log',
  readNamespacedDeployment: 'get apps deployments',
  readNamespacedStatefulSet: 'get apps statefulsets',
  readNamespacedDaemonSet: 'get apps daemonsets',
  readNode: 'get core nodes',
  // The inventory for the command builder (cluster-wide; with Roles per namespace it is refused and left out).
  listPodForAllNamespaces: 'list core pods',
};

/** Method names of every client-node API class (CoreV1Api, AppsV1Api, BatchV1Api, …). */
const API_METHODS = new Set(
  Object.entries(k8s as unknown as Record<string, unknown>)
    .filter(([name, value]) => /V\d\w*Api$|^(Core|Apps)Api$/.test(name) && typeof value === 'function')
    .flatMap(([, value]) => Object.getOwnPropertyNames((value as { prototype: object }).prototype))
    .filter((name) => /^(read|list|patch|create|replace|delete|connect)[A-Z]/.test(name)),
);
const STREAMING_HELPERS = new Set(['Watch', 'Log', 'Exec', 'Attach', 'PortForward', 'Cp', 'Informer', 'ListWatch']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The Kubernetes API call sites of one file: [permission or problem, where]. */
function kubeCallSites(file: string): Array<{ permission?: string; problem?: string; where: string }> {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Array<{ permission?: string; problem?: string; where: string }> = [];
  const where = (node: ts.Node) => `${relative(repoRoot, file)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && STREAMING_HELPERS.has(node.expression.text) && node.expression.text !== 'Watch') {
      // Log streams GET pods/{name}/log (captures follow it); the other helpers need more (exec, attach…).
      if (node.expression.text === 'Log') out.push({ permission: 'get core pods/log', where: where(node) });
      else out.push({ problem: `new ${node.expression.text}(…) is not in API_CALL_PERMISSIONS`, where: where(node) });
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      if (method === 'makeApiClient') {
        const api = node.arguments[0]?.getText(sf);
        // VersionApi reads /version, which every client may read without any RBAC rule.
        if (api !== 'CoreV1Api' && api !== 'AppsV1Api' && api !== 'VersionApi') out.push({ problem: `makeApiClient(${api}): a new API group`, where: where(node) });
      } else if (API_METHODS.has(method)) {
        const permission = API_CALL_PERMISSIONS[method];
        out.push(permission ? { permission, where: where(node) } : { problem: `${method} is not in API_CALL_PERMISSIONS`, where: where(node) });
      } else if (
        method === 'watch' &&
        node.arguments[0] &&
        (ts.isTemplateExpression(node.arguments[0]) || ts.isStringLiteral(node.arguments[0]) || ts.isNoSubstitutionTemplateLiteral(node.arguments[0]))
      ) {
        const arg = node.arguments[0];
        const path = ts.isTemplateExpression(arg) ? [arg.head.text, ...arg.templateSpans.map((span) => `*${span.literal.text}`)].join('') : arg.text;
        const core = /^\/api\/v1\/namespaces\/[^/]+\/([a-z]+)$/.exec(path);
        const grouped = /^\/apis\/([^/]+)\/[^/]+\/namespaces\/[^/]+\/([a-z]+)$/.exec(path);
        if (core) out.push({ permission: permission('watch', '', core[1]!), where: where(node) });
        else if (grouped) out.push({ permission: permission('watch', grouped[1]!, grouped[2]!), where: where(node) });
        else out.push({ problem: `watch of ${path}`, where: where(node) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('every Kubernetes API call site in src/', () => {
  const sites = tsFiles(join(repoRoot, 'src')).flatMap(kubeCallSites);

  test('maps to a known permission', () => {
    expect(sites.filter((s) => s.problem).map((s) => `${s.where}: ${s.problem}`)).toEqual([]);
    // The scan sees the calls it must see.
    expect(sites.map((s) => s.permission)).toEqual(expect.arrayContaining(['patch core pods/ephemeralcontainers', 'watch core pods', 'get core pods/log']));
  });

  test('was exercised by the run above, so the chart check covers it', () => {
    const exercised = used();
    expect(sites.filter((s) => s.permission && !exercised.includes(s.permission)).map((s) => `${s.where}: ${s.permission}`)).toEqual([]);
    const found = new Set(sites.map((s) => s.permission));
    expect(exercised.filter((p) => !found.has(p))).toEqual([]);
  });
});

describe.each([
  ['ClusterRole (default values)', [] as string[]],
  ['Role per namespace (ci/namespaced-rbac-values.yaml)', ['ci/namespaced-rbac-values.yaml']],
])("the chart's worker RBAC, %s", (_label, valuesFiles) => {
  test('grants exactly the permissions the job path used: nothing missing, nothing extra', async () => {
    const objects = await renderChart(valuesFiles);
    const grants = grantsFor(objects, serviceAccountOf(objects, 'worker'), NAMESPACE);
    expect(grants.length).toBeGreaterThan(0);
    // A Role grants what was used in its namespace; with Roles, a ClusterRole grants the cluster-scoped rest.
    const clusterScoped: string[] = used().filter((p) => p === 'get core nodes');
    const namespaced = used().filter((p) => !clusterScoped.includes(p));
    const withRoles = grants.some((g) => g.role.kind === 'Role');
    for (const grant of grants) {
      const expected = grant.role.kind === 'Role' ? namespaced : withRoles ? clusterScoped : used();
      const rules = grant.role.rules;
      // No wildcards, no per-name or non-resource rules: the expansion below is then the whole grant.
      for (const rule of rules) {
        expect(rule.resourceNames).toBeUndefined();
        expect(rule.nonResourceURLs).toBeUndefined();
        for (const field of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs]) expect(field).not.toContain('*');
      }
      const granted = expandRules(rules);
      const missing = expected.filter((p) => !granted.includes(p));
      const extra = granted.filter((p) => !expected.includes(p));
      expect({ role: `${grant.role.kind}/${grant.role.metadata.name}`, missing, extra }).toEqual({
        role: `${grant.role.kind}/${grant.role.metadata.name}`,
        missing: [],
        extra: [],
      });
    }
  });
});
