#!/usr/bin/env node
// kdebug: one program, three roles. `kdebug bot` (the Slack app), `kdebug worker` (runs jobs),
// `kdebug all` (both in one process). Each role's modules are imported only when the role starts,
// so the bot never loads @kubernetes/client-node and the worker never loads Bolt (bench/idle-memory.mjs).
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { checks } from './checks/index.js';
import { ConfigError, loadConfig, requireSecretsFor, slackTransport, type Role } from './config/load.js';
import type { Config } from './config/schema.js';
import { startHealthServer, type HealthServer, type ReadinessCheck } from './observability/health.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { AuditLog } from './policy/audit.js';
import { InFlightDedupe } from './policy/dedupe.js';
import { PodBudget } from './policy/pod-budget.js';
import { RateLimiter } from './policy/rate-limit.js';
import { PolicyError } from './policy/rules.js';
import { RunningSlots } from './policy/running-slots.js';
import { PolicyStore, resolvePolicyPath } from './policy/store.js';
import { GroupMembership, slackGroupLister } from './policy/user-groups.js';
import { createAnswers, type Answers } from './delivery/answer-sink.js';
import { startDeliveryWorker } from './delivery/delivery-queue.js';
import { startProgressRelay } from './delivery/progress-relay.js';
import { Cancellations } from './queue/cancel.js';
import { DiagnosticQueue } from './queue/diagnostic-queue.js';
import { DEFAULT_CLUSTER } from './queue/job.js';
import { RequestHistory } from './queue/history.js';
import { InventoryStore } from './queue/inventory-store.js';
import { ClusterRegistry } from './queue/clusters.js';
import { connectRedis, createRedis, RedisUnavailableError } from './queue/redis.js';
import type { BotApp } from './bot/app.js';
import { paced, SlackPacer } from './slack/pacer.js';
import { createWebClient, JobThread } from './slack/web.js';
import type { RunningWorker } from './worker/worker.js';

const USAGE = `kdebug: network diagnostics in Kubernetes pods, from Slack

Usage: kdebug <role>
       kdebug run <check> <target> [args…] [-n NAMESPACE] [--json]
       kdebug run <check> --local [args…] [--json]
       kdebug playground [--port 8800] [--kubeconfig FILE]

Roles:
  bot          the Slack app: takes /kdebug commands and queues diagnostic jobs
  worker       runs queued jobs in ephemeral debug containers and replies in Slack
  all          bot and worker in one process (the default for a single machine)

Commands:
  run          run one check from the terminal, in a pod or on this machine (kdebug run --help)
  playground   try kdebug without Slack or a cluster: a page like a Slack channel, a simulated
               cluster, the real bot and worker, all on this machine (kdebug playground --help)

Options:
  -h, --help     show this help

Configuration: config/kdebug.yaml (or the file named by KDEBUG_CONFIG), overridden by
environment variables; Slack secrets only from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode)
and SLACK_APP_TOKEN (Socket Mode). See README.md.
`;

const ROLES: readonly Role[] = ['bot', 'worker', 'all'];

interface Running {
  bot?: BotApp;
  worker?: RunningWorker;
  policy?: PolicyStore;
  answers?: Answers;
  /** The bot's delivery worker, when it runs one. */
  deliveries?: { close(): Promise<void> };
  /** The bot's relay of progress from workers without Slack credentials. */
  progressRelay?: { close(): Promise<void> };
  /** Every cluster's queue this process opened, to close them. */
  queues: Map<string, DiagnosticQueue>;
  redis: Redis;
  health: HealthServer;
}

