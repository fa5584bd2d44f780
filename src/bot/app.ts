// The bot role: a Bolt app in Socket Mode (no ingress needed) when an app token is configured,
// or with Bolt's HTTP receiver on PORT at /slack/events otherwise.
import { setTimeout as sleep } from 'node:timers/promises';
import { App, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import { ConfigError, slackTransport } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { cancelJob, handleSlashCommand, slackError, type CommandDeps, type CommandFields, type CommandIo } from './slash-command.js';
import { RUN_ACTION } from '../slack/next-steps.js';
import { openBuilder, registerBuilder } from './builder.js';
import { generalHelp } from '../grammar/help.js';
import { escapeMrkdwn } from '../core/text.js';
import { CANCEL_ACTION, verdictEmoji } from '../slack/render.js';
import { homeView } from '../slack/home.js';
import { paced } from '../slack/pacer.js';
import { WEB_CLIENT_OPTIONS } from '../slack/web.js';

/**
 * How long the bot's HTTP server keeps an idle connection open: longer than the idle timeout of the
 * proxies in front of it (60 s for AWS load balancers and ingress-nginx's upstream pool), so that the
 * proxy, not the bot, closes it. With Node's default of 5 s a burst of commands after a quiet spell
 * comes over new connections, and Node accepts one connection per event-loop turn, which lasts
 * 20-130 ms in a busy bot: the acks' long tail in bench/incident-load.mjs --connections new.
 */
const KEEP_ALIVE_MS = 65_000;

/** Slack's answers to auth.test that no retry will change: the token itself is wrong. */
const BAD_TOKEN = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);
const MAX_INIT_DELAY_MS = 30_000;

/** Bolt logs through pino, so every line is structured JSON with secrets redacted. */
function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...msg) => child.debug(msg.map(String).join(' ')),
    info: (...msg) => child.info(msg.map(String).join(' ')),
    warn: (...msg) => child.warn(msg.map(String).join(' ')),
    error: (...msg) => child.error(msg.map(String).join(' ')),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface BotApp {
  app: App;
  /** Undefined when connected to Slack, else why not (for /readyz). */
  slackProblem(): string | undefined;
  start(): Promise<void>;
  /** Stop taking commands, then wait for the ones already being handled. */
  stop(): Promise<void>;
}

