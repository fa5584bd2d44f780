import { homeView, threadLink } from '../../../src/slack/home.js';

test('one block per request: verdict (or state), when, and a link to its thread; then what the user may run', () => {
  const view = homeView({
    requests: [
      { jobId: 'a', check: 'dns', what: 'dns deployment/web in prod', channel: 'C1', rootTs: '1712345678.000100', at: 1712345678000, state: 'done', verdict: 'nxdomain' },
      { jobId: 'b', check: 'http', what: 'http web-0 in prod', channel: 'C1', rootTs: '1712345600.000200', at: 1712345600000, state: 'running' },
    ],
    whoami: 'What <@U1> may run …',
    workspaceUrl: 'https://acme.slack.com/',
    verdictEmoji: ({ verdict }) => (verdict === 'ok' ? ':white_check_mark:' : ':x:'),
    now: 0,
  });
  expect(view.type).toBe('home');
  expect(view.blocks.map((b) => ('text' in b && b.type === 'section' ? (b.text as { text: string }).text : b.type))).toEqual([
    'header',
    ':x: dns deployment/web in prod: *nxdomain* · <!date^1712345678^{date_short_pretty} {time}|2024-04-05T19:34:38.000Z> · <https://acme.slack.com/archives/C1/p1712345678000100|thread>',
    ':gear: http web-0 in prod: running · <!date^1712345600^{date_short_pretty} {time}|2024-04-05T19:33:20.000Z> · <https://acme.slack.com/archives/C1/p1712345600000200|thread>',
    'divider',
    'header',
    'What <@U1> may run …',
  ]);
  expect(threadLink('https://acme.slack.com', 'C9', '1.000001')).toBe('https://acme.slack.com/archives/C9/p1000001');
});
