// Every way the Kubernetes side of a job can fail, each ending in one message that says what
// happened and what to do: the real job runner and the real @kubernetes/client-node against the
// Kubernetes emulator, replies through the real WebClient into the Slack emulator.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { checks } from '../../src/checks/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createKubeClients } from '../../src/kube/client.js';
import { PodWatches } from '../../src/kube/pod-watches.js';
import { chooseTargetContainer } from '../../src/kube/ephemeral.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { jobIdFor, validateJob, type DiagnosticJob } from '../../src/queue/job.js';
import { JobThread } from '../../src/slack/web.js';
import { runJob, type JobOutcome } from '../../src/worker/run-job.js';
import { Redis } from 'ioredis';
import { postOutbox } from '../../src/delivery/post-outbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { AnswerSink } from '../../src/delivery/answer-sink.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';
import { testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';

const CHANNEL = 'C0FAILURES';
let slack: SlackEmulator;
let client: WebClient;
let counter = 0;
let redis: TestRedis;
let redisClient: Redis;
let outbox: Outbox;

/** Answers go through the real outbox in Redis and are delivered at once into the Slack emulator. */
function answersFor(thread: JobThread): AnswerSink {
  return {
    write: (jobId, ops) => outbox.write(jobId, ops),
    exists: (jobId) => outbox.exists(jobId),
    deliver: async (job) => {
      await postOutbox(job.id, outbox, thread);
    },
  };
}

beforeAll(async () => {
  redis = await testRedis();
  redisClient = new Redis(redis.url);
  outbox = new Outbox(redisClient, redis.prefix);
  // This suite drives runJob in-process, posting a root message per case from the test itself,
  // several a second into one channel, with no SlackPacer: Slack's limits are not what it tests
  // (slack-limits.test.ts is, through the real processes).
  slack = new SlackEmulator({ rateLimits: false });
  await slack.start();
  slack.addChannel(CHANNEL, { botIsMember: true });
  client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
});
afterAll(async () => {
  await slack.stop();
  redisClient.disconnect();
  await redis.stop();
});

async function emulator(opts: ConstructorParameters<typeof KubeEmulator>[0] = {}) {
  const kube = new KubeEmulator(opts);
  await kube.start();
  kube.addNamespace('prod');
  await kube.addPod({
    namespace: 'prod',
    name: 'web-0',
    containers: [
      { name: 'app', image: 'web:1' },
      { name: 'sidecar', image: 'proxy:1' },
    ],
  });
  const path = join(mkdtempSync(join(tmpdir(), 'kdebug-kc-')), 'kubeconfig');
  kube.writeKubeconfig(path);
  // A short request timeout, so a late answer is retried within the test's time.
  return { kube, clients: createKubeClients(loadConfig({ env: { KUBECONFIG: path, KDEBUG_KUBERNETES_REQUEST_TIMEOUT_SECONDS: '1' } })) };
}

/** Runs one dns job through the real runner and returns its outcome and the thread's text. */
async function runDns(kube: Awaited<ReturnType<typeof emulator>>, text: string, overrides: Partial<DiagnosticJob> = {}, imageOverride?: string) {
  const root = await client.chat.postMessage({ channel: CHANNEL, text: 'root' });
  const job: DiagnosticJob = {
    v: 1,
    id: jobIdFor('failures', String(counter++), String(Date.now())),
    check: 'dns',
    target: { kind: 'pod', name: 'web-0' },
    namespace: 'prod',
    timeoutSeconds: 30,
    positional: [],
    options: {},
    commandText: `/kdebug ${text}`,
    requestedBy: { teamId: 'T1', userId: 'U1' },
    reply: { channel: CHANNEL, rootTs: root.ts! },
    enqueuedAt: Date.now(),
    ...overrides,
  };
  const valid = validateJob(job, checks);
  if (!valid.ok) throw new Error(valid.reason);
  const jobThread = new JobThread(client, CHANNEL, root.ts!);
  const outcome: JobOutcome = await runJob(valid.job, valid.check, valid.args, {
    kube: kube.clients,
    rootUpdates: jobThread,
    answers: answersFor(jobThread),
    settings: {
      image: imageOverride ?? 'nicolaka/netshoot',
      imagePullPolicy: 'IfNotPresent',
      maxLogBytes: 1 << 20,
      maxInlineOutputChars: 2800,
      checks: {},
      fanout: { maxPods: 10, maxParallel: 10 },
    },
    logger: createLogger('silent'),
    metrics: new Metrics(false),
  });
  const thread = slack.thread(CHANNEL, root.ts!).map((m) => m.text);
  const final = slack.message(CHANNEL, root.ts!)!.text;
  return { outcome, thread, final };
}

describe('Kubernetes failures become clear messages', () => {
  test('forbidden: names the missing permission', async () => {
    const env = await emulator();
    try {
      env.kube.deny('patch', 'pods', 'ephemeralcontainers');
      const { outcome, thread } = await runDns(env, 'dns web-0 -n prod');
      expect(outcome).toMatchObject({ status: 'failed', failure: 'forbidden' });
      expect(thread.at(-1)).toMatch(/kdebug is not allowed to patch pods\/ephemeralcontainers in namespace prod/);
      expect(thread.at(-1)).toMatch(/grant the worker's service account "patch" on "pods\/ephemeralcontainers"/);
    } finally {
      await env.kube.stop();
    }
  });

  test('ephemeral containers unavailable in this cluster', async () => {
    const env = await emulator({ ephemeralContainersEnabled: false });
    try {
      const { outcome, thread } = await runDns(env, 'dns web-0 -n prod');
      expect(outcome.failure).toBe('ephemeral-unavailable');
      expect(thread.at(-1)).toMatch(/does not serve the pods\/ephemeralcontainers API.*1\.23/);
    } finally {
      await env.kube.stop();
    }
  });

  test('Pod Security refusal quotes the policy', async () => {
    const env = await emulator();
    try {
      env.kube.addNamespace('locked', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      await env.kube.addPod({ namespace: 'locked', name: 'api-0', containers: [{ name: 'api', image: 'api:1' }] });
      // dns needs no privilege, so it passes even "restricted"; a check asking for NET_RAW does not pass baseline.
      const dns = checks.get('dns')!;
      const rawCheck = { ...dns, name: 'dns', capabilities: ['NET_RAW'] };
      const registry = new Map([['dns', rawCheck]]);
      const root = await client.chat.postMessage({ channel: CHANNEL, text: 'root' });
      const job = validateJob(
        {
          v: 1,
          id: jobIdFor('psa', String(Date.now())),
          check: 'dns',
          target: { kind: 'pod', name: 'api-0' },
          namespace: 'locked',
          timeoutSeconds: 30,
          positional: [],
          options: {},
          commandText: '/kdebug dns api-0 -n locked',
          requestedBy: { teamId: 'T1', userId: 'U1' },
          reply: { channel: CHANNEL, rootTs: root.ts! },
          enqueuedAt: Date.now(),
        },
        registry,
      );
      if (!job.ok) throw new Error(job.reason);
      const jobThread = new JobThread(client, CHANNEL, root.ts!);
      const outcome = await runJob(job.job, job.check, job.args, {
        kube: env.clients,
        rootUpdates: jobThread,
        answers: answersFor(jobThread),
        settings: {
          image: 'nicolaka/netshoot',
          imagePullPolicy: 'IfNotPresent',
          maxLogBytes: 1 << 20,
          maxInlineOutputChars: 2800,
          checks: {},
          fanout: { maxPods: 10, maxParallel: 10 },
        },
        logger: createLogger('silent'),
        metrics: new Metrics(false),
      });
      expect(outcome.failure).toBe('pod-security');
      const text = slack.thread(CHANNEL, root.ts!).at(-1)!.text;
      expect(text).toMatch(/Pod Security Admission refused the debug container in namespace locked \(policy "baseline:latest"\): non-default capabilities/);
      expect(text).toContain('NET_RAW');
      expect(text).toMatch(/Checks that need no extra privileges \(dns/);
    } finally {
      await env.kube.stop();
    }
  });

  test('a restricted namespace still runs dns (non-root, no capabilities)', async () => {
    const env = await emulator();
    try {
      env.kube.addNamespace('strict', { 'pod-security.kubernetes.io/enforce': 'restricted' });
      await env.kube.addPod({ namespace: 'strict', name: 'api-0', containers: [{ name: 'api', image: 'api:1' }] });
      const { outcome } = await runDns(env, 'dns api-0 -n strict', { namespace: 'strict', target: { kind: 'pod', name: 'api-0' } });
      expect(outcome.status).toBe('done');
    } finally {
      await env.kube.stop();
    }
  });

  test('a job whose deadline passed before its container was added adds none (they can never be removed)', async () => {
    const env = await emulator();
    try {
      const before = env.kube.getPod('prod', 'web-0')!.spec.ephemeralContainers?.length ?? 0;
      const { outcome, thread } = await runDns(env, 'dns web-0 -n prod', { enqueuedAt: Date.now() - 31_000 });
      expect(outcome).toMatchObject({ status: 'failed', failure: 'deadline' });
      expect(thread.at(-1)).toMatch(/deadline passed before the debug container could be added to pod web-0; nothing was added/);
      expect(env.kube.getPod('prod', 'web-0')!.spec.ephemeralContainers?.length ?? 0).toBe(before);
    } finally {
      await env.kube.stop();
    }
  });

  test('image pull failure ends at the deadline naming the image and the waiting reason', async () => {
    const env = await emulator();
    try {
      env.kube.failImagePull('registry.invalid/netshoot:nope');
      const { outcome, thread, final } = await runDns(env, 'dns web-0 -n prod --timeout 5s', { timeoutSeconds: 5 }, 'registry.invalid/netshoot:nope');
      expect(outcome.failure).toBe('deadline');
      expect(thread.at(-1)).toMatch(
        /No result within the 5 s deadline: the debug container \(image registry\.invalid\/netshoot:nope\) was waiting: (ErrImagePull|ImagePullBackOff)/,
      );
      expect(final).toMatch(/^dns web-0 in prod: failed: No result within the 5 s deadline/);
    } finally {
      await env.kube.stop();
    }
  });

  test('-c picks the target container; an unknown one lists the pod containers', async () => {
    const env = await emulator();
    try {
      const ok = await runDns(env, 'dns web-0 -n prod -c sidecar', { container: 'sidecar' });
      expect(ok.outcome.status).toBe('done');
      const pod = env.kube.getPod('prod', 'web-0')!;
      expect(pod.spec?.ephemeralContainers?.find((c) => c.name === ok.outcome.container)?.targetContainerName).toBe('sidecar');
      const bad = await runDns(env, 'dns web-0 -n prod -c nope', { container: 'nope' });
      expect(bad.thread.at(-1)).toBe('Pod web-0 has no container named nope; its containers are: app, sidecar.');
    } finally {
      await env.kube.stop();
    }
  });
});

test('target container: -c, else the default-container annotation, else the first', () => {
  const pod = (annotations?: Record<string, string>) => ({ metadata: { name: 'p', annotations }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } });
  expect(chooseTargetContainer(pod(), 'b')).toBe('b');
  expect(chooseTargetContainer(pod({ 'kubectl.kubernetes.io/default-container': 'b' }))).toBe('b');
  expect(chooseTargetContainer(pod({ 'kubectl.kubernetes.io/default-container': 'gone' }))).toBe('a');
  expect(chooseTargetContainer(pod())).toBe('a');
});

describe('Kubernetes API faults are retried or resumed; final answers are not retried', () => {
  const count = (kube: KubeEmulator, verb: string, resource: string, subresource?: string) =>
    kube.requests.filter((r) => r.verb === verb && r.resource === resource && (r.subresource ?? '') === (subresource ?? '')).length;

  test('5xx, 429 and a late answer are retried; the job still ends with its verdict and one container', async () => {
    const env = await emulator();
    try {
      env.kube.injectFault('get', 'pods', { status: 503 }, 1);
      env.kube.injectFault('get', 'pods', { status: 429 }, 1);
      env.kube.injectFault('patch', 'pods/ephemeralcontainers', { status: 500 }, 1);
      env.kube.injectFault('get', 'pods/log', { delayMs: 1500 }, 1);
      const { outcome } = await runDns(env, 'dns web-0 -n prod');
      expect(outcome.status).toBe('done');
      expect(count(env.kube, 'get', 'pods')).toBeGreaterThanOrEqual(3);
      expect(count(env.kube, 'patch', 'pods', 'ephemeralcontainers')).toBe(2);
      expect(env.kube.getPod('prod', 'web-0')!.spec.ephemeralContainers!.filter((c) => c.name === outcome.container)).toHaveLength(1);
    } finally {
      await env.kube.stop();
    }
  });

  test('a dropped watch and an expired resourceVersion (410) are resumed', async () => {
    const env = await emulator();
    try {
      env.kube.setStartDelay(1500);
      env.kube.injectFault('watch', 'pods', { dropAfterMs: 200 }, 1);
      env.kube.injectFault('watch', 'pods', { expired: true }, 1);
      const { outcome } = await runDns(env, 'dns web-0 -n prod');
      expect(outcome.status).toBe('done');
      expect(count(env.kube, 'watch', 'pods')).toBeGreaterThanOrEqual(3);
    } finally {
      await env.kube.stop();
    }
  });

  test('403 and 404 are answered at once, without retries', async () => {
    const env = await emulator();
    try {
      env.kube.deny('patch', 'pods', 'ephemeralcontainers');
      expect((await runDns(env, 'dns web-0 -n prod')).outcome.failure).toBe('forbidden');
      expect(count(env.kube, 'patch', 'pods', 'ephemeralcontainers')).toBe(1);
      const before = count(env.kube, 'get', 'pods');
      expect((await runDns(env, 'dns web-9 -n prod', { target: { kind: 'pod', name: 'web-9' } })).outcome.failure).toBe('not-found');
      expect(count(env.kube, 'get', 'pods') - before).toBe(1);
    } finally {
      await env.kube.stop();
    }
  });
});

describe('one pod watch per namespace, shared by the jobs waiting there', () => {
  const count = (kube: KubeEmulator, verb: string, resource: string, opts: { subresource?: string; namespace?: string } = {}) =>
    kube.requests.filter(
      (r) => r.verb === verb && r.resource === resource && (r.subresource ?? '') === (opts.subresource ?? '') && (opts.namespace === undefined || r.namespace === opts.namespace),
    ).length;

  /** The most pod watches open at once in each namespace while `work` runs, sampled every 5 ms. */
  async function peakWatches<T>(kube: KubeEmulator, namespaces: string[], work: Promise<T>): Promise<{ result: T; peak: Record<string, number> }> {
    const peak = Object.fromEntries(namespaces.map((ns) => [ns, 0]));
    const sample = () => {
      for (const ns of namespaces) peak[ns] = Math.max(peak[ns] ?? 0, kube.openPodWatches(ns));
    };
    const sampler = setInterval(sample, 5);
    try {
      return { result: await work, peak };
    } finally {
      clearInterval(sampler);
      sample();
    }
  }

  async function addPods(kube: KubeEmulator, namespace: string, names: string[]): Promise<void> {
    for (const name of names) if (!kube.getPod(namespace, name)) await kube.addPod({ namespace, name, containers: [{ name: 'app', image: 'web:1' }] });
  }

  const dnsOn = (env: Awaited<ReturnType<typeof emulator>>, namespace: string, pod: string) =>
    runDns(env, `dns ${pod} -n ${namespace}`, { namespace, target: { kind: 'pod', name: pod } });

  async function noWatchLeft(kube: KubeEmulator): Promise<void> {
    const until = Date.now() + 5000;
    while (kube.openPodWatches() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(kube.openPodWatches()).toBe(0);
  }

  test('6 jobs on 6 pods of one namespace open one watch between them, and the same requests per job as one job alone', async () => {
    const env = await emulator();
    try {
      const pods = ['web-0', 'web-1', 'web-2', 'web-3', 'web-4', 'web-5'];
      await addPods(env.kube, 'prod', pods);
      // Every container takes 1.5 s to start: the 6 jobs wait on their pods at the same time.
      env.kube.setStartDelay(1500);
      const { result, peak } = await peakWatches(env.kube, ['prod'], Promise.all(pods.map((pod) => dnsOn(env, 'prod', pod))));
      console.log(`pod watches open at once with ${pods.length} jobs in flight in one namespace: ${peak.prod}`);
      expect(result.map((r) => r.outcome.status)).toEqual(pods.map(() => 'done'));
      expect(peak.prod).toBe(1);
      expect(count(env.kube, 'watch', 'pods')).toBe(1);
      // Per job: one get (the target), one patch, one log; nothing per job for the wait.
      expect(count(env.kube, 'get', 'pods')).toBe(pods.length);
      expect(count(env.kube, 'patch', 'pods', { subresource: 'ephemeralcontainers' })).toBe(pods.length);
      expect(count(env.kube, 'get', 'pods', { subresource: 'log' })).toBe(pods.length);
      expect(count(env.kube, 'list', 'pods')).toBe(0);
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });

  test('jobs in two namespaces open one watch in each; none stays open after them', async () => {
    const env = await emulator();
    try {
      await addPods(env.kube, 'prod', ['web-0', 'web-1', 'web-2']);
      await addPods(env.kube, 'staging', ['api-0', 'api-1', 'api-2']);
      env.kube.setStartDelay(1500);
      const jobs = [...['web-0', 'web-1', 'web-2'].map((pod) => dnsOn(env, 'prod', pod)), ...['api-0', 'api-1', 'api-2'].map((pod) => dnsOn(env, 'staging', pod))];
      const { result, peak } = await peakWatches(env.kube, ['prod', 'staging'], Promise.all(jobs));
      console.log(`pod watches open at once with 3 jobs in prod and 3 in staging in flight: prod ${peak.prod}, staging ${peak.staging}`);
      expect(result.map((r) => r.outcome.status)).toEqual(jobs.map(() => 'done'));
      expect(peak).toEqual({ prod: 1, staging: 1 });
      expect(count(env.kube, 'watch', 'pods', { namespace: 'prod' })).toBe(1);
      expect(count(env.kube, 'watch', 'pods', { namespace: 'staging' })).toBe(1);
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });

  test('a dropped shared watch resumes, and an expired resourceVersion (410) re-lists once for all its jobs', async () => {
    const env = await emulator();
    try {
      const pods = ['web-0', 'web-1', 'web-2'];
      await addPods(env.kube, 'prod', pods);
      env.kube.setStartDelay(1500);
      env.kube.injectFault('watch', 'pods', { dropAfterMs: 300 }, 1);
      env.kube.injectFault('watch', 'pods', { expired: true }, 1);
      const { result, peak } = await peakWatches(env.kube, ['prod'], Promise.all(pods.map((pod) => dnsOn(env, 'prod', pod))));
      expect(result.map((r) => r.outcome.status)).toEqual(pods.map(() => 'done'));
      expect(peak.prod).toBe(1);
      // Dropped, resumed (and told its version expired), then started again from a fresh list.
      expect(count(env.kube, 'watch', 'pods')).toBe(3);
      expect(count(env.kube, 'list', 'pods')).toBe(1);
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });

  test('a shared watch ended by the server (timeoutSeconds) resumes from its last resourceVersion, with no re-list and no re-read', async () => {
    const env = await emulator();
    try {
      const pods = ['web-0', 'web-1', 'web-2'];
      await addPods(env.kube, 'prod', pods);
      // Watches the server ends every second, while the containers take 2.5 s to start.
      env.clients.podWatches = new PodWatches(env.clients.kc, env.clients.core, { timeoutSeconds: 1 });
      env.kube.setStartDelay(2500);
      const { result, peak } = await peakWatches(env.kube, ['prod'], Promise.all(pods.map((pod) => dnsOn(env, 'prod', pod))));
      expect(result.map((r) => r.outcome.status)).toEqual(pods.map(() => 'done'));
      expect(peak.prod).toBe(1);
      expect(count(env.kube, 'watch', 'pods')).toBeGreaterThanOrEqual(3);
      expect(count(env.kube, 'list', 'pods')).toBe(0);
      expect(count(env.kube, 'get', 'pods')).toBe(pods.length);
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });

  test('a watch the API server refuses (403): the jobs read their pods instead, and finish', async () => {
    const env = await emulator();
    try {
      await addPods(env.kube, 'prod', ['web-0', 'web-1']);
      env.kube.deny('watch', 'pods');
      const result = await Promise.all(['web-0', 'web-1'].map((pod) => dnsOn(env, 'prod', pod)));
      expect(result.map((r) => r.outcome.status)).toEqual(['done', 'done']);
      expect(count(env.kube, 'get', 'pods')).toBeGreaterThan(2);
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });

  test('a pod deleted mid-run fails its own job only; its neighbour on the same watch finishes', async () => {
    const env = await emulator();
    try {
      await addPods(env.kube, 'prod', ['web-0', 'web-1']);
      env.kube.setStartDelay(2000);
      const doomed = dnsOn(env, 'prod', 'web-0');
      const neighbour = dnsOn(env, 'prod', 'web-1');
      const until = Date.now() + 10_000;
      while (!env.kube.getPod('prod', 'web-0')?.status.ephemeralContainerStatuses?.length && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      env.kube.deletePod('prod', 'web-0');
      const [gone, fine] = await Promise.all([doomed, neighbour]);
      expect(gone.outcome).toMatchObject({ status: 'failed', failure: 'not-found' });
      expect(gone.thread.at(-1)).toBe('Pod web-0 was deleted while the diagnostic ran.');
      expect(fine.outcome.status).toBe('done');
      await noWatchLeft(env.kube);
    } finally {
      await env.kube.stop();
    }
  });
});
