// `kdebug playground`: the whole product on loopback, without Slack and (by default) without a
// cluster. A private Redis, the Slack emulator with a page that looks like a Slack channel, the
// simulated cluster (or the one a kubeconfig names), and kdebug's real bot and worker as one child
// process (`kdebug all`) that knows none of this: it gets a bot token, a signing secret, a Slack API
// URL and a kubeconfig, exactly as in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeEmulator } from './kube-emulator.js';
import { netnsAvailable } from './netns.js';
import { startPageServer } from './page-server.js';
import { freePort, startRedisServer } from './redis-server.js';
import { startScenario } from './scenario.js';
import { SlackEmulator } from './slack-emulator.js';

export const CHANNEL = { id: 'C0PLAYGRND', name: 'incident-playground' };
export const USER = { id: 'U0PLAYER01', name: 'you' };

/** Everyone may run every check, capture included, in any namespace: the playground's user is its owner. */
const PLAYGROUND_POLICY = `version: 1
contact: "the playground"
defaults:
  rate: { requests: 1000, windowSeconds: 60 }
  allowBudgetOverride: true
rules:
  - name: playground
    everyone: true
    namespaces: ["*"]
    checks: ["*", capture]
`;

export interface PlaygroundOptions {
  /** The page's port; 0 picks a free one. */
  port: number;
  /** A real cluster's kubeconfig instead of the simulated cluster. */
  kubeconfig?: string;
  /** An access policy file instead of the playground's, which allows everything. */
  policy?: string;
  /** The kdebug CLI to start the bot and worker with (`node <cliPath> all`). */
  cliPath: string;
  /** Progress lines for the terminal. */
  say: (line: string) => void;
}

export interface Playground {
  url: string;
  /** Where the bot and worker write their log. */
  logFile: string;
  /** Resolves when the bot and worker process ends by itself (it should not). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-playground-'));
  const stoppers: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const fn of stoppers.splice(0).reverse()) await fn();
  };
  try {
    opts.say('starting Redis (a private redis-server on a free port)');
    const redis = await startRedisServer();
    stoppers.push(() => redis.stop());

    const signingSecret = randomBytes(16).toString('hex');
    const slack = new SlackEmulator({ signingSecret });
    await slack.start();
    stoppers.push(() => slack.stop());
    slack.addChannel(CHANNEL.id, { botIsMember: true, name: CHANNEL.name });

    let kubeconfig = opts.kubeconfig;
    let notes: string[];
    let examples: string[];
    const settings: Record<string, string> = {};
    if (kubeconfig) {
      opts.say(
        `using the cluster of ${kubeconfig} (its current context): kdebug adds ephemeral containers to the pods you name there${opts.policy ? '' : ', and the playground allows every check in every namespace (--policy FILE to change that), so use a cluster of your own'}`,
      );
      notes = [`The real cluster of ${kubeconfig} (its current context): each check adds an ephemeral debug container to the pod you name.`];
      examples = ['help', 'dns deploy/NAME -n NAMESPACE', 'whoami'];
    } else {
      const netns = (await netnsAvailable()) === null;
      opts.say(`starting the simulated cluster (${netns ? 'pods in network namespaces of their own' : 'not root: the tools run on this host'})`);
      const kube = new KubeEmulator({ netns });
      await kube.start();
      stoppers.push(() => kube.stop());
      const scenario = await startScenario(kube, netns);
      stoppers.push(() => scenario.stop());
      ({ notes, examples } = scenario);
      kubeconfig = join(dir, 'kubeconfig');
      kube.writeKubeconfig(kubeconfig);
      // The pod budget keeps real pod specs from filling up with ephemeral containers (they cannot be
      // removed); simulated pods are fair game for as many checks as someone cares to try.
      settings.KDEBUG_LIMITS_POD_BUDGET_MAX_CONTAINERS = '1000';
      settings.KDEBUG_LIMITS_POD_BUDGET_OVERRIDE_MAX_CONTAINERS = '1000';
    }
    let policyPath = opts.policy;
    if (!policyPath) {
      policyPath = join(dir, 'policy.yaml');
      writeFileSync(policyPath, PLAYGROUND_POLICY);
    }

    const botPort = await freePort();
    const botEventsUrl = `http://127.0.0.1:${botPort}/slack/events`;
    // Where Slack sends clicks, modal submissions and Home tab events: the bot's HTTP endpoint.
    slack.setRequestUrl(botEventsUrl);
    const logFile = join(dir, 'kdebug.log');
    opts.say(`starting kdebug's bot and worker (log: ${logFile})`);
    const kdebug = startKdebug(opts.cliPath, logFile, {
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redis.url,
      KUBECONFIG: kubeconfig,
      PORT: String(botPort),
      KDEBUG_HEALTH_PORT: '0',
      KDEBUG_POLICY_PATH: policyPath,
      ...settings,
    });
    stoppers.push(() => kdebug.stop());
    await kdebug.started;

    const page = await startPageServer({ slack, channel: CHANNEL, user: USER, botEventsUrl, signingSecret, notes, examples, port: opts.port });
    stoppers.push(() => page.close());
    return { url: page.url, logFile, exited: kdebug.exited, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Start-up takes a second or two; past this something is wrong (the log says what). */
const START_TIMEOUT_MS = 60_000;

interface KdebugProcess {
  /** Resolves once the bot and worker have both started; rejects if the process ends first. */
  started: Promise<void>;
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** `node <cli> all` with only the environment it needs, its output to `logFile`. */
function startKdebug(cliPath: string, logFile: string, env: Record<string, string>): KdebugProcess {
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'all'], {
    env: { PATH: process.env.PATH ?? '', ...(process.env.HOME ? { HOME: process.env.HOME } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  /** The last of the output: what a start-up failure shows. */
  let tail = '';
  let onOutput = (): void => undefined;
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-4000);
    onOutput();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`kdebug's bot and worker stopped (${signal ?? `exit code ${code}`}):\n${lastLines(tail)}`));
    child.once('error', (err) => resolve(`kdebug's bot and worker could not start: ${err.message}`));
  });
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kdebug's bot and worker did not start within ${START_TIMEOUT_MS / 1000} s:\n${lastLines(tail)}`)), START_TIMEOUT_MS);
    // Each role says it started once; the output is read for that until both have.
    const waitingFor = new Set(['bot started', 'worker started']);
    onOutput = () => {
      for (const msg of waitingFor) if (tail.includes(`"msg":"${msg}"`)) waitingFor.delete(msg);
      if (waitingFor.size > 0) return;
      onOutput = () => undefined;
      clearTimeout(timer);
      resolve();
    };
    void exited.then((why) => {
      clearTimeout(timer);
      reject(new Error(why));
    });
  });
  return {
    started,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise((resolve) => log.end(resolve));
    },
  };
}

function lastLines(text: string, count = 10): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
