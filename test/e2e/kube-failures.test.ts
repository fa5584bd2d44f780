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
import { KubeEmulator } from '../support/kube-emulator.js';
import { testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator } from '../support/slack-emulator.js';

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
    thread: jobThread,
    answers: answersFor(jobThread),
    settings: { image: imageOverride ?? 'nicolaka/netshoot', imagePullPolicy: 'IfNotPresent', maxLogBytes: 1 << 20, maxInlineOutputChars: 2800, checks: {} },
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
        thread: jobThread,
        answers: answersFor(jobThread),
        settings: { image: 'nicolaka/netshoot', imagePullPolicy: 'IfNotPresent', maxLogBytes: 1 << 20, maxInlineOutputChars: 2800, checks: {} },
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
