// The diagnostic job: what the bot puts on the queue and the worker takes off it. It is validated
// on both sides, including the check's own arguments, so a bad job never reaches a cluster.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AnyCheck, CheckRegistry } from '../checks/index.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, labelSelectorProblem } from '../core/kube-names.js';
import { TARGET_KINDS } from '../core/target.js';

export const QUEUE_NAME = 'diagnostics';
/** The cluster of a one-cluster installation, and of jobs that name none. */
export const DEFAULT_CLUSTER = 'default';

/** Each cluster's workers take jobs from a queue of its own; "default" keeps the original name. */
export function queueNameFor(cluster: string): string {
  return cluster === DEFAULT_CLUSTER ? QUEUE_NAME : `${QUEUE_NAME}-${cluster}`;
}

const text = (max: number) => z.string().max(max);

export const diagnosticJobSchema = z
  .object({
    v: z.literal(1),
    /** 16 hex digits; names the BullMQ job and the debug container. */
    id: z.string().regex(/^[0-9a-f]{16}$/),
    check: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/),
    target: z
      .object({ kind: z.enum(TARGET_KINDS), name: z.string().max(1024) })
      .strict()
      .refine((t) => (t.kind === 'selector' ? labelSelectorProblem(t.name) === undefined : t.name.length <= 253 && DNS1123_SUBDOMAIN.test(t.name)), {
        message: 'a Kubernetes name, or for a selector a label selector',
        path: ['name'],
      }),
    namespace: z.string().regex(DNS1123_LABEL).max(63),
    /** The cluster whose workers run it (`--cluster`, the channel's default); absent: "default". */
    cluster: z.string().regex(DNS1123_LABEL).max(63).optional(),
    container: z.string().regex(DNS1123_LABEL).max(63).optional(),
    timeoutSeconds: z.number().int().min(1).max(3600),
    positional: z.array(text(2048)).max(32),
    options: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/), text(2048)),
    commandText: text(4000),
    requestedBy: z.object({ teamId: text(32), userId: text(32), userName: text(128).optional() }).strict(),
    /** The policy rule that allowed the request, and whether it lets the user exceed a pod's budget. */
    policy: z
      .object({ rule: text(128), allowBudgetOverride: z.boolean() })
      .strict()
      .optional(),
    /** The user asked for --override-budget. */
    overrideBudget: z.boolean().optional(),
    /** `--all`: every pod of the workload or selector, compared in one answer. */
    all: z.boolean().optional(),
    reply: z.object({ channel: text(32), rootTs: text(32) }).strict(),
    /** When the job was queued (after its root message was posted); its deadline counts from here. */
    enqueuedAt: z.number().int(),
  })
  .strict()
  .refine((job) => job.all === true || job.target.kind !== 'selector', { message: 'a label selector needs all: true', path: ['all'] });

export type DiagnosticJob = z.infer<typeof diagnosticJobSchema>;

export type JobValidation = { ok: true; job: DiagnosticJob; check: AnyCheck; args: unknown } | { ok: false; reason: string };

export function validateJob(data: unknown, checks: CheckRegistry): JobValidation {
  const parsed = diagnosticJobSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `job field ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  const check = checks.get(parsed.data.check);
  if (!check) return { ok: false, reason: `unknown check ${parsed.data.check}` };
  const args = check.parseArgs(parsed.data.positional, parsed.data.options);
  if (!args.ok) return { ok: false, reason: args.message };
  return { ok: true, job: parsed.data, check, args: args.args };
}

/**
 * A stable id for one Slack command, so Slack's retries of it map to the same job: 16 hex digits,
 * never all decimal digits, because BullMQ refuses a custom job id that reads as an integer (about
 * 1 command in 2,000 would otherwise fail to enqueue).
 */
export function jobIdFor(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const id = hex.slice(0, 16);
  if (!/^\d+$/.test(id)) return id;
  // Still derived from the same hash, so still stable: one letter a-f in the first place.
  return `${'abcdef'[Number.parseInt(hex.slice(16, 18), 16) % 6]}${id.slice(1)}`;
}
