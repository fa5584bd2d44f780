// Admission: the bot's checks, in order, for one slash command that parsed into a job.
import { escapeMrkdwn } from '../core/text.js';
import { auditEntryForCommand, type AuditCommand, type AuditLog } from './audit.js';
import { dedupeSubjectForJob, type DedupeJob, type InFlightDedupe } from './dedupe.js';
import type { RateLimiter } from './rate-limit.js';
import { refusalText, type Verdict } from './rules.js';
import type { PolicyStore } from './store.js';
import type { GroupMembership } from './user-groups.js';

/** The job fields admission needs (structurally a DiagnosticJob). */
export interface AdmissionJob extends DedupeJob {
  id: string;
  cluster?: string;
}

export interface AdmissionDeps {
  policy: Pick<PolicyStore, 'evaluate' | 'groupIds'>;
  groups: Pick<GroupMembership, 'groupsOf'>;
  limits: { rate: Pick<RateLimiter, 'hit'>; dedupe: Pick<InFlightDedupe, 'claim' | 'release'> };
  audit: Pick<AuditLog, 'record'>;
}

export type Admission =
  | {
      ok: true;
      verdict: Extract<Verdict, { allowed: true }>;
      /** Call once the job is on the queue: writes the `enqueued` audit record. */
      enqueued(): Promise<void>;
      /** Call when it could not be queued after all (root message or queue failed): frees the dedupe claim, audits `not-enqueued`. */
      notEnqueued(reason: string): Promise<void>;
    }
  | {
      ok: false;
      outcome: 'refused' | 'duplicate' | 'rate-limited';
      /** Ready-to-send ephemeral reply (Slack mrkdwn, escaped). */
      reply: string;
      /** duplicate: the job already running; its thread has the results. */
      existingJobId?: string;
    };

/**
 * Policy, then in-flight dedupe, then the user's rate limit; one audit record for a refusal.
 * A duplicate does not use up the rate limit (nothing new runs), and a rate-limited request
 * gives its dedupe claim back. Throws only when Redis or the audit log fail unexpectedly.
 */
export async function admit(deps: AdmissionDeps, command: AuditCommand, job: AdmissionJob, receivedAt: number = Date.now()): Promise<Admission> {
  const base = { jobId: job.id, check: job.check, target: `${job.target.kind}/${job.target.name}`, namespace: job.namespace, startedAt: receivedAt };
  const userGroups = await deps.groups.groupsOf(job.requestedBy.userId, deps.policy.groupIds());
  const verdict = deps.policy.evaluate({
    userId: job.requestedBy.userId,
    channelId: command.channel_id,
    namespace: job.namespace,
    check: job.check,
    userGroups,
    ...(job.cluster ? { cluster: job.cluster } : {}),
  });
  if (!verdict.allowed) {
    const policy = { allowed: false, ...(verdict.rule !== undefined ? { rule: verdict.rule } : {}), reason: verdict.reason };
    await deps.audit.record(auditEntryForCommand(command, 'refused', { ...base, policy }));
    return { ok: false, outcome: 'refused', reply: escapeMrkdwn(refusalText(verdict, job)) };
  }
  const policy = { allowed: true, rule: verdict.rule };

  const subject = dedupeSubjectForJob(job);
  const dedupe = await deps.limits.dedupe.claim(subject, job.id);
  if (!dedupe.first) {
    await deps.audit.record(auditEntryForCommand(command, 'duplicate', { ...base, policy, existingJobId: dedupe.existingJobId }));
    return {
      ok: false,
      outcome: 'duplicate',
      existingJobId: dedupe.existingJobId,
      reply: escapeMrkdwn(
        `The same \`${job.check}\` on ${job.target.kind}/${job.target.name} in \`${job.namespace}\` is already running for you (job ${dedupe.existingJobId}); its results will be in that thread.`,
      ),
    };
  }

  const rate = await deps.limits.rate.hit(job.requestedBy.teamId, job.requestedBy.userId, verdict.limits.rate);
  if (!rate.ok) {
    await deps.limits.dedupe.release(subject, job.id);
    await deps.audit.record(auditEntryForCommand(command, 'rate-limited', { ...base, policy, retryAfterSeconds: rate.retryAfterSeconds }));
    return {
      ok: false,
      outcome: 'rate-limited',
      reply: `You've started ${rate.limit.requests} diagnostics in the last ${rate.limit.windowSeconds} s, the most allowed. Try again in ${rate.retryAfterSeconds} s.`,
    };
  }

  return {
    ok: true,
    verdict,
    enqueued: async () => {
      await deps.audit.record(auditEntryForCommand(command, 'enqueued', { ...base, policy }));
    },
    notEnqueued: async (reason: string) => {
      await deps.limits.dedupe.release(subject, job.id);
      await deps.audit.record(auditEntryForCommand(command, 'not-enqueued', { ...base, policy, reason }));
    },
  };
}
