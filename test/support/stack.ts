// Everything an end-to-end suite needs around kdebug: a real Redis (own key prefix), the Slack
// and Kubernetes emulators, pods in their own network namespaces each with a DNS server on its
// side of the link, and the bot and worker started as real processes against all of it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../../src/playground/dns-server.js';
import { KubeEmulator, type AddPodOptions } from '../../src/playground/kube-emulator.js';
import { netnsAvailable, type PodNetwork } from '../../src/playground/netns.js';
import { startRole, type RoleProcess } from './processes.js';
import { freePort, testRedis, type TestRedis } from './redis.js';
import { SlackEmulator, type StoredMessage } from '../../src/playground/slack-emulator.js';
import { sendSlashCommand, type SignedResponse } from '../../src/playground/slack-signing.js';

export const SIGNING_SECRET = 'e2e-signing-secret-0123456789';

export interface StackOptions {
  /** Channels by id; the bot is a member unless said otherwise. */
  channels: Record<string, { botIsMember?: boolean; members?: string[] }>;
  /**
   * Pods to create (their namespaces too). Each gets a DNS server answering kubernetes.default. A
   * function is called once the emulator runs, to add nodes and workloads the pods refer to first.
   */
  pods: AddPodOptions[] | ((kube: KubeEmulator) => AddPodOptions[]);
  /** Namespaces without pods, e.g. with Pod Security labels. */
  namespaces?: Record<string, Record<string, string>>;
  /** Environment for every kdebug process (on top of what the stack sets). */
  env?: Record<string, string>;
  /** Use this Redis instead of the shared one (a suite that restarts its own). */
  redisUrl?: string;
}

export interface Stack {
  redis?: TestRedis;
  slack: SlackEmulator;
  kube: KubeEmulator;
  /** Each pod's network and DNS server, by "namespace/name". */
  pods: Map<string, { network: PodNetwork; dns: DnsServer }>;
  /** The bot's HTTP port (PORT), for signed slash commands. */
  botPort: number;
  env: Record<string, string>;
  /** Start a role with the stack's environment (plus `extra`); stopped with the stack. */
  start(role: 'bot' | 'worker' | 'all', extra?: Record<string, string>): RoleProcess;
  /** Send a signed slash command to the bot's HTTP endpoint; returns the fields sent and Slack's view of the answer. */
  command(text: string, opts: { channel: string; user: string; triggerId?: string; retryNum?: number }): Promise<{ response: SignedResponse; responseUrl: string }>;
  /** Root messages (not thread replies) in a channel. */
  roots(channel: string): StoredMessage[];
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const missing = await netnsAvailable();
  if (missing) throw new Error(`the end-to-end tests run the tools in per-pod network namespaces, and ${missing}`);
  const redis = options.redisUrl ? undefined : await testRedis();
  const slack = new SlackEmulator({ signingSecret: SIGNING_SECRET });
  await slack.start();
  for (const [id, channel] of Object.entries(options.channels))
    slack.addChannel(id, { botIsMember: channel.botIsMember ?? true, ...(channel.members ? { members: channel.members } : {}) });

  const kube = new KubeEmulator({ netns: true });
  await kube.start();
  for (const [name, labels] of Object.entries(options.namespaces ?? {})) kube.addNamespace(name, labels);
  const pods = new Map<string, { network: PodNetwork; dns: DnsServer }>();
  const podOptions = typeof options.pods === 'function' ? options.pods(kube) : options.pods;
  for (const namespace of new Set(podOptions.map((p) => p.namespace))) if (!options.namespaces?.[namespace] && !kube.hasNamespace(namespace)) kube.addNamespace(namespace);
  for (const pod of podOptions) {
    const { network } = await kube.addPod(pod);
    const dns = new DnsServer({ host: network!.hostIp, port: 53 });
    await dns.start();
    dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
    pods.set(`${pod.namespace}/${pod.name}`, { network: network!, dns });
  }
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kdebug-e2e-')), 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  const botPort = await freePort();
  // Where clicks, submissions and events go while no Socket Mode connection is open.
  slack.setRequestUrl(`http://127.0.0.1:${botPort}/slack/events`);
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: options.redisUrl ?? redis!.url,
    ...(redis ? { KDEBUG_REDIS_KEY_PREFIX: redis.prefix } : {}),
    KUBECONFIG: kubeconfig,
    PORT: String(botPort),
    ...options.env,
  };
  const processes: RoleProcess[] = [];
  return {
    redis,
    slack,
    kube,
    pods,
    botPort,
    env,
    start(role, extra = {}) {
      const started = startRole(role, { ...env, ...extra });
      processes.push(started);
      return started;
    },
    async command(text, { channel, user, triggerId, retryNum }) {
      const fields = slack.slashCommand({ channel_id: channel, user_id: user, user_name: 'alice', command: '/kdebug', text, ...(triggerId ? { trigger_id: triggerId } : {}) });
      const response = await sendSlashCommand(`http://127.0.0.1:${botPort}/slack/events`, SIGNING_SECRET, fields, retryNum === undefined ? {} : { retryNum });
      return { response, responseUrl: fields.response_url };
    },
    roots: (channel) => slack.messages(channel).filter((m) => !m.thread_ts),
    async stop() {
      await Promise.all(processes.map((p) => p.stop()));
      for (const { dns } of pods.values()) await dns.stop();
      await kube.stop();
      await slack.stop();
      await redis?.stop();
    },
  };
}

/** The job id shown under a root message. */
export function jobIdOf(root: StoredMessage): string {
  const id = /job `([0-9a-f]{16})`/.exec(JSON.stringify(root.blocks ?? []))?.[1];
  if (!id) throw new Error(`no job id under root message ${root.ts}`);
  return id;
}
