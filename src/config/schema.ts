// The one configuration schema. Defaults live in config/kdebug.yaml; this schema says what is valid.
import { z } from 'zod';
import { limitSettingsSchema } from '../policy/limits.js';
import { policySettingsSchema } from '../policy/schema.js';

const seconds = (max: number) => z.number().int().min(1).max(max);

export const configSchema = z
  .object({
    slack: z
      .object({
        mode: z.enum(['auto', 'socket', 'http']),
        port: z.number().int().min(0).max(65535),
        apiUrl: z.url({ protocol: /^https?$/ }),
      })
      .strict(),
    redis: z
      .object({
        url: z.url({ protocol: /^rediss?$/ }),
        keyPrefix: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, ":", "_" or "-" only'),
      })
      .strict(),
    queue: z
      .object({
        concurrency: z.number().int().min(1).max(100),
        keepCompletedSeconds: z.number().int().min(0),
        lockSeconds: z.number().int().min(1).max(600),
        maxStalledCount: z.number().int().min(0).max(100),
      })
      .strict(),
    kubernetes: z
      .object({
        defaultNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name'),
        debugImage: z.string().min(1),
        imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
        kubeconfig: z.string(),
        maxLogBytes: z.number().int().min(1024),
        requestTimeoutSeconds: z.number().int().min(1).max(300),
      })
      .strict(),
    jobs: z
      .object({
        defaultTimeoutSeconds: seconds(3600),
        maxTimeoutSeconds: seconds(3600),
        checkTimeoutSeconds: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,19}$/), seconds(3600)),
      })
      .strict(),
    checks: z
      .object({
        tlsExpiringSoonDays: z.number().int().min(0).max(365),
        httpMaxSeconds: seconds(600),
        pingCount: z.number().int().min(1).max(100),
        traceMaxHops: z.number().int().min(1).max(64),
        captureDefaultSeconds: seconds(3600),
        captureMaxSeconds: seconds(3600),
        captureMaxPackets: z.number().int().min(1),
        captureMaxBytes: z.number().int().min(1024),
      })
      .strict(),
    policy: policySettingsSchema,
    limits: limitSettingsSchema,
    replies: z.object({ maxInlineOutputChars: z.number().int().min(100).max(2900) }).strict(),
    shutdown: z.object({ graceSeconds: z.number().int().min(1).max(3600) }).strict(),
    health: z.object({ port: z.number().int().min(0).max(65535) }).strict(),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']) }).strict(),
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
