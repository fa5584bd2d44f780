// The access policy file (config/policy.yaml): who may run which checks in which namespaces.
// This schema says what is valid; src/policy/rules.ts says what it means (the evaluation order).
import { z } from 'zod';
import { rateSchema } from '../config/schema.js';

/** Always system namespaces, whatever the file says: a rule must name them exactly to reach them. */
export const BUILTIN_SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

/** The word in `onlyIn` that stands for direct messages with the bot. */
export const DIRECT_MESSAGES = 'dm';

// Slack ids, not names: names can be changed by their owners, ids cannot.
const userId = z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'must be a Slack user id like U0123ABCD (a name or @handle is not accepted)');
const groupId = z.string().regex(/^S[A-Z0-9]{2,20}$/, 'must be a Slack user group id like S0123ABCD (a @handle is not accepted)');
function channelProblem(value: string): string | undefined {
  if (/^D/.test(value)) return "direct-message ids (D…) cannot be listed: direct messages follow the user's own rules (use onlyIn: [dm] to allow a rule there)";
  if (!/^[CG][A-Z0-9]{2,20}$/.test(value)) return 'must be a Slack channel id like C0123ABCD (a #name is not accepted)';
  return undefined;
}
const channelId = z.string().superRefine((v, ctx) => {
  const problem = channelProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const placeId = z.string().superRefine((v, ctx) => {
  const problem = v === DIRECT_MESSAGES ? undefined : channelProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: `${problem}, or the word "${DIRECT_MESSAGES}"` });
});

/** An exact namespace name or a glob: `*` any run of characters, `?` one character. */
export const namespacePattern = z
  .string()
  .max(63, 'a namespace pattern is at most 63 characters')
  .regex(/^[a-z0-9*?-]+$/, "must be a namespace name or a glob like team-* (lower-case letters, digits, '-', '*', '?')");

/** A check name, or `*` for every check except the sensitive ones. */
const checkPattern = z.string().regex(/^(?:\*|[a-z][a-z0-9-]{0,19})$/, 'must be a check name like dns, or *');

const ruleLimitsSchema = z
  .object({
    rate: rateSchema.optional(),
    /** May this rule's users ask to go past the per-pod ephemeral container budget? */
    allowBudgetOverride: z.boolean().optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    /** Shown in refusals, audit records and whoami. Defaults to "rule N" (1-based, file order). */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$/, 'must be 1-64 letters, digits, spaces, ".", "_", ":" or "-"')
      .optional(),
    effect: z.enum(['allow', 'deny']).default('allow'),
    // Who: the rule matches a request when ANY of these matches.
    users: z.array(userId).default([]),
    groups: z.array(groupId).default([]),
    /** Everybody running the command in one of these channels (never applies in direct messages). */
    channels: z.array(channelId).default([]),
    everyone: z.boolean().default(false),
    /** Where: when present, the rule applies only to commands run in these channels (`dm`: direct messages). */
    onlyIn: z.array(placeId).min(1).optional(),
    // What: the rule covers a request when both its namespace and its check are listed.
    namespaces: z.array(namespacePattern).min(1, 'list at least one namespace (or "*")'),
    /** Which clusters (names or globs like prod-*); absent: every cluster. */
    clusters: z.array(namespacePattern).min(1, 'list at least one cluster (or leave clusters out for every cluster)').optional(),
    checks: z.array(checkPattern).min(1, 'list at least one check (or "*")'),
    limits: ruleLimitsSchema.optional(),
    /** Deny rules: the sentence shown to the user after the rule's name. */
    reason: z.string().min(1).max(300).optional(),
    /** Whom to ask about this rule; defaults to the policy's contact. */
    contact: z.string().min(1).max(100).optional(),
  })
  .strict()
  .refine((r) => r.everyone || r.users.length + r.groups.length + r.channels.length > 0, {
    message: 'a rule needs at least one of users, groups, channels or everyone: true',
  })
  .refine((r) => r.effect === 'allow' || r.limits === undefined, { message: 'limits only apply to allow rules', path: ['limits'] });

export const policySchema = z
  .object({
    version: z.literal(1, 'must be 1'),
    /** Whom to ask for access, shown in every refusal, e.g. "#platform-team" or "@oncall-platform". */
    contact: z.string().min(1).max(100),
    /** More system namespaces (names or globs), added to kube-system, kube-public and kube-node-lease. */
    systemNamespaces: z.array(namespacePattern).default([]),
    /** More checks that `*` does not include, added to those that declare themselves sensitive (capture). */
    sensitiveChecks: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be a check name like capture')).default([]),
    /** Limits of allow rules that set none themselves. */
    defaults: z
      .object({
        rate: rateSchema.optional(),
        allowBudgetOverride: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    rules: z.array(ruleSchema).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Map<string, number>();
    p.rules.forEach((rule, i) => {
      if (rule.name === undefined) return;
      const earlier = seen.get(rule.name);
      if (earlier !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${rule.name}" (also rules[${earlier}])` });
      }
      seen.set(rule.name, i);
    });
  });

export type PolicyFile = z.infer<typeof policySchema>;
