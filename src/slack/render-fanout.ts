// The answer to `--all`: ONE threaded reply for every pod (Slack allows about one message a second
// per channel, so ten pods must not cost ten messages). The headline states the pattern, a table
// lists the pods with the odd ones first, and every pod's output goes into one attached file, or
// inline when it is short.
import type { KnownBlock } from '@slack/types';
import type { FanoutComparison, FanoutRow } from '../checks/fanout/compare.js';
import type { Finding } from '../checks/types.js';
import { clip, escapeMrkdwn } from '../core/text.js';
import { codeBlock, transcript, type RenderedFinding } from './render.js';

const SECTION_LIMIT = 3000;
/** The odd pods' reasons listed under the table; more are in the table and the file. */
const MAX_REASONS = 8;

/** What a comparison says at a glance: bad when any pod is bad, warning when any warns or was skipped. */
export function comparisonEmoji(comparison: Pick<FanoutComparison, 'summary'>): string {
  const { bad, warning, skipped } = comparison.summary;
  return bad > 0 ? ':x:' : warning > 0 || skipped > 0 ? ':warning:' : ':white_check_mark:';
}

/** One pod's part of the attached output: its outcome and what its tools printed. */
export interface PodOutput {
  pod: string;
  node?: string;
  zone?: string;
  finding?: Finding;
  /** Why it was not checked (the whole message). */
  skipped?: string;
}

/** Fixed-width columns; only those that hold something (no zone column without zones). */
export function comparisonTable(rows: readonly FanoutRow[]): string {
  const columns: Array<[string, (r: FanoutRow) => string]> = [
    ['', (r) => (r.odd ? '!' : ' ')],
    ['pod', (r) => r.pod],
    ['node', (r) => r.node ?? ''],
    ['zone', (r) => r.zone ?? ''],
    ['replicaset', (r) => r.replicaSet ?? ''],
    ['verdict', (r) => r.verdict],
    ['result', (r) => r.figure],
  ];
  const shown = columns.filter(([title, cell], i) => i === 0 || title === 'pod' || title === 'verdict' || title === 'result' || rows.some((r) => cell(r) !== ''));
  // A ReplicaSet column only helps when the pods belong to more than one (a rollout).
  const replicaSets = new Set(rows.flatMap((r) => (r.replicaSet ? [r.replicaSet] : [])));
  const used = shown.filter(([title]) => title !== 'replicaset' || replicaSets.size > 1);
  const widths = used.map(([title, cell]) => Math.max(title.length, ...rows.map((r) => cell(r).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(used.map(([title]) => title)), ...rows.map((r) => line(used.map(([, cell]) => cell(r))))].join('\n');
}

/** Every pod's output, one after the other: the attached file (or the inline block when short). */
export function allOutputs(pods: readonly PodOutput[]): string {
  return pods
    .map((p) => {
      const where = [p.node && `node ${p.node}`, p.zone && `zone ${p.zone}`].filter(Boolean).join(', ');
      const head = `== ${p.pod}${where ? ` (${where})` : ''}: ${p.finding ? `${p.finding.verdict}: ${p.finding.headline}` : `not checked: ${p.skipped ?? 'no result'}`}`;
      return p.finding ? `${head}\n\n${transcript(p.finding.steps)}` : head;
    })
    .join('\n\n');
}

export function comparisonMessage(
  comparison: FanoutComparison,
  pods: readonly PodOutput[],
  opts: { sample: string; note?: string; maxInlineOutputChars: number; fileBaseName: string },
): RenderedFinding {
  const headline = `${comparisonEmoji(comparison)} *${escapeMrkdwn(comparison.headline)}*`;
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(headline, SECTION_LIMIT) } }];
  const context = [opts.sample, opts.note].filter(Boolean).join(' · ');
  if (context) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(context), SECTION_LIMIT) }] });

  // A table too long for one section is cut at a row; the pods it leaves out are counted.
  const rows = comparisonTable(comparison.rows).split('\n');
  let shown = rows.length;
  while (shown > 1 && codeBlock(rows.slice(0, shown).join('\n')).length > SECTION_LIMIT - 60) shown -= 1;
  const cut = rows.length - shown;
  const table = codeBlock(rows.slice(0, shown).join('\n'));
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut ? `${table}\n…and ${cut} more pods (each pod's output is below or in the file)` : table } });
  const reasons = comparison.rows.filter((r) => r.odd && r.why);
  if (reasons.length) {
    const lines = reasons.slice(0, MAX_REASONS).map((r) => `• *${escapeMrkdwn(r.pod)}*: ${escapeMrkdwn(r.why!)}`);
    if (reasons.length > MAX_REASONS) lines.push(`• …and ${reasons.length - MAX_REASONS} more in the table`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SECTION_LIMIT) } });
  }

  const raw = allOutputs(pods);
  let file: RenderedFinding['file'];
  if (codeBlock(raw).length <= opts.maxInlineOutputChars) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: codeBlock(raw) } });
  } else {
    const filename = `${opts.fileBaseName}.txt`;
    file = { filename, content: `${raw}\n` };
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Each pod's output (${raw.length} characters) is attached below as ${escapeMrkdwn(filename)}.` }] });
  }
  return { text: clip(comparison.headline, 3000), blocks, ...(file ? { file } : {}) };
}
