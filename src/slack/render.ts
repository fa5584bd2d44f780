// Pure renderers from kdebug's results to Slack messages (text fallback plus Block Kit blocks).
// Slack limits section text to 3,000 characters and messages to 50 blocks; raw output that does
// not fit is returned as a file to attach to the thread instead.
import type { KnownBlock } from '@slack/types';
import { verdictClass } from '../checks/index.js';
import type { Finding, StepResult } from '../checks/types.js';
import { formatElapsed } from '../core/duration.js';
import { describeTarget } from '../core/target.js';
import { clip, escapeMrkdwn } from '../core/text.js';
import type { DiagnosticJob } from '../queue/job.js';

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export interface RenderedFinding extends SlackMessage {
  /** Raw output too long for the message, to upload into the thread. */
  file?: { filename: string; content: string };
}

const SECTION_LIMIT = 3000;

const VERDICT_EMOJI = { good: ':white_check_mark:', warning: ':warning:', bad: ':x:' } as const;

export function verdictEmoji(finding: Pick<Finding, 'check' | 'verdict'>): string {
  return VERDICT_EMOJI[verdictClass(finding.check, finding.verdict)];
}

/** "dns deployment/web in prod", "dns deployment/web --all in prod", "dns web-0 in prod-us/prod" */
export function describeJob(job: Pick<DiagnosticJob, 'check' | 'target' | 'namespace' | 'all' | 'cluster'>): string {
  const all = job.all && job.target.kind !== 'selector' ? ' --all' : '';
  return `${job.check} ${describeTarget(job.target)}${all} in ${job.cluster ? `${job.cluster}/` : ''}${job.namespace}`;
}

export type RootStatus =
  | { state: 'queued' }
  | { state: 'running'; detail: string }
  | { state: 'done'; finding: Finding; durationMs: number }
  /** `--all`: the comparison's headline and how it looks at a glance. */
  | { state: 'compared'; headline: string; emoji: string; durationMs: number }
  | { state: 'failed'; message: string; durationMs: number }
  | { state: 'cancelled'; by: string; durationMs: number };

/** The action id of the Cancel button on a root message. */
export const CANCEL_ACTION = 'kdebug_cancel';

/** The root message in the channel; every result is threaded under it. */
export function rootMessage(job: DiagnosticJob, status: RootStatus): SlackMessage {
  const who = `requested by <@${job.requestedBy.userId}>`;
  const what = escapeMrkdwn(describeJob(job));
  let line: string;
  let plain: string;
  switch (status.state) {
    case 'queued':
      line = `:hourglass_flowing_sand: *${what}*, ${who}: queued`;
      plain = `${describeJob(job)}: queued`;
      break;
    case 'running':
      line = `:gear: *${what}*, ${who}: running (${escapeMrkdwn(status.detail)})`;
      plain = `${describeJob(job)}: running`;
      break;
    case 'done':
      line = `${verdictEmoji(status.finding)} *${what}*, ${who}: *${status.finding.verdict}*: ${escapeMrkdwn(status.finding.headline)} (${formatElapsed(status.durationMs)})`;
      plain = `${describeJob(job)}: ${status.finding.verdict}: ${status.finding.headline}`;
      break;
    case 'compared':
      line = `${status.emoji} *${what}*, ${who}: ${escapeMrkdwn(status.headline)} (${formatElapsed(status.durationMs)})`;
      plain = `${describeJob(job)}: ${status.headline}`;
      break;
    case 'failed':
      line = `:x: *${what}*, ${who}: failed after ${formatElapsed(status.durationMs)}: ${escapeMrkdwn(status.message)}`;
      plain = `${describeJob(job)}: failed: ${status.message}`;
      break;
    case 'cancelled':
      line = `:no_entry_sign: *${what}*, ${who}: cancelled by <@${status.by}> after ${formatElapsed(status.durationMs)}`;
      plain = `${describeJob(job)}: cancelled`;
      break;
  }
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(line, SECTION_LIMIT) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `job \`${job.id}\` · \`${escapeMrkdwn(clip(job.commandText, 200))}\`` }] },
  ];
  // A job still to finish can be stopped from its root message.
  if (status.state === 'queued' || status.state === 'running') {
    blocks.push({ type: 'actions', elements: [{ type: 'button', action_id: CANCEL_ACTION, text: { type: 'plain_text', text: 'Cancel' }, value: job.id, style: 'danger' }] });
  }
  return { text: clip(plain, 3000), blocks };
}

function factLines(facts: Finding['facts']): string {
  return Object.entries(facts)
    .map(([key, value]) => {
      const shown = Array.isArray(value) ? (value.length ? value.join(', ') : '(none)') : String(value);
      return `• *${escapeMrkdwn(key)}:* ${escapeMrkdwn(shown)}`;
    })
    .join('\n');
}

/** The raw output of the steps as a person would see it in a terminal. */
export function transcript(steps: readonly StepResult[]): string {
  return steps
    .map((s) => {
      const status = s.exitCode === null ? ' (did not finish)' : s.exitCode === 0 ? '' : ` (exit ${s.exitCode})`;
      return `$ ${s.argv.join(' ')}${status}\n${s.output.replace(/\n$/, '')}`;
    })
    .join('\n\n');
}

/** Code blocks cannot contain their own fence; a look-alike keeps the text readable. */
export function codeBlock(text: string): string {
  return `\`\`\`${escapeMrkdwn(text).replace(/```/g, 'ʼʼʼ')}\`\`\``;
}

export function findingMessage(finding: Finding, opts: { maxInlineOutputChars: number; fileBaseName: string; note?: string }): RenderedFinding {
  const headline = `${verdictEmoji(finding)} *${escapeMrkdwn(finding.verdict)}*: ${escapeMrkdwn(finding.headline)}`;
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(headline, SECTION_LIMIT) } }];
  if (opts.note) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(opts.note), SECTION_LIMIT) }] });
  const facts = factLines(finding.facts);
  if (facts) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(facts, SECTION_LIMIT) } });

  const raw = transcript(finding.steps);
  let file: RenderedFinding['file'];
  if (codeBlock(raw).length <= opts.maxInlineOutputChars) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: codeBlock(raw) } });
  } else {
    const filename = `${opts.fileBaseName}.txt`;
    file = { filename, content: `${raw}\n` };
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Raw output (${raw.length} characters) is attached below as ${escapeMrkdwn(filename)}.` }] });
  }
  return { text: clip(`${finding.verdict}: ${finding.headline}`, 3000), blocks, file };
}

/** A failure the user can act on, as a threaded reply. */
export function failureMessage(message: string): SlackMessage {
  return {
    text: clip(message, 3000),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: clip(`:x: ${escapeMrkdwn(message)}`, SECTION_LIMIT) } }],
  };
}
