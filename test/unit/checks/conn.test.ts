import { connCheck, parseNcOutput, type ConnArgs } from '../../../src/checks/conn.js';
import type { StepResult } from '../../../src/checks/types.js';
import { recordedFixtures, type RecordedStep } from '../../support/fixtures.js';

type Fixture = RecordedStep;
const recorded = recordedFixtures('conn');
const fixtureFiles = recorded.files;
const fixture = recorded.read;

/** The args a recorded nc command came from: host and port are the last two words. */
function argsOf(f: Fixture): ConnArgs {
  return { host: f.command.at(-2) ?? '', port: Number(f.command.at(-1)) };
}

function stepOf(f: Fixture): StepResult {
  return { id: 'nc', argv: f.command, exitCode: f.exitCode, output: f.output };
}

const usage = /Usage: `\/kdebug conn <target> <host> <port>`/;

describe('connCheck.parseArgs', () => {
  test.each<[string, string[], ConnArgs]>([
    ['host and port', ['db.prod', '5432'], { host: 'db.prod', port: 5432 }],
    ['an IPv4 address', ['10.0.0.5', '80'], { host: '10.0.0.5', port: 80 }],
    ['an IPv6 address', ['fd00::5', '443'], { host: 'fd00::5', port: 443 }],
    ['a bracketed IPv6 address', ['[fd00::5]', '443'], { host: 'fd00::5', port: 443 }],
    ['host:port in one word', ['redis.cache:6379'], { host: 'redis.cache', port: 6379 }],
    ['[IPv6]:port in one word', ['[fd00::5]:8443'], { host: 'fd00::5', port: 8443 }],
    ['port 1', ['db', '1'], { host: 'db', port: 1 }],
    ['port 65535', ['db', '65535'], { host: 'db', port: 65535 }],
    ['a port with a leading zero', ['db', '080'], { host: 'db', port: 80 }],
  ])('accepts %s', (_label, positional, args) => {
    expect(connCheck.parseArgs(positional, {})).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['nothing', [], {}, /Which host and port\?/],
    ['a host without a port', ['db.prod'], {}, /Which port on `db\.prod`\? e\.g\. `db\.prod 443`/],
    ['a bare IPv6 address without a port', ['fd00::5'], {}, /Which port on `fd00::5`\?/],
    ['three words', ['db', '5432', 'extra'], {}, /a host and a port \(got 3 arguments/],
    ['port 0', ['db', '0'], {}, /`0` is not a port: give a number from 1 to 65535/],
    ['port 65536', ['db', '65536'], {}, /`65536` is not a port/],
    ['a negative port', ['db', '-1'], {}, /`-1` is not a port/],
    ['a service name as port', ['db', 'postgres'], {}, /`postgres` is not a port/],
    ['a port range', ['db', '1-1024'], {}, /`1-1024` is not a port/],
    ['an empty port after a colon', ['db:'], {}, /Which port on `db`\?/],
    ['an option-like host', ['-e', '80'], {}, /starts with `-`/],
    ['an option-like host in host:port', ['-e:80'], {}, /starts with `-`/],
    ['a URL', ['http://db.prod', '80'], {}, /looks like a URL/],
    ['shell metacharacters', ['db$(id)', '80'], {}, /contains `\$`/],
    ['a short numeric address', ['10.1', '80'], {}, /not a valid IPv4 address/],
    ['an option', ['db', '80'], { udp: 'yes' }, /no option `--udp`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = connCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('connCheck.steps', () => {
  test('one nc connect test with a 3 s timeout', () => {
    expect(connCheck.steps({ host: 'db.prod', port: 5432 })).toEqual([{ id: 'nc', argv: ['nc', '-zv', '-w', '3', 'db.prod', '5432'] }]);
    expect(connCheck.steps({ host: 'fd00::5', port: 443 })).toEqual([{ id: 'nc', argv: ['nc', '-zv', '-w', '3', 'fd00::5', '443'] }]);
  });

  test('declares no capabilities', () => {
    expect(connCheck.capabilities).toEqual([]);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      expect(connCheck.steps(argsOf(f))[0]?.argv).toEqual(f.command);
    }
  });
});

describe('connCheck.interpret over recorded nc output', () => {
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    ['open.json', 'open', 'db.prod:5432 accepted the connection (203.0.113.10)', { host: 'db.prod', port: 5432, address: '203.0.113.10', service: 'tcp/postgresql' }],
    [
      'connection-refused.json',
      'connection-refused',
      '203.0.113.10:5433 refused the connection: nothing listens on that port (or the Service has no ready endpoints)',
      { attempts: ['203.0.113.10: Connection refused'] },
    ],
    [
      'timeout.json',
      'timeout',
      '203.0.113.201:5432: no answer within 3 s (packets are dropped on the way, e.g. by a NetworkPolicy, or the host is down)',
      { attempts: ['203.0.113.201: timed out: Operation now in progress'] },
    ],
    [
      'no-route.json',
      'timeout',
      '203.0.113.209:5432 is unreachable: No route to host (the host is gone, or a firewall rejects the connection)',
      { attempts: ['203.0.113.209: No route to host'] },
    ],
    ['dns-failure.json', 'dns-failure', 'Could not resolve db.invalid: Name or service not known (run `dns db.invalid` for the details)', { host: 'db.invalid' }],
    [
      'busybox-minimal-nc.json',
      'timeout',
      "No connect test to 203.0.113.10:5432: the debug image's nc does not support `-z` (nc: invalid option -- 'z'); it needs netcat-openbsd or a full busybox nc",
      { error: "nc: invalid option -- 'z'" },
    ],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(connCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const f = fixture(file);
    const finding = connCheck.interpret(argsOf(f), [stepOf(f)]);
    expect(finding.check).toBe('conn');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toBe(headline);
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toEqual([stepOf(f)]);
  });
});

// busybox's full nc (Alpine's) could not be recorded on this machine; these lines follow its
// source, networking/nc_bloaty.c ("%s (%s) open", bb_perror_msg("%s (%s)"), "bad address '%s'").
describe('busybox nc wording', () => {
  const args: ConnArgs = { host: 'db.prod', port: 5432 };
  const run = (output: string, exitCode: number | null) => connCheck.interpret(args, [{ id: 'nc', argv: [], exitCode, output }]);

  test.each<[string, string, number | null, string, string]>([
    ['open', 'db.prod (203.0.113.10:5432) open\n', 0, 'open', 'db.prod:5432 accepted the connection (203.0.113.10)'],
    [
      'timed out',
      'nc: db.prod (203.0.113.10:5432): Connection timed out\n',
      1,
      'timeout',
      'db.prod:5432 (203.0.113.10): no answer within 3 s (packets are dropped on the way, e.g. by a NetworkPolicy, or the host is down)',
    ],
    [
      'no route',
      'nc: db.prod (203.0.113.10:5432): No route to host\n',
      1,
      'timeout',
      'db.prod:5432 (203.0.113.10) is unreachable: No route to host (the host is gone, or a firewall rejects the connection)',
    ],
    [
      'refused at -vv',
      'nc: db.prod (203.0.113.10:5432): Connection refused\n',
      1,
      'connection-refused',
      'db.prod:5432 (203.0.113.10) refused the connection: nothing listens on that port (or the Service has no ready endpoints)',
    ],
    [
      'refused at -v: nothing printed',
      '',
      1,
      'connection-refused',
      'db.prod:5432 refused the connection (nc exited 1 without a message, which is how busybox nc reports a refusal)',
    ],
    ['bad address', "nc: bad address 'db.prod'\n", 1, 'dns-failure', 'Could not resolve db.prod: bad address (run `dns db.prod` for the details)'],
  ])('%s', (_label, output, exitCode, verdict, headline) => {
    const finding = run(output, exitCode);
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toBe(headline);
  });

  test('an IPv6 address in busybox form', () => {
    expect(parseNcOutput('fd00::5 ([fd00::5]:443) open\n')).toMatchObject({ open: true, openAddress: 'fd00::5' });
  });
});

describe('parseNcOutput', () => {
  test('a name with two addresses: the first refuses, the second accepts', () => {
    const text = 'nc: connect to localhost (::1) port 8080 (tcp) failed: Connection refused\nConnection to localhost (127.0.0.1) 8080 port [tcp/http-alt] succeeded!\n';
    expect(parseNcOutput(text)).toEqual({
      open: true,
      openAddress: '127.0.0.1',
      service: 'tcp/http-alt',
      failures: [{ address: '::1', outcome: 'refused', reason: 'Connection refused' }],
    });
  });

  test('a port without a service name ("tcp/*")', () => {
    expect(parseNcOutput('Connection to 10.0.0.5 31337 port [tcp/*] succeeded!\n')).toEqual({ open: true, openAddress: '10.0.0.5', failures: [] });
  });

  test('musl (Alpine) resolver wording and the older getaddrinfo line', () => {
    expect(parseNcOutput('nc: getaddrinfo for host "db.invalid" port 80: Name does not resolve\n').dnsError).toBe('Name does not resolve');
    expect(parseNcOutput('nc: getaddrinfo: Temporary failure in name resolution\n').dnsError).toBe('Temporary failure in name resolution');
  });

  test('mixed outcomes over two addresses are not called refused', () => {
    const text = 'nc: connect to db (fd00::5) port 80 (tcp) failed: Connection refused\nnc: connect to db (10.0.0.5) port 80 (tcp) timed out: Operation now in progress\n';
    const finding = connCheck.interpret({ host: 'db', port: 80 }, [{ id: 'nc', argv: [], exitCode: 1, output: text }]);
    expect(finding.verdict).toBe('timeout');
    expect(finding.headline).toBe('db:80 (fd00::5, 10.0.0.5): no answer within 3 s (packets are dropped on the way, e.g. by a NetworkPolicy, or the host is down)');
  });
});

describe('connCheck.interpret on anything else', () => {
  const args: ConnArgs = { host: '10.0.0.5', port: 80 };
  const run = (output: string, exitCode: number | null) => connCheck.interpret(args, [{ id: 'nc', argv: ['nc'], exitCode, output }]);

  test('nc missing from the image', () => {
    expect(run('sh: 1: nc: not found\n', 127)).toMatchObject({ verdict: 'timeout', headline: 'No connect result for 10.0.0.5:80: nc exited with code 127: sh: 1: nc: not found' });
  });

  test('a step that never finished', () => {
    expect(run('', null)).toMatchObject({ verdict: 'timeout', headline: '10.0.0.5:80: no connection before the deadline (nc did not finish)' });
  });

  test('an IPv6 target is written with brackets', () => {
    const finding = connCheck.interpret({ host: 'fd00::5', port: 443 }, [
      { id: 'nc', argv: [], exitCode: 1, output: 'nc: connect to fd00::5 port 443 (tcp) failed: Connection refused\n' },
    ]);
    expect(finding.headline).toMatch(/^\[fd00::5\]:443 refused the connection/);
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments', () => {
    const outputs = ['', '\n', 'Connection to ', 'nc: connect to  port  () failed: ', 'nc: getaddrinfo', ' () open', 'nc:  (): ', '\u0000\uffff'.repeat(50), 'x'.repeat(100_000)];
    for (const file of fixtureFiles) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 5) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set(Object.keys(connCheck.verdicts));
    for (const output of outputs) {
      for (const exitCode of [0, 1, 2, null]) {
        const finding = run(output, exitCode);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline.length).toBeGreaterThan(0);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
    const oddArgs = [{} as ConnArgs, undefined as unknown as ConnArgs, { host: 1, port: 'x' } as unknown as ConnArgs];
    const oddResults = [null, [null], [{ id: 'nc' }], [{ id: 'nc', output: 42 }], 'x'] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = connCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});
