// Hostile text into the slash-command grammar, with the real check registry: whatever Slack sends,
// parsing never throws, always ends in request/help/usage, and a request only ever carries valid
// Kubernetes names and arguments that make a valid job and a buildable script.
import fc from 'fast-check';
import { checks } from '../../src/checks/index.js';
import { MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, parseCommandText, tokenize, type ParseResult } from '../../src/grammar/parse.js';
import { isDns1123Label, isDns1123Subdomain } from '../../src/core/kube-names.js';
import { buildScript, newMarker } from '../../src/runner/script.js';
import { validateJob, type DiagnosticJob } from '../../src/queue/job.js';

const RUNS = { numRuns: 400 };

// Pieces people (and Slack) really put in commands, plus the nastiest characters around.
const words = [
  ...checks.keys(),
  'DNS',
  'Dns',
  'help',
  'HELP',
  'nosuch',
  'dsn',
  'web-7f9c',
  'pod/web',
  'po/web-0',
  'deploy/api',
  'deployment/api',
  'sts/db-0',
  'ds/agent',
  'svc/api',
  'foo/bar',
  'pod/',
  '/web',
  'Web-7F9C',
  'a..b',
  'a.-b',
  '-web',
  'web-',
  'x'.repeat(64),
  'x'.repeat(254),
  'a.b.c',
  '0',
  'web_1',
  '-n',
  '--namespace',
  '-c',
  '--container',
  '--timeout',
  '--server',
  '-h',
  '--help',
  '--',
  '-',
  '--nosuch',
  '-x',
  '--namespace=prod',
  '-n=kube-system',
  '--timeout=30s',
  '--server=10.0.0.10',
  '--server=',
  '--timeout=0',
  '--timeout=1h',
  'prod',
  'kube-system',
  'Prod',
  'payments-eu',
  'a'.repeat(63),
  'a'.repeat(64),
  '30s',
  '1m30s',
  '601',
  '4',
  'abc',
  '10.0.0.10',
  '10.0.0.10:53',
  '[::1]:53',
  '::1',
  'api.prod.svc.cluster.local',
  'api.',
  '*.prod',
  'a b',
  '<@U0123|bob>',
  '<@U0123>',
  '<#C0123|general>',
  '<http://api.prod|api.prod>',
  '<https://x.y/p?q=1|x.y>',
  '<mailto:a@b.c|a@b.c>',
  '<!here>',
  '<!subteam^S1|@ops>',
  '<broken',
  'a>b',
  '&amp;',
  '&lt;',
  '&gt;',
  '&amp;lt;',
  '&nbsp;',
  '"',
  "'",
  '\u201C',
  '\u201D',
  '\u2018',
  '\u2019',
  '""',
  "''",
  '"prod"',
  '\u201Cprod\u201D',
  '`prod`',
  '```',
  '$(id)',
  '`id`',
  '$HOME',
  ';',
  '|',
  '&&',
  '*',
  '?',
  '\\',
  '\\n',
  '%s',
  '{}',
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u200b',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\ud83d\ude00',
  '\ud800',
  'é',
  'İ',
  '\u212a',
  'ﬀ',
  'Σ',
];
const separators = [' ', '  ', '\t', '\n', '\r\n', '', '\u00a0', '\u3000'];

const composed = fc.array(fc.tuple(fc.constantFrom(...words), fc.constantFrom(...separators)), { maxLength: 12 }).map((parts) => parts.map(([w, s]) => w + s).join(''));
const hostile = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...words));
/** Mostly plausible, sometimes hostile. */
const mostly = (...plausible: string[]) => fc.oneof({ arbitrary: fc.constantFrom(...plausible), weight: 4 }, { arbitrary: hostile, weight: 1 });
const quoted = (value: fc.Arbitrary<string>) =>
  fc.tuple(value, fc.constantFrom(['', ''], ['"', '"'], ["'", "'"], ['\u201C', '\u201D'], ['\u2018', '\u2019'])).map(([v, [open, close]]) => open + v + close);
// Shaped like a real command, so that a good share of inputs get all the way to a request.
const requestShaped = fc
  .tuple(
    mostly(...checks.keys(), 'DNS'),
    quoted(mostly('web-7f9c', 'pod/web', 'deploy/api', 'sts/db-0', 'ds/agent', 'a.b', 'x'.repeat(253))),
    fc.array(quoted(mostly('api', 'api.prod.svc.cluster.local', 'kubernetes.default', 'example.com.', '<http://x.io|x.io>')), { maxLength: 4 }),
    fc.array(
      fc
        .oneof(
          fc.tuple(fc.constantFrom('-n ', '--namespace ', '-n=', '--namespace='), quoted(mostly('prod', 'kube-system', 'a'.repeat(63)))),
          fc.tuple(fc.constantFrom('-c ', '--container '), quoted(mostly('app', 'sidecar'))),
          fc.tuple(fc.constantFrom('--timeout ', '--timeout='), quoted(mostly('30s', '5', '600', '1m30s', '10m'))),
          fc.tuple(fc.constantFrom('--server ', '--server='), quoted(mostly('10.0.0.10', '10.0.0.10:53', '[fd00::a]:53', 'fd00::a'))),
        )
        .map(([flag, value]) => flag + value),
      { maxLength: 4 },
    ),
    fc.constantFrom(' ', '  ', '\t', '\u00a0'),
  )
  .map(([check, target, positional, flags, sep]) => [check, ...flags.slice(0, 1), target, ...positional, ...flags.slice(1)].join(sep));

