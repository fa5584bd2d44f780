// The App Home tab: the user's last requests (check, target, verdict, when, a link to the thread)
// and what they may run where (the same text as `/kdebug whoami`).
import type { HomeView, KnownBlock } from '@slack/types';
import { clip, escapeMrkdwn } from '../core/text.js';
import type { RecentRequest } from '../queue/history.js';

const STATE_EMOJI: Record<string, string> = {
  queued: ':hourglass_flowing_sand:',
  running: ':gear:',
  failed: ':x:',
  cancelled: ':no_entry_sign:',
  unknown: ':grey_question:',
};

/** `https://team.slack.com/archives/C123/p1712345678000100`: Slack's permalink form. */
export function threadLink(workspaceUrl: string, channel: string, ts: string): string {
  return `${workspaceUrl.replace(/\/?$/, '/')}archives/${channel}/p${ts.replace('.', '')}`;
}

export function homeView(opts: {
  requests: readonly RecentRequest[];
  whoami: string;
  workspaceUrl: string;
  verdictEmoji: (finding: { check: string; verdict: string }) => string;
  now: number;
}): HomeView {
  // One section per request: a line is never cut inside its date or link markup.
  const requests: KnownBlock[] = opts.requests.map((r) => {
    const emoji = r.verdict ? opts.verdictEmoji({ check: r.check, verdict: r.verdict }) : (STATE_EMOJI[r.state] ?? ':grey_question:');
    // --all: the comparison's headline says more than its worst verdict.
    const outcome = r.headline ? escapeMrkdwn(clip(r.headline, 300)) : r.verdict ? `*${escapeMrkdwn(r.verdict)}*` : r.state;
    const when = `<!date^${Math.floor(r.at / 1000)}^{date_short_pretty} {time}|${new Date(r.at).toISOString()}>`;
    const link = `<${threadLink(opts.workspaceUrl, r.channel, r.rootTs)}|thread>`;
    return { type: 'section', text: { type: 'mrkdwn', text: `${emoji} ${escapeMrkdwn(clip(r.what, 300))}: ${outcome} · ${when} · ${link}` } };
  });
  const none: KnownBlock = { type: 'section', text: { type: 'mrkdwn', text: 'None yet. Type `/kdebug` in a channel to build a command, or `/kdebug help`.' } };
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: 'Your recent kdebug requests' } },
    ...(requests.length ? requests : [none]),
    { type: 'divider' },
    { type: 'header', text: { type: 'plain_text', text: 'What you may run' } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(opts.whoami, 3000) } },
  ];
  return { type: 'home', blocks };
}