export function createBotApp(deps: CommandDeps): BotApp {
  const { config } = deps;
  const logger = boltLogger(deps.logger);
  const clientOptions = { slackApiUrl: config.slack.apiUrl, ...WEB_CLIENT_OPTIONS };
  let connected = false;
  let app: App;
  if (slackTransport(config) === 'socket') {
    // Our own receiver, so readiness can follow the WebSocket's state.
    const receiver = new SocketModeReceiver({ appToken: config.secrets.appToken!, logger, installerOptions: { clientOptions } });
    receiver.client.on('connected', () => (connected = true));
    receiver.client.on('disconnected', () => (connected = false));
    receiver.client.on('reconnecting', () => (connected = false));
    app = new App({ token: config.secrets.botToken, receiver, logger, clientOptions, deferInitialization: true });
  } else {
    app = new App({ token: config.secrets.botToken, signingSecret: config.secrets.signingSecret, port: config.slack.port, logger, clientOptions, deferInitialization: true });
  }
  let stopping = false;
  let started = false;
  let initProblem: string | undefined;

  /**
   * Bolt's auth.test, awaited here: without deferInitialization Bolt starts it in its constructor and
   * nobody awaits it, so a Slack API that cannot be reached at start-up (the clients have no hidden
   * retries) crashed the process with an unhandled rejection. Unreachable: retry with backoff, not
   * ready meanwhile. A token Slack refuses: stop with one line that says which.
   */
  async function initialize(): Promise<void> {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await app.init();
        initProblem = undefined;
        return;
      } catch (err) {
        const code = slackError(err);
        if (code && BAD_TOKEN.has(code))
          throw new ConfigError(`Slack refused SLACK_BOT_TOKEN (${code}); copy the Bot User OAuth Token (xoxb-…) from your Slack app's "OAuth & Permissions" page`);
        initProblem = `cannot reach the Slack API at ${config.slack.apiUrl} (${code ?? (err as Error).message})`;
        deps.logger.warn({ err: code ?? (err as Error).message, attempt }, 'cannot reach the Slack API yet; retrying');
        await sleep(Math.min(MAX_INIT_DELAY_MS, 500 * 2 ** attempt));
      }
    }
  }

  const inFlight = new Set<Promise<void>>();
  /** A command (typed, clicked or built), tracked so that stop() waits for it. */
  const run = async (command: CommandFields, io: CommandIo): Promise<void> => {
    const handling = handleSlashCommand(command, io, deps);
    inFlight.add(handling);
    try {
      await handling;
    } finally {
      inFlight.delete(handling);
    }
  };
  app.command('/kdebug', async ({ command, ack, respond, client, context }) => {
    if ((command.text ?? '').trim() === '') {
      // No arguments: the command builder. Should the modal not open, the help says what to type.
      await ack();
      await openBuilder(client, command.trigger_id, command.channel_id, deps).catch(async (err: unknown) => {
        deps.logger.warn({ err: slackError(err) ?? (err as Error).message }, 'could not open the command builder');
        await respond({ response_type: 'ephemeral', text: escapeMrkdwn(generalHelp(deps.checks, { maxTimeoutSeconds: config.jobs.maxTimeoutSeconds })) });
      });
      return;
    }
    await run(command, { ack: (r) => ack(r), respond, client, botUserId: context.botUserId });
  });
  registerBuilder(app, deps, run);
  // Re-run and next-step buttons under an answer: the value is a command, handled exactly as if the
  // person who clicked had typed it (grammar, policy, limits, dedupe, audit); refusals go to them only.
  app.action(RUN_ACTION, async ({ ack, body, action, respond, client, context }) => {
    await ack();
    if (body.type !== 'block_actions') return;
    const text = 'value' in action && typeof action.value === 'string' ? action.value : '';
    const command: CommandFields = {
      team_id: body.team?.id ?? body.user.team_id ?? '',
      user_id: body.user.id,
      user_name: body.user.username ?? body.user.name ?? '',
      channel_id: body.channel?.id ?? '',
      text,
      trigger_id: body.trigger_id,
      command: '/kdebug',
    };
    const ephemeral = (message: { text: string }) => respond({ response_type: 'ephemeral', replace_original: false, text: message.text });
    const io: CommandIo = {
      // A click has nothing to acknowledge with text: what a slash command would show in its ack goes to the clicker.
      ack: async (reply) => {
        if (reply) await ephemeral(reply);
      },
      respond: ephemeral,
      client,
      botUserId: context.botUserId,
    };
    await run(command, io);
  });
  // The App Home: the user's last requests and what they may run where.
  let workspaceUrl: string | undefined;
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home' || !deps.history) return;
    try {
      workspaceUrl ??= (await client.auth.test()).url ?? 'https://slack.com/';
      const teamId = (event as { view?: { team_id?: string } }).view?.team_id ?? (await client.auth.test()).team_id ?? '';
      const [requests, groups] = await Promise.all([
        deps.history.recent(teamId, event.user, (cluster) => deps.queueFor?.(cluster) ?? deps.queue),
        deps.access.groups.groupsOf(event.user, deps.access.policy.groupIds()),
      ]);
      const whoami = deps.access.policy.whoami(event.user, undefined, groups, { checkNames: [...deps.checks.keys()] });
      const view = homeView({ requests, whoami, workspaceUrl, verdictEmoji, now: Date.now() });
      await paced(deps.pacer, 'views.publish', event.user, () => client.views.publish({ user_id: event.user, view }));
    } catch (err) {
      deps.logger.warn({ err: slackError(err) ?? (err as Error).message, user: event.user }, 'could not publish the Home tab');
    }
  });
  // The Cancel button on a root message.
  app.action(CANCEL_ACTION, async ({ ack, body, action, respond }) => {
    await ack();
    const jobId = 'value' in action && typeof action.value === 'string' ? action.value : '';
    const channelId = 'channel' in body && body.channel ? body.channel.id : '';
    const reply = /^[0-9a-f]{16}$/.test(jobId) ? await cancelJob(jobId, body.user.id, channelId, deps) : 'That Cancel button carries no job id.';
    await respond({ response_type: 'ephemeral', replace_original: false, text: reply });
  });
  app.error(async (err) => {
    deps.logger.error({ err: err.message }, 'unhandled error in a Slack listener');
  });
  return {
    app,
    slackProblem: () => initProblem ?? (connected ? undefined : slackTransport(config) === 'socket' ? 'Socket Mode connection to Slack is down' : 'not listening yet'),
    async start() {
      await initialize();
      if (stopping) return;
      if (slackTransport(config) === 'socket') await app.start();
      else {
        await app.start(config.slack.port, { keepAliveTimeout: KEEP_ALIVE_MS });
        connected = true;
      }
      started = true;
    },
    async stop() {
      stopping = true;
      if (!started) return;
      await app.stop();
      connected = false;
      await Promise.allSettled([...inFlight]);
    },
  };
}
