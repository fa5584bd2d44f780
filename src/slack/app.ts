// The bot role: a Bolt app in Socket Mode (no ingress needed) when an app token is configured,
// or with Bolt's HTTP receiver on PORT at /slack/events otherwise.
import { App, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Config } from '../config/schema.js';
import { slackTransport } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { handleSlashCommand, type CommandDeps } from './commands.js';

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

export function createBotApp(deps: CommandDeps): App {
  const { config } = deps;
  const transport = slackTransport(config);
  const common = {
    token: config.secrets.botToken,
    logger: boltLogger(deps.logger),
    clientOptions: { slackApiUrl: config.slack.apiUrl },
  };
  const app =
    transport === 'socket'
      ? new App({ ...common, socketMode: true, appToken: config.secrets.appToken })
      : new App({
          ...common,
          signingSecret: config.secrets.signingSecret,
          port: config.slack.port,
          customRoutes: [
            {
              path: '/healthz',
              method: ['GET'],
              handler: (_req, res) => {
                res.writeHead(200, { 'content-type': 'text/plain' });
                res.end('ok\n');
              },
            },
          ],
        });

  app.command('/kdebug', async ({ command, ack, respond, client, context }) => {
    await handleSlashCommand(command, { ack: (r) => ack(r), respond, client, botUserId: context.botUserId }, deps);
  });
  app.error(async (err) => {
    deps.logger.error({ err: err.message }, 'unhandled error in a Slack listener');
  });
  return app;
}