async function start(role: Role, config: Config, logger: Logger): Promise<Running> {
  const runsWorker = role === 'worker' || role === 'all';
  const runsBot = role === 'bot' || role === 'all';
  const workerModules = runsWorker ? await Promise.all([import('./kube/client.js'), import('./worker/worker.js')]) : undefined;
  const botModule = runsBot ? await import('./bot/app.js') : undefined;
  const redis = await connectRedis(config.redis.url);
  const metrics = new Metrics();
  // This process's cluster's queue (a worker takes its jobs from it); the bot reaches every cluster's.
  const queue = new DiagnosticQueue(redis, config.redis.keyPrefix, config.queue.keepCompletedSeconds, config.cluster.name);
  const queues = new Map<string, DiagnosticQueue>([[config.cluster.name, queue]]);
  const queueFor = (cluster: string): DiagnosticQueue => {
    let found = queues.get(cluster);
    if (!found) queues.set(cluster, (found = new DiagnosticQueue(redis, config.redis.keyPrefix, config.queue.keepCompletedSeconds, cluster)));
    return found;
  };
  metrics.onScrape(async () => {
    for (const [state, count] of Object.entries(await queue.counts())) metrics.queueDepth.set({ state }, count);
  });
  const readiness: Record<string, ReadinessCheck> = {
    redis: () => (redis.status === 'ready' ? undefined : `connection is ${redis.status}`),
  };
  let worker: RunningWorker | undefined;
  let bot: BotApp | undefined;
  let policy: PolicyStore | undefined;
  let answers: Answers | undefined;
  let deliveries: { close(): Promise<void> } | undefined;
  let progressRelay: { close(): Promise<void> } | undefined;
  // A worker without Slack credentials (say, in another cluster) has no client: the bot delivers its answers.
  const slack = config.secrets.botToken ? createWebClient(config) : undefined;
  // Every Slack call of every process waits for its turn in one budget per method and channel.
  const pacer = new SlackPacer(redis, config.redis.keyPrefix);
  const limits = {
    rate: new RateLimiter(redis, config.redis.keyPrefix, config.limits.rate),
    // The running cap is per cluster: each cluster has its own pods and workers.
    slots: new RunningSlots(
      redis,
      config.cluster.name === DEFAULT_CLUSTER ? config.redis.keyPrefix : `${config.redis.keyPrefix}:${config.cluster.name}`,
      config.limits.concurrency,
    ),
    podBudget: new PodBudget(redis, config.redis.keyPrefix, config.limits.podBudget),
    dedupe: new InFlightDedupe(redis, config.redis.keyPrefix, config.limits.dedupe),
  };
  // An audit line waits for its turn in the audit channel's budget without holding up what it audits
  // (a job's slot, a refusal's reply): the JSON log line, the record of record, is written at once.
  const auditClient = {
    chat: {
      postMessage: (args: { channel: string; text: string; unfurl_links?: boolean; unfurl_media?: boolean }) => {
        paced(pacer, 'chat.postMessage', args.channel, () => slack!.chat.postMessage(args)).catch((err: unknown) => {
          const code = (err as { data?: { error?: string } })?.data?.error ?? (err as Error)?.message ?? String(err);
          logger.warn({ auditChannel: args.channel, err: code }, 'could not post the audit record in the audit channel');
        });
        return Promise.resolve();
      },
    },
  };
  // Without a Slack client, audit records go to the log only.
  const audit = new AuditLog({ logger, ...(config.policy.auditChannel && slack ? { slack: { client: auditClient, channel: config.policy.auditChannel } } : {}) });
  if (workerModules) {
    const [{ createKubeClients }, { startWorker }] = workerModules;
    const kube = createKubeClients(config, (err, attempt) => {
      metrics.kubernetesErrors.inc({ kind: 'retried' });
      logger.warn({ err: (err as Error).message, attempt }, 'Kubernetes API call failed; retrying');
    });
    worker = startWorker({ config, checks, kube, redis, ...(slack ? { slack } : {}), pacer, logger, metrics, limits, audit, queue });
    readiness.queue = () => worker!.problem();
    logger.info({ kubernetes: kube.server, concurrency: config.queue.concurrency }, 'worker started');
  }
  if (botModule) {
    const { createBotApp } = botModule;
    // requireSecretsFor makes sure the bot has its token.
    const botSlack = slack!;
    policy = new PolicyStore({ path: resolvePolicyPath(config.policy.path), logger, knownChecks: checks.keys() });
    const groupClient = {
      usergroups: {
        users: { list: (args: { usergroup: string; team_id?: string }) => paced(pacer, 'usergroups.users.list', undefined, () => botSlack.usergroups.users.list(args)) },
      },
    };
    const groups = new GroupMembership({ list: slackGroupLister(groupClient), ttlSeconds: config.policy.groupCacheSeconds, logger });
    answers = createAnswers(redis, config.redis.keyPrefix, config.queue.keepCompletedSeconds);
    // The bot delivers answers too: those of workers without Slack credentials (another cluster's)
    // wait for it. In one process with a worker, the worker's deliveries already run.
    if (!worker)
      deliveries = startDeliveryWorker({ redisUrl: config.redis.url, redis, prefix: config.redis.keyPrefix, outbox: answers.outbox, slack: botSlack, logger, metrics, pacer });
    // ...and their jobs' progress.
    progressRelay = await startProgressRelay({
      subscriber: createRedis(config.redis.url),
      redis,
      prefix: config.redis.keyPrefix,
      threadOf: (channel, rootTs) => new JobThread(botSlack, channel, rootTs, metrics, pacer),
      logger,
    });
    const cancellations = new Cancellations(redis, config.redis.keyPrefix);
    const history = new RequestHistory(redis, config.redis.keyPrefix);
    const inventory = new InventoryStore(redis, config.redis.keyPrefix, config.inventory.refreshSeconds);
    const clusters = new ClusterRegistry(redis, config.redis.keyPrefix, config.cluster.heartbeatSeconds);
    bot = createBotApp({
      config,
      checks,
      queue,
      queueFor,
      logger,
      metrics,
      access: { policy, groups, limits, audit },
      cancellations,
      answers: answers.sink,
      pacer,
      history,
      inventory,
      clusters,
    });
    readiness.slack = () => bot!.slackProblem();
    await bot.start();
    const transport = slackTransport(config);
    logger.info(transport === 'socket' ? { transport } : { transport, port: config.slack.port, path: '/slack/events' }, 'bot started');
  }
  const health = await startHealthServer(config.health.port, readiness, metrics);
  logger.info({ port: health.port }, 'health endpoints on /healthz, /readyz, /metrics');
  return { bot, worker, policy, answers, deliveries, progressRelay, queues, redis, health };
}

