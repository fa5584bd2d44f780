import { parsePingOutput, pingCheck, type PingArgs } from '../../../src/checks/ping.js';
import type { CheckContext, StepResult } from '../../../src/checks/types.js';
import { recordedFixtures, withTimings, type RecordedStep } from '../../support/fixtures.js';

type Fixture = RecordedStep;
const recorded = recordedFixtures('ping');
const fixtureFiles = recorded.files;
const fixture = recorded.read;

/** The args and settings a recorded ping command came from: the host is last, the count follows -c. */
function argsOf(f: Fixture): { args: PingArgs; context: CheckContext } {
  const pingCount = Number(f.command[f.command.indexOf('-c') + 1]);
  return { args: { host: f.command.at(-1) ?? '' }, context: { settings: { ping: { count: pingCount } }, now: new Date(0) } };
}

function stepOf(f: Fixture): StepResult {
  return { id: 'ping', argv: f.command, exitCode: f.exitCode, output: f.output };
}

const headlinePattern = withTimings;

const usage = /Usage: `\/kdebug ping <target> <host>`/;

describe('pingCheck.parseArgs', () => {
  test.each<[string, string[], string]>([
    ['a short name', ['db.prod'], 'db.prod'],
    ['a fully qualified name with a trailing dot', ['db.prod.svc.cluster.local.'], 'db.prod.svc.cluster.local.'],
    ['an IPv4 address', ['10.0.0.5'], '10.0.0.5'],
    ['an IPv6 address', ['fd00::5'], 'fd00::5'],
    ['an IPv6 address in brackets', ['[fd00::5]'], 'fd00::5'],
    ['surrounding spaces', ['  db.prod  '], 'db.prod'],
    ['underscores and digits', ['_svc.node-1'], '_svc.node-1'],
    ['a name that only starts like a number', ['10.0.0.5.nip'], '10.0.0.5.nip'],
  ])('accepts %s', (_label, positional, host) => {
    expect(pingCheck.parseArgs(positional, {})).toEqual({ ok: true, args: { host } });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['no host', [], {}, /Which host\?/],
    ['two hosts', ['a', 'b'], {}, /one host \(got 2: `a`, `b`\)/],
    ['an empty host', [''], {}, /the host is empty/],
    ['an option-like host', ['-f'], {}, /starts with `-`/],
    ['an option-like host with a value', ['-c100'], {}, /starts with `-`/],
    ['a URL', ['http://db.prod'], {}, /looks like a URL/],
    ['host:port', ['db.prod:5432'], {}, /neither an IPv6 address nor a host name/],
    ['shell metacharacters', ['db;reboot'], {}, /contains `;`/],
    ['a space inside', ['db prod'], {}, /contains ` `/],
    ['two dots in a row', ['db..prod'], {}, /empty label/],
    ['a label ending with -', ['db-.prod'], {}, /starts or ends with `-`/],
    ['a 64-character label', [`${'a'.repeat(64)}.svc`], {}, /label longer than 63/],
    ['a 254-character name', [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`], {}, /longer than 253/],
    ['an out-of-range IPv4 address', ['10.0.0.256'], {}, /not a valid IPv4 address/],
    ['a short numeric address (inet_aton would read 10.1 as 10.0.0.1)', ['10.1'], {}, /not a valid IPv4 address/],
    ['a hex address', ['0x7f.1'], {}, /not a valid IPv4 address/],
    ['a bare number', ['2130706433'], {}, /not a valid IPv4 address/],
    ['an IPv6 zone id', ['fe80::1%eth0'], {}, /zone ids/],
    ['an option', ['db.prod'], { count: '10' }, /no option `--count`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = pingCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('pingCheck.steps', () => {
  test('default settings: 4 echo requests, 2 s wait, no reverse lookups', () => {
    expect(pingCheck.steps({ host: 'db.prod' })).toEqual([{ id: 'ping', argv: ['ping', '-n', '-c', '4', '-W', '2', 'db.prod'] }]);
  });

  test('settings.pingCount sets the count', () => {
    const context: CheckContext = { settings: { ping: { count: 10 } }, now: new Date(0) };
    expect(pingCheck.steps({ host: 'fd00::5' }, context)).toEqual([{ id: 'ping', argv: ['ping', '-n', '-c', '10', '-W', '2', 'fd00::5'] }]);
  });

  test('declares no capabilities', () => {
    expect(pingCheck.capabilities).toEqual([]);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      const { args, context } = argsOf(f);
      expect(pingCheck.steps(args, context)[0]?.argv).toEqual(f.command);
    }
  });
});

describe('pingCheck.interpret over recorded ping output', () => {
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok.json',
      'ok',
      'db.prod (203.0.113.10): 4/4 replies, avg {ms} ms',
      {
        host: 'db.prod',
        address: '203.0.113.10',
        transmitted: 4,
        received: 4,
        lossPercent: 0,
        rttMinMs: expect.any(Number),
        rttAvgMs: expect.any(Number),
        rttMaxMs: expect.any(Number),
      },
    ],
    ['ok-ipv6-loopback.json', 'ok', '::1: 4/4 replies, avg {ms} ms', { host: '::1', address: '::1', received: 4 }],
    ['packet-loss.json', 'packet-loss', '40% packet loss to 203.0.113.10 (2 of 5 lost), avg {ms} ms', { transmitted: 5, received: 3, lossPercent: 40 }],
    [
      'unreachable.json',
      'unreachable',
      'No reply from 203.0.113.201: all 4 echo requests lost (ICMP may simply be blocked: try `conn` to a port)',
      { transmitted: 4, received: 0, lossPercent: 100 },
    ],
    [
      'unreachable-host-unreachable.json',
      'unreachable',
      '203.0.113.99 is unreachable: 198.51.100.2 reports Destination Host Unreachable (all 4 echo requests lost)',
      { transmitted: 4, received: 0, icmpErrors: ['198.51.100.2: Destination Host Unreachable (×3)'] },
    ],
    ['dns-failure.json', 'dns-failure', 'Could not resolve db.invalid: Name or service not known (run `dns db.invalid` for the details)', { host: 'db.invalid' }],
    [
      'permission-denied.json',
      'permission-denied',
      'ping is not allowed in this pod: unprivileged ICMP is off (sysctl net.ipv4.ping_group_range) and the debug container has no NET_RAW. Cluster admins can allow unprivileged ICMP; meanwhile test a TCP port with `conn`',
      { error: 'ping: socket: Operation not permitted' },
    ],
    [
      'permission-denied-file-caps.json',
      'permission-denied',
      "ping could not run: the debug image's ping binary needs NET_RAW (a file capability), which the debug container does not get. Use an image whose ping works unprivileged, or test a TCP port with `conn`",
      { error: expect.stringMatching(/^sh: \d+: ping: Operation not permitted$/) },
    ],
    [
      'permission-denied-busybox.json',
      'permission-denied',
      "ping could not run: the debug image's ping (busybox) only uses raw sockets, which need NET_RAW. Use an image with iputils ping, or test a TCP port with `conn`",
      { error: 'ping: permission denied (are you root?)' },
    ],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(pingCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const f = fixture(file);
    const { args, context } = argsOf(f);
    const finding = pingCheck.interpret(args, [stepOf(f)], context);
    expect(finding.check).toBe('ping');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headlinePattern(headline));
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toEqual([stepOf(f)]);
  });
});

describe('parsePingOutput', () => {
  test('iputils: header, replies, summary and rtt', () => {
    expect(parsePingOutput(fixture('packet-loss.json').output)).toMatchObject({
      host: '203.0.113.10',
      address: '203.0.113.10',
      replies: 3,
      replySeqs: [1, 3, 5],
      stats: { transmitted: 5, received: 3, errors: 0, duplicates: 0, lossPercent: 40 },
      rtt: { min: expect.any(Number) as number, avg: expect.any(Number) as number, max: expect.any(Number) as number },
    });
  });

  test('iputils: errors and duplicates in the summary', () => {
    const text =
      'PING 10.0.0.5 (10.0.0.5) 56(84) bytes of data.\n64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.5 ms\n64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.6 ms (DUP!)\n\n--- 10.0.0.5 ping statistics ---\n2 packets transmitted, 1 received, +1 duplicates, +1 errors, 50% packet loss, time 1001ms\n';
    expect(parsePingOutput(text)).toMatchObject({
      replies: 1,
      stats: { transmitted: 2, received: 1, duplicates: 1, errors: 1, lossPercent: 50 },
      rtt: { min: 0.5, avg: 0.5, max: 0.5 },
    });
  });

  // busybox ping is not what nicolaka/netshoot runs (it has iputils), but it is what many small images have.
  test('busybox: header, seq from 0, summary, round-trip line', () => {
    const text =
      'PING 10.0.0.5 (10.0.0.5): 56 data bytes\n64 bytes from 10.0.0.5: seq=0 ttl=64 time=0.104 ms\n64 bytes from 10.0.0.5: seq=2 ttl=64 time=0.090 ms\n\n--- 10.0.0.5 ping statistics ---\n3 packets transmitted, 2 packets received, 33% packet loss\nround-trip min/avg/max = 0.090/0.097/0.104 ms\n';
    expect(parsePingOutput(text)).toEqual({
      host: '10.0.0.5',
      address: '10.0.0.5',
      replies: 2,
      replySeqs: [0, 2],
      icmpErrors: [],
      errors: [],
      stats: { transmitted: 3, received: 2, errors: 0, duplicates: 0, lossPercent: 33 },
      rtt: { min: 0.09, avg: 0.097, max: 0.104 },
    });
    const finding = pingCheck.interpret({ host: '10.0.0.5' }, [{ id: 'ping', argv: [], exitCode: 0, output: text }]);
    expect(finding.headline).toBe('33.3% packet loss to 10.0.0.5 (1 of 3 lost), avg 0.097 ms');
  });

  test('resolver failures, whichever libc or ping', () => {
    expect(parsePingOutput('ping: db.invalid: Temporary failure in name resolution\n').dnsError).toBe('Temporary failure in name resolution');
    expect(parsePingOutput('ping: db.invalid: Name does not resolve\n').dnsError).toBe('Name does not resolve'); // musl (Alpine)
    expect(parsePingOutput("ping: bad address 'db.invalid'\n").dnsError).toBe('bad address'); // busybox
    expect(parsePingOutput('ping: unknown host db.invalid\n').dnsError).toBe('unknown host'); // old iputils
  });

  test('a runtime that cannot execute a file-capability ping (runc wording)', () => {
    expect(parsePingOutput('exec /usr/bin/ping: operation not permitted\n').permissionError).toBe('exec /usr/bin/ping: operation not permitted');
  });

  test('a local firewall refusing to send is not a permission problem', () => {
    const out = parsePingOutput('PING 10.0.0.5 (10.0.0.5) 56(84) bytes of data.\nping: sendmsg: Operation not permitted\n');
    expect(out.permissionError).toBeUndefined();
    expect(out.errors).toEqual(['sendmsg: Operation not permitted']);
  });
});

describe('pingCheck.interpret on anything else', () => {
  const args: PingArgs = { host: '10.0.0.5' };
  const run = (output: string, exitCode: number | null = 0) => pingCheck.interpret(args, [{ id: 'ping', argv: ['ping'], exitCode, output }]);

  test('no route in the pod', () => {
    const finding = run('ping: connect: Network is unreachable\n', 2);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.headline).toBe('ping 10.0.0.5 failed: connect: Network is unreachable: the pod has no route to it');
  });

  test('cut off by the deadline after some replies, with a gap', () => {
    const cut = 'PING 10.0.0.5 (10.0.0.5) 56(84) bytes of data.\n64 bytes from 10.0.0.5: icmp_seq=1 ttl=64 time=0.5 ms\n64 bytes from 10.0.0.5: icmp_seq=3 ttl=64 time=0.7 ms\n';
    const finding = run(cut, null);
    expect(finding.verdict).toBe('packet-loss');
    expect(finding.headline).toBe('33.3% packet loss to 10.0.0.5 (1 of the first 3 lost) (ping was stopped before it finished)');
  });

  test('cut off by the deadline after some replies, none missing', () => {
    const cut = fixture('ok.json').output.split('\n').slice(0, 3).join('\n');
    const finding = pingCheck.interpret({ host: 'db.prod' }, [{ id: 'ping', argv: [], exitCode: null, output: cut }]);
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(/^db\.prod \(203\.0\.113\.10\): 2 replies, avg [\d.]+ ms \(ping was stopped before it finished\)$/);
  });

  test('cut off with only ICMP errors', () => {
    const cut = fixture('unreachable-host-unreachable.json').output.split('\n').slice(0, 2).join('\n');
    const finding = pingCheck.interpret({ host: '203.0.113.99' }, [{ id: 'ping', argv: [], exitCode: null, output: cut }]);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.headline).toBe(
      '203.0.113.99 is unreachable: 198.51.100.2 reports Destination Host Unreachable (no echo request answered) (ping was stopped before it finished)',
    );
  });

  test('ping missing from the image', () => {
    const finding = run('sh: 1: ping: not found\n', 127);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.headline).toBe('No ping result for 10.0.0.5: ping exited with code 127: sh: 1: ping: not found');
  });

  test('a step that never finished and printed nothing', () => {
    expect(run('', null).headline).toBe('No ping result for 10.0.0.5: ping did not finish in time');
  });

  test('no step at all', () => {
    expect(pingCheck.interpret(args, []).headline).toBe('No ping result for 10.0.0.5: ping did not run');
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments', () => {
    const outputs = [
      '',
      '\n\n',
      'PING (',
      'PING x (y',
      '1 packets transmitted, 0 received, 0% packet loss',
      '0 packets transmitted, 0 received, 0% packet loss',
      'From  icmp_seq=1 ',
      '\u0000\uffff'.repeat(50),
      'x'.repeat(100_000),
      '64 bytes from x: icmp_seq=99999999999999999999 time=1e400 ms',
    ];
    for (const file of fixtureFiles) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 7) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set(Object.keys(pingCheck.verdicts));
    for (const output of outputs) {
      for (const exitCode of [0, 1, 2, null]) {
        const finding = run(output, exitCode);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline.length).toBeGreaterThan(0);
        // Handled by the parser itself, not by interpret()'s last-resort catch.
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
    const oddArgs = [{} as PingArgs, undefined as unknown as PingArgs, { host: 42 } as unknown as PingArgs];
    const oddResults = [null, [null], [{ id: 'ping' }], [{ id: 'ping', output: 42 }], 'x'] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = pingCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});
