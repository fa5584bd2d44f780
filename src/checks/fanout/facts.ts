// For the checks' FanoutTraits (`--all`): reading a Finding's facts without trusting their type,
// and fitting a figure into its table cell.
import { clip } from '../../core/text.js';
import type { Finding } from '../types.js';

/** A figure's table cell holds this many characters at most. */
export const FIGURE_MAX = 40;

export function numberFact(finding: Finding, key: string): number | undefined {
  const value = finding.facts[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function stringFact(finding: Finding, key: string): string | undefined {
  const value = finding.facts[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function listFact(finding: Finding, key: string): string[] {
  const value = finding.facts[key];
  return Array.isArray(value) ? value : [];
}

/** As many items as fit in `max` characters, then "+N more": "10.0.0.7, 10.0.0.8 +3 more". */
export function fitList(items: readonly string[], max = FIGURE_MAX): string {
  for (let shown = items.length; shown > 0; shown--) {
    const text = `${items.slice(0, shown).join(', ')}${shown < items.length ? ` +${items.length - shown} more` : ''}`;
    if (text.length <= max) return text;
  }
  return clip(items.join(', '), max);
}