/**
 * SIGTERM: report not-ready, stop taking commands and jobs, finish what runs (jobs get the
 * configured grace period, then go back to the queue for another worker), then exit.
 */
async function stop(running: Running, config: Config, logger: Logger): Promise<void> {
  logger.info({ graceSeconds: config.shutdown.graceSeconds }, 'shutting down');
  running.health.markStopping();
  await running.bot?.stop().catch((err: Error) => logger.warn({ err: err.message }, 'bot stop failed'));
  await running.worker?.stop(config.shutdown.graceSeconds * 1000).catch((err: Error) => logger.warn({ err: err.message }, 'worker stop failed'));
  running.policy?.close();
  await running.progressRelay?.close().catch(() => undefined);
  await running.deliveries?.close().catch(() => undefined);
  await running.answers?.close().catch(() => undefined);
  await Promise.all([...running.queues.values()].map((q) => q.close().catch(() => undefined)));
  await running.health.close();
  running.redis.disconnect();
  logger.info('stopped');
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(USAGE);
    return first === undefined ? 2 : 0;
  }
  if (first === 'run') {
    const showProgress = process.stderr.isTTY === true;
    const { runCommand } = await import('./cli/run.js');
    try {
      return await runCommand(rest, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        progress: (text) => {
          if (showProgress) process.stderr.write(`… ${text}\n`);
        },
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`kdebug: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  if (first === 'playground') {
    const { runPlayground } = await import('./playground/command.js');
    return runPlayground(rest, fileURLToPath(import.meta.url), process.env, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
  }
  if (!ROLES.includes(first as Role) || rest.length > 0) {
    process.stderr.write(`kdebug: unknown role "${argv.join(' ')}"; expected one of: ${ROLES.join(', ')} (see kdebug --help)\n`);
    return 2;
  }
  const role = first as Role;
  let config: Config;
  try {
    config = loadConfig();
    requireSecretsFor(role, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kdebug: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  // Listen before starting: a SIGTERM during start-up still stops the process once it is up.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  let running: Running;
  try {
    // Start-up may wait (the bot retries a Slack API it cannot reach yet); a SIGTERM meanwhile ends it.
    const started = await Promise.race([start(role, config, logger), stopRequested.then(() => undefined)]);
    if (!started) {
      logger.info('stopped before start-up finished');
      return 0;
    }
    running = started;
  } catch (err) {
    if (err instanceof RedisUnavailableError || err instanceof ConfigError || err instanceof PolicyError) {
      process.stderr.write(`kdebug: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  await stopRequested;
  await stop(running, config, logger);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kdebug: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
