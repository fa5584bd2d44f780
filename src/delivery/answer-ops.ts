// What a job's answer says, as outbox operations: replies in its thread and the final state of its
// root message. Workers write them for the jobs they run; the bot for a job it cancelled first.
import { formatElapsed } from '../core/duration.js';
import { debugContainerName } from '../core/debug-container.js';
import type { DiagnosticJob } from '../queue/job.js';
import { nextStepButtons, nextSteps } from '../slack/next-steps.js';
import { failureMessage, rootMessage, type SlackMessage } from '../slack/render.js';
import type { MessageOp } from './outbox.js';

export const replyOp = (message: SlackMessage): MessageOp => ({ kind: 'reply', text: message.text, blocks: message.blocks });
export const rootOp = (message: SlackMessage): MessageOp => ({ kind: 'root', text: message.text, blocks: message.blocks });

/** The answer to a cancelled job: who stopped it, and what happens to the containers already added. */
export function cancelledOps(job: DiagnosticJob, by: string, durationMs: number, podsWithContainer: readonly string[]): MessageOp[] {
  const where = podsWithContainer.length > 1 ? ` in ${podsWithContainer.length} pods (${podsWithContainer.join(', ')})` : '';
  const container = podsWithContainer.length
    ? ` The debug container ${debugContainerName(job.id)}${where} may keep running until its own deadline (${job.timeoutSeconds} s): ephemeral containers cannot be stopped or removed.`
    : '';
  const text = `Cancelled by <@${by}> after ${formatElapsed(durationMs)}.${container}`;
  return [{ kind: 'reply', text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] }, rootOp(rootMessage(job, { state: 'cancelled', by, durationMs }))];
}

/** The answer to a job that failed before any verdict: the reason in the thread (with Re-run) and on the root message. */
export function failedOps(job: DiagnosticJob, message: string, durationMs: number): MessageOp[] {
  const failure = failureMessage(message);
  const rerun = nextStepButtons(nextSteps(job, undefined));
  return [replyOp(rerun ? { ...failure, blocks: [...failure.blocks, rerun] } : failure), rootOp(rootMessage(job, { state: 'failed', message, durationMs }))];
}
