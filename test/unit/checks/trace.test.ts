import { parseTracerouteOutput, traceCheck, type TraceArgs } from '../../../src/checks/trace.js';
import type { CheckContext, StepResult } from '../../../src/checks/types.js';
import { recordedFixtures, withTimings, type RecordedStep } from '../../support/fixtures.js';

type Fixture = RecordedStep;
const recorded = recordedFixtures('trace');
const fixtureFiles = recorded.files;
const fixture = recorded.read;

/** The args and settings a recorded traceroute command came from: the host is last, hops follow -m. */
function argsOf(f: Fixture): { args: TraceArgs; context: CheckContext } {
  const traceMaxHops = Number(f.command[f.command.indexOf('-m') + 1]);
  return { args: { host: f.command.at(-1) ?? '' }, context: { settings: { trace: { maxHops: traceMaxHops } }, now: new Date(0) } };
}

function stepOf(f: Fixture): StepResult {
  return { id: 'traceroute', argv: f.command, exitCode: f.exitCode, output: f.output };
}

const pattern = withTimings;

const usage = /Usage: `\/kdebug trace <target> <host>`/;

describe('traceCheck.parseArgs', () => {
  test.each<[string, string[], string]>([
    ['a name', ['db.prod.svc.cluster.local'], 'db.prod.svc.cluster.local'],
    ['an IPv4 address', ['10.0.12.7'], '10.0.12.7'],
    ['an IPv6 address in brackets', ['[fd00::7]'], 'fd00::7'],
  ])('accepts %s', (_label, positional, host) => {
    expect(traceCheck.parseArgs(positional, {})).toEqual({ ok: true, args: { host } });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['no host', [], {}, /Which host\?/],
    ['two hosts', ['a', 'b'], {}, /one host \(got 2/],
    ['an option-like host', ['-I'], {}, /starts with `-`/],
    ['a URL', ['https://db.prod/'], {}, /looks like a URL/],
    ['a backtick', ['db`id`'], {}, /contains ```; host names may only use/],
    ['an option', ['db'], { icmp: 'yes' }, /no option `--icmp`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = traceCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('traceCheck.steps', () => {
  test('default settings: 20 hops, 2 s per probe, one probe per hop, no reverse lookups', () => {
    expect(traceCheck.steps({ host: '10.0.12.7' })).toEqual([{ id: 'traceroute', argv: ['traceroute', '-n', '-m', '20', '-w', '2', '-q', '1', '10.0.12.7'] }]);
  });

  test('settings.traceMaxHops sets the hop limit', () => {
    const context: CheckContext = { settings: { trace: { maxHops: 8 } }, now: new Date(0) };
    expect(traceCheck.steps({ host: 'db' }, context)[0]?.argv).toEqual(['traceroute', '-n', '-m', '8', '-w', '2', '-q', '1', 'db']);
  });

  test("declares NET_RAW, which busybox traceroute (netshoot's) needs for its raw ICMP socket", () => {
    expect(traceCheck.capabilities).toEqual(['NET_RAW']);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      const { args, context } = argsOf(f);
      expect(traceCheck.steps(args, context)[0]?.argv).toEqual(f.command);
    }
  });
});

describe('traceCheck.interpret over recorded traceroute output', () => {
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok.json',
      'ok',
      'db.prod (203.0.113.10) reached in 3 hops, {ms} ms',
      {
        host: 'db.prod',
        address: '203.0.113.10',
        hopCount: 3,
        maxHops: 20,
        hops: [
          expect.stringMatching(pattern('1  192.0.2.2  {ms} ms')),
          expect.stringMatching(pattern('2  198.51.100.2  {ms} ms')),
          expect.stringMatching(pattern('3  203.0.113.10  {ms} ms')),
        ],
      },
    ],
    ['busybox-ok.json', 'ok', '203.0.113.10 reached in 3 hops, {ms} ms', { address: '203.0.113.10', hopCount: 3 }],
    [
      'incomplete.json',
      'incomplete',
      'route to 203.0.113.99 stops after hop 2 (198.51.100.2); nothing answered from hop 3 to 20',
      { lastHop: '2 198.51.100.2', hops: [expect.stringMatching(/^1 {2}192\.0\.2\.2 {2}/), expect.stringMatching(/^2 {2}198\.51\.100\.2 {2}/), '3–20  *'] },
    ],
    [
      'incomplete-blackhole.json',
      'incomplete',
      'route to 203.0.113.201 stops after hop 1 (192.0.2.2); nothing answered from hop 2 to 20',
      { lastHop: '1 192.0.2.2', hops: [expect.stringMatching(/^1 {2}192\.0\.2\.2 {2}/), '2–20  *'] },
    ],
    ['busybox-incomplete.json', 'incomplete', 'route to 203.0.113.201 stops after hop 1 (192.0.2.2); nothing answered from hop 2 to 20', { lastHop: '1 192.0.2.2' }],
    [
      'incomplete-host-unreachable.json',
      'incomplete',
      'route to 203.0.113.209 stops at hop 2: 198.51.100.2 reports host unreachable',
      { lastHop: '2 198.51.100.2', hops: [expect.stringMatching(/^1 {2}192\.0\.2\.2 {2}/), expect.stringMatching(pattern('2  198.51.100.2  {ms} ms  !H'))] },
    ],
    [
      'busybox-no-net-raw.json',
      'incomplete',
      'traceroute could not run: socket: Operation not permitted (this traceroute needs the NET_RAW capability)',
      { error: 'traceroute: socket: Operation not permitted' },
    ],
    ['dns-failure.json', 'dns-failure', 'Could not resolve db.invalid: Name or service not known (run `dns db.invalid` for the details)', { host: 'db.invalid' }],
    ['busybox-dns-failure.json', 'dns-failure', 'Could not resolve db.invalid: bad address (run `dns db.invalid` for the details)', { host: 'db.invalid' }],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(traceCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const f = fixture(file);
    const { args, context } = argsOf(f);
    const finding = traceCheck.interpret(args, [stepOf(f)], context);
    expect(finding.check).toBe('trace');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(pattern(headline));
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toEqual([stepOf(f)]);
  });
});

describe('parseTracerouteOutput', () => {
  test('header and hops', () => {
    expect(parseTracerouteOutput(fixture('incomplete-host-unreachable.json').output)).toEqual({
      host: '203.0.113.209',
      address: '203.0.113.209',
      maxHops: 20,
      hops: [
        { hop: 1, address: '192.0.2.2', rttMs: expect.any(Number) as number },
        { hop: 2, address: '198.51.100.2', rttMs: expect.any(Number) as number, annotation: '!H' },
      ],
      errors: [],
    });
  });

  test('several probes per hop, names, silent probes among answers', () => {
    const text =
      'traceroute to db (10.0.0.5), 30 hops max, 60 byte packets\n 1  gw (10.0.0.1)  0.3 ms  0.2 ms  0.2 ms\n 2  * 10.1.0.1  1.1 ms *\n 3  * * *\n 4  10.0.0.5  2.0 ms !X  2.1 ms !X  *\n';
    expect(parseTracerouteOutput(text).hops).toEqual([
      { hop: 1, address: '10.0.0.1', rttMs: 0.3 },
      { hop: 2, address: '10.1.0.1', rttMs: 1.1 },
      { hop: 3 },
      { hop: 4, address: '10.0.0.5', rttMs: 2, annotation: '!X' },
    ]);
  });

  test('IPv6', () => {
    const out = parseTracerouteOutput('traceroute to fd00::7 (fd00::7), 20 hops max, 80 byte packets\n 1  fd00::1  0.1 ms\n 2  fd00::7  0.2 ms\n');
    expect(out).toMatchObject({
      address: 'fd00::7',
      hops: [
        { hop: 1, address: 'fd00::1' },
        { hop: 2, address: 'fd00::7' },
      ],
    });
  });
});

describe('traceCheck.interpret on anything else', () => {
  const args: TraceArgs = { host: '10.0.12.7' };
  const run = (output: string, exitCode: number | null = 0) => traceCheck.interpret(args, [{ id: 'traceroute', argv: ['traceroute'], exitCode, output }]);

  test('silent hops on the way to a reached destination', () => {
    const finding = run('traceroute to 10.0.12.7 (10.0.12.7), 20 hops max, 60 byte packets\n 1  10.0.0.1  0.2 ms\n 2  *\n 3  10.0.12.7  1.5 ms\n');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe('10.0.12.7 reached in 3 hops, 1.5 ms (1 hop on the way did not answer)');
  });

  test('no hop answered at all', () => {
    const finding = run('traceroute to 10.0.12.7 (10.0.12.7), 3 hops max, 60 byte packets\n 1  *\n 2  *\n 3  *\n');
    expect(finding).toMatchObject({ verdict: 'incomplete', headline: 'No hop answered on the route to 10.0.12.7 (3 hops probed)', facts: { hops: ['1–3  *'] } });
  });

  test('stopped by the deadline part way', () => {
    const finding = run('traceroute to 10.0.12.7 (10.0.12.7), 20 hops max, 46 byte packets\n 1  10.0.0.1  0.2 ms\n 2  *\n', null);
    expect(finding.verdict).toBe('incomplete');
    expect(finding.headline).toBe('route to 10.0.12.7 stops after hop 1 (10.0.0.1); nothing answered at hop 2 (traceroute was stopped before it finished)');
  });

  test('no route in the pod, Butskoy and busybox wording', () => {
    expect(run('traceroute to 10.0.12.7 (10.0.12.7), 20 hops max, 60 byte packets\nconnect: Network is unreachable\n', 1).headline).toBe(
      'traceroute to 10.0.12.7 failed: connect: Network is unreachable: the pod has no route to it',
    );
    expect(run("traceroute: can't connect to remote host (10.0.12.7): Network is unreachable\n", 1)).toMatchObject({
      verdict: 'incomplete',
      headline: "traceroute to 10.0.12.7 failed: can't connect to remote host (10.0.12.7): Network is unreachable: the pod has no route to it",
    });
  });

  test('musl resolver wording (Alpine)', () => {
    expect(traceCheck.interpret({ host: 'db.invalid' }, [{ id: 'traceroute', argv: [], exitCode: 1, output: 'traceroute: db.invalid: Name does not resolve\n' }])).toMatchObject({
      verdict: 'dns-failure',
      headline: 'Could not resolve db.invalid: Name does not resolve (run `dns db.invalid` for the details)',
    });
  });

  test('traceroute missing from the image', () => {
    expect(run('sh: 1: traceroute: not found\n', 127)).toMatchObject({ verdict: 'incomplete' });
    expect(run('', null).headline).toBe('No trace to 10.0.12.7: traceroute did not finish in time');
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments', () => {
    const outputs = [
      '',
      '\n',
      'traceroute to  (',
      ' 1 ',
      '99999999999999999999  x',
      'Cannot handle "host" cmdline arg',
      '\u0000\uffff'.repeat(50),
      'x'.repeat(100_000),
      ` 1  ${'1.2.3.4  '.repeat(5000)}`,
    ];
    for (const file of fixtureFiles) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 11) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set(Object.keys(traceCheck.verdicts));
    for (const output of outputs) {
      for (const exitCode of [0, 1, 2, null]) {
        const finding = run(output, exitCode);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline.length).toBeGreaterThan(0);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
    const oddArgs = [{} as TraceArgs, undefined as unknown as TraceArgs, { host: [] } as unknown as TraceArgs];
    const oddResults = [null, [null], [{ id: 'traceroute' }], [{ id: 'traceroute', output: 42 }], 'x'] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = traceCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});

test('live progress: the hops found so far in the output printed so far', () => {
  const { output } = fixture('incomplete.json');
  const lines = output.split('\n');
  const partial = (n: number) => `${lines.slice(0, n + 1).join('\n')}\n`;
  expect(traceCheck.liveProgress!({ host: '203.0.113.99' }, { elapsedSeconds: 1, output: partial(0) })).toBe('tracing: no hop yet');
  expect(traceCheck.liveProgress!({ host: '203.0.113.99' }, { elapsedSeconds: 1, output: partial(2) })).toBe('tracing: 2 hops so far, the last 198.51.100.2');
  expect(traceCheck.liveProgress!({ host: '203.0.113.99' }, { elapsedSeconds: 9, output: partial(4) })).toBe('tracing: 4 hops so far, the last * (no answer)');
  expect(traceCheck.liveProgress!({ host: '203.0.113.99' }, { elapsedSeconds: 0 })).toBe('tracing: no hop yet');
});