const anyText = fc.oneof(
  { arbitrary: requestShaped, weight: 5 },
  composed,
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }),
  // A valid command with arbitrary junk spliced in somewhere.
  fc
    .tuple(fc.constantFrom('dns web-7f9c -n prod', 'dns deploy/api api.prod --server 10.0.0.10 --timeout 30s'), fc.nat(40), fc.string({ unit: 'binary', maxLength: 20 }))
    .map(([cmd, at, junk]) => cmd.slice(0, at) + junk + cmd.slice(at)),
);

function parse(text: string): ParseResult {
  return parseCommandText(text, checks);
}

/** The job the slash-command handler builds from a request (as src/bot/slash-command.ts does). */
function jobFor(text: string, request: Extract<ParseResult, { kind: 'request' }>['request']): DiagnosticJob {
  return {
    v: 1,
    id: '0123456789abcdef',
    check: request.check,
    target: request.target,
    namespace: request.namespace ?? 'default',
    ...(request.container ? { container: request.container } : {}),
    timeoutSeconds: request.timeoutSeconds ?? 60,
    positional: request.positional,
    options: request.options,
    commandText: `/kdebug ${text}`.trim().slice(0, 4000),
    requestedBy: { teamId: 'T1', userId: 'U1' },
    reply: { channel: 'C1', rootTs: '1.2' },
    enqueuedAt: 0,
  };
}

describe('parseCommandText on hostile input', () => {
  test('never throws and always ends in exactly one of request, help, cancel or usage (never a local run from Slack)', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = parse(text);
        expect(['request', 'help', 'cancel', 'usage']).toContain(result.kind);
        if (result.kind === 'cancel') expect(result.jobId).toMatch(/^[0-9a-f]{16}$/);
        if (result.kind === 'usage') {
          expect(typeof result.message).toBe('string');
          expect(result.message.length).toBeGreaterThan(0);
        }
        if (result.kind === 'help' && result.check !== undefined) expect(checks.has(result.check)).toBe(true);
      }),
      RUNS,
    );
  });

  test('every request names a known check and valid Kubernetes target, namespace and container', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = parse(text);
        if (result.kind !== 'request') return;
        const { request } = result;
        expect(checks.has(request.check)).toBe(true);
        expect(['pod', 'deployment', 'statefulset', 'daemonset']).toContain(request.target.kind);
        expect(isDns1123Subdomain(request.target.name)).toBe(true);
        if (request.namespace !== undefined) expect(isDns1123Label(request.namespace)).toBe(true);
        if (request.container !== undefined) expect(isDns1123Label(request.container)).toBe(true);
        if (request.timeoutSeconds !== undefined) {
          expect(Number.isInteger(request.timeoutSeconds)).toBe(true);
          expect(request.timeoutSeconds).toBeGreaterThanOrEqual(MIN_TIMEOUT_SECONDS);
          expect(request.timeoutSeconds).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
        }
      }),
      RUNS,
    );
  });

  test('a request always makes a job the queue accepts and a script that builds (no NUL, no throw)', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = parse(text);
        if (result.kind !== 'request') return;
        const validated = validateJob(jobFor(text, result.request), checks);
        if (!validated.ok) throw new Error(`grammar accepted ${JSON.stringify(text)} but the job is invalid: ${validated.reason}`);
        const steps = validated.check.steps(validated.args);
        expect(() => buildScript(steps, newMarker())).not.toThrow();
      }),
      RUNS,
    );
  });

  test('the generators really reach requests, help and usage (the properties are not vacuous)', () => {
    const counts: Record<string, number> = { request: 0, help: 0, usage: 0 };
    for (const text of fc.sample(anyText, { numRuns: 2000, seed: 42 })) counts[parse(text).kind] = (counts[parse(text).kind] ?? 0) + 1;
    expect(
      Object.keys(counts)
        .filter((k) => k !== 'cancel')
        .sort(),
    ).toEqual(['help', 'request', 'usage']); // never `local` from Slack text
    expect(counts.request).toBeGreaterThan(100);
    expect(counts.help).toBeGreaterThan(0);
    expect(counts.usage).toBeGreaterThan(200);
  });

  test('tokenize never throws and its tokens never keep Slack markup it understood', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = tokenize(text);
        if (!result.ok) {
          expect(result.message).toMatch(/never closed/);
          return;
        }
        for (const token of result.tokens) expect(token).not.toMatch(/^<[@#!][A-Z0-9^]+(?:\|[^<>]*)?>$/);
      }),
      RUNS,
    );
  });
});
