// Small text helpers every layer uses: shortening for headlines and Slack, and Slack's escaping.

/** `text` cut to at most `max` characters, with an ellipsis when it was cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The first non-empty line of `text`, trimmed and clipped to `max` characters (for headlines). */
export function firstLine(text: string, max = 120): string {
  const line =
    String(text ?? '')
      .split(/\r?\n/)
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  return clip(line, max);
}

/** Slack's mrkdwn needs &, < and > escaped in anything user- or tool-provided. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** "1 hop", "3 hops", "1,234 packets". */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}
