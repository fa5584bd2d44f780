#!/usr/bin/env node
// kdebug: one program, three roles. `kdebug bot` (the Slack app), `kdebug worker` (runs jobs),
// `kdebug all` (both in one process).
import type { App } from '@slack/bolt';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { checks } from './checks/index.js';
import { ConfigError, loadConfig, requireSecretsFor, slackTransport, type Role } from './config/load.js';
import type { Config } from './config/schema.js';
import { createKubeClients } from './kube/client.js';
import { createLogger, type Logger } from './observability/logger.js';
import { DiagnosticQueue } from './queue/queue.js';
import { connectRedis, RedisUnavailableError } from './queue/redis.js';
import { createBotApp } from './slack/app.js';
import { createWebClient } from './slack/web.js';
import { startWorker } from './worker/worker.js';

const USAGE = `kdebug: network diagnostics in Kubernetes pods, from Slack

Usage: kdebug <role>

Roles:
  bot      the Slack app: takes /kdebug commands and queues diagnostic jobs
  worker   runs queued jobs in ephemeral debug containers and replies in Slack
  all      bot and worker in one process (the default for a single machine)

Options:
  -h, --help     show this help

Configuration: config/kdebug.yaml (or the file named by KDEBUG_CONFIG), overridden by
environment variables; Slack secrets only from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode)
and SLACK_APP_TOKEN (Socket Mode). See README.md.
`;

const ROLES: readonly Role[] = ['bot', 'worker', 'all'];

interface Running {
  app?: App;
  worker?: Worker;
  queue?: DiagnosticQueue;
  redis: Redis;
}

async function start(role: Role, config: Config, logger: Logger): Promise<Running> {
  const redis = await connectRedis(config.redis.url);
  const running: Running = { redis };
  if (role === 'worker' || role === 'all') {
    const kube = createKubeClients(config);
    running.worker = startWorker({ config, checks, kube, slack: createWebClient(config), logger });
    logger.info({ kubernetes: kube.server, concurrency: config.queue.concurrency }, 'worker started');
  }
  if (role === 'bot' || role === 'all') {
    running.queue = new DiagnosticQueue(redis, config.redis.keyPrefix, config.queue.keepCompletedSeconds);
    running.app = createBotApp({ config, checks, queue: running.queue, logger });
    const transport = slackTransport(config);
    if (transport === 'socket') await running.app.start();
    else await running.app.start(config.slack.port);
    logger.info(transport === 'socket' ? { transport } : { transport, port: config.slack.port, path: '/slack/events' }, 'bot started');
  }
  return running;
}

async function stop(running: Running, logger: Logger): Promise<void> {
  logger.info('shutting down');
  await running.app?.stop().catch(() => undefined);
  await running.worker?.close().catch(() => undefined);
  await running.queue?.close().catch(() => undefined);
  running.redis.disconnect();
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(USAGE);
    return first === undefined ? 2 : 0;
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
  let running: Running;
  try {
    running = await start(role, config, logger);
  } catch (err) {
    if (err instanceof RedisUnavailableError || err instanceof ConfigError) {
      process.stderr.write(`kdebug: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await stop(running, logger);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kdebug: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
