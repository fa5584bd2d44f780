// `kdebug playground [--port N] [--kubeconfig FILE] [--policy FILE]`: starts the playground, prints its address,
// and stops everything on Ctrl-C.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startPlayground } from './playground.js';

const DEFAULT_PORT = 8800;

export const PLAYGROUND_USAGE = `Usage: kdebug playground [--port ${DEFAULT_PORT}] [--kubeconfig FILE] [--policy FILE]

Try kdebug without Slack and without a cluster: starts a private Redis, a simulated cluster,
kdebug's bot and worker, and a page at http://127.0.0.1:PORT that works like a Slack channel.
Type /kdebug commands there exactly as in Slack.

Options:
  --port N            the page's port (default ${DEFAULT_PORT}; 0 picks a free one)
  --kubeconfig FILE   use the cluster of this kubeconfig instead of the simulated one
                      (KUBECONFIG does the same); kdebug then adds ephemeral containers there
  --policy FILE       the access policy (README, "Access policy"); by default every check is
                      allowed in every namespace
  -h, --help          show this help

Needs redis-server, and the tools the checks run: dig, curl, openssl, ping, tcpdump.
As root, each simulated pod gets a network namespace of its own.
`;

export interface Terminal {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the playground until SIGINT or SIGTERM; returns the exit code. */
export async function runPlayground(argv: string[], cliPath: string, env: NodeJS.ProcessEnv, term: Terminal): Promise<number> {
  let values: { port?: string; kubeconfig?: string; policy?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, kubeconfig: { type: 'string' }, policy: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    term.err(`kdebug playground: ${(err as Error).message}\n\n${PLAYGROUND_USAGE}`);
    return 2;
  }
  if (values.help) {
    term.out(PLAYGROUND_USAGE);
    return 0;
  }
  const port = Number(values.port ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    term.err(`kdebug playground: --port ${values.port} is not a port number (0 to 65535)\n`);
    return 2;
  }
  const kubeconfig = values.kubeconfig ?? (env.KUBECONFIG || undefined);
  // Ctrl-C reaches the bot and worker too (one process group): once it is pressed, their exit is expected.
  let stopping = false;
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = () => {
      stopping = true;
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  let playground;
  try {
    playground = await startPlayground({
      port,
      cliPath,
      ...(kubeconfig ? { kubeconfig } : {}),
      ...(values.policy ? { policy: resolve(values.policy) } : {}),
      say: (line) => term.err(`… ${line}\n`),
    });
  } catch (err) {
    term.err(`kdebug playground: ${(err as Error).message}\n`);
    return 1;
  }
  term.out(`\nkdebug playground: ${playground.url}\nOpen it in a browser and type /kdebug help. Ctrl-C stops everything.\n`);
  const exited = await Promise.race([stopRequested.then(() => ''), playground.exited]);
  if (!stopping) term.err(`kdebug playground: ${exited}\n`);
  await playground.stop();
  return stopping ? 0 : 1;
}
