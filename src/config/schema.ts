// The one configuration schema, with every default. config/kdebug.yaml lists the same defaults
// with their explanations (a test keeps the two equal); each check's settings come from the
// check's own definition, under `checks.<name>`.
import { z } from 'zod';
import { checks } from '../checks/index.js';

const seconds = (max: number) => z.number().int().min(1).max(max);
const port = z.number().int().min(0).max(65535);

/** Per-user request rate: `requests` within `windowSeconds`. Also the shape the policy file uses. */
export const rateSchema = z
  .object({
    /** Requests one user may make within the window. */
    requests: z.number().int().min(1).max(10_000),
    windowSeconds: z.number().int().min(1).max(86_400),
  })
  .strict();

export type RateLimit = z.infer<typeof rateSchema>;

export const policySettingsSchema = z
  .object({
    /** The policy file; empty for the shipped config/policy.yaml. */
    path: z.string().default(''),
    /** Channel id (C…/G…) to post audit records in; empty for the log only. The bot must be a member. */
    auditChannel: z
      .string()
      .regex(/^(?:|[CG][A-Z0-9]{2,20})$/, 'a Slack channel id like C0123ABCD, or empty')
      .default(''),
    /** How long Slack user group member lists are cached (seconds). */
    groupCacheSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .strict();

export const limitSettingsSchema = z
  .object({
    /** Per-user rate when the policy's rule and defaults set none. */
    rate: rateSchema.default({ requests: 10, windowSeconds: 60 }),
    concurrency: z
      .object({
        /** Jobs running at once across every worker. */
        maxRunning: z.number().int().min(1).max(1000).default(8),
        /** A slot not released within this time is free again (a crashed worker). Make it longer than the longest job. */
        slotTtlSeconds: z.number().int().min(10).max(86_400).default(900),
      })
      .strict()
      .prefault({}),
    podBudget: z
      .object({
        /** kdebug ephemeral containers a pod may collect before further requests are refused. */
        maxContainers: z.number().int().min(1).max(1000).default(10),
        /** The ceiling even with an override (each container stays in the pod spec for the pod's life). */
        overrideMaxContainers: z.number().int().min(1).max(1000).default(25),
        /** A budget reservation not followed by the container showing in the pod spec expires after this. */
        reservationTtlSeconds: z.number().int().min(10).max(86_400).default(900),
      })
      .strict()
      .refine((b) => b.overrideMaxContainers >= b.maxContainers, {
        message: 'overrideMaxContainers must be at least maxContainers',
        path: ['overrideMaxContainers'],
      })
      .prefault({}),
    dedupe: z
      .object({
        /** An identical request within this time reuses the running job. 0 turns dedupe off. */
        windowSeconds: z.number().min(0).max(3600).default(120),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type LimitSettings = z.infer<typeof limitSettingsSchema>;

/** `checks.<name>`: each check's own settings schema, from the registry. */
const checkSettingsSchema = z.object(Object.fromEntries([...checks.values()].flatMap((check) => (check.settings ? [[check.name, check.settings.prefault({})]] : [])))).strict();

export const configSchema = z
  .object({
    slack: z
      .object({
        mode: z.enum(['auto', 'socket', 'http']).default('auto'),
        port: port.default(3000),
        apiUrl: z.url({ protocol: /^https?$/ }).default('https://slack.com/api/'),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
        keyPrefix: z
          .string()
          .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, ":", "_" or "-" only')
          .default('kdebug'),
      })
      .strict()
      .prefault({}),
    queue: z
      .object({
        concurrency: z.number().int().min(1).max(100).default(4),
        keepCompletedSeconds: z.number().int().min(0).default(86400),
        lockSeconds: z.number().int().min(1).max(600).default(30),
        maxStalledCount: z.number().int().min(0).max(100).default(5),
      })
      .strict()
      .prefault({}),
    kubernetes: z
      .object({
        defaultNamespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name')
          .default('default'),
        debugImage: z.string().min(1).default('nicolaka/netshoot'),
        imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
        kubeconfig: z.string().default(''),
        maxLogBytes: z.number().int().min(1024).default(1048576),
        requestTimeoutSeconds: z.number().int().min(1).max(300).default(15),
      })
      .strict()
      .prefault({}),
    jobs: z
      .object({
        defaultTimeoutSeconds: seconds(3600).default(60),
        maxTimeoutSeconds: seconds(3600).default(600),
        /** Deadlines by check, overriding the check's own default deadline. */
        checkTimeoutSeconds: z.partialRecord(z.enum([...checks.keys()] as [string, ...string[]]), seconds(3600)).default({}),
      })
      .strict()
      .prefault({}),
    cluster: z
      .object({
        /** The cluster this worker serves, as `/kdebug clusters` names it. Env: KDEBUG_CLUSTER_NAME. */
        name: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a DNS label, e.g. prod-eu')
          .default('default'),
        /** Workers report to the bot this often (seconds); one missing four beats in a row counts as gone. */
        heartbeatSeconds: z.number().int().min(1).max(300).default(15),
        /** The bot: a channel's default cluster, by channel id (else `name`). */
        channels: z.record(z.string().regex(/^[CGD][A-Z0-9]{2,20}$/, 'a Slack channel id'), z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)).default({}),
      })
      .strict()
      .prefault({}),
    fanout: z
      .object({
        /** `--all` checks at most this many pods of a workload; past it, a sample spread over nodes. */
        maxPods: z.number().int().min(1).max(100).default(10),
        /** …at most this many at the same time. */
        maxParallel: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .prefault({}),
    inventory: z
      .object({
        /** Workers list the cluster's pods this often for the command builder (0: never). */
        refreshSeconds: z.number().int().min(0).max(3600).default(60),
        /** Most pods read per refresh. */
        maxPods: z.number().int().min(1).max(100000).default(5000),
      })
      .strict()
      .prefault({}),
    checks: checkSettingsSchema.prefault({}),
    policy: policySettingsSchema.prefault({}),
    limits: limitSettingsSchema.prefault({}),
    replies: z
      .object({ maxInlineOutputChars: z.number().int().min(100).max(2900).default(2800) })
      .strict()
      .prefault({}),
    shutdown: z
      .object({ graceSeconds: z.number().int().min(1).max(3600).default(45) })
      .strict()
      .prefault({}),
    health: z
      .object({ port: port.default(8080) })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();

export type FileConfig = z.infer<typeof configSchema>;

/** Secrets come only from the environment, never from the file. */
export interface SlackSecrets {
  botToken?: string;
  signingSecret?: string;
  appToken?: string;
}

export interface Config extends FileConfig {
  secrets: SlackSecrets;
  /** Path of the file that was loaded, for messages. */
  source: string;
}
