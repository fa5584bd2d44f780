import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dnsCheck, parseResolvConf, type DnsArgs } from '../../../src/checks/dns.js';
import type { StepResult } from '../../../src/checks/types.js';

const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/dns/', import.meta.url));

interface Fixture {
  command: string[];
  exitCode: number | null;
  output: string;
  note: string;
}

function fixture(file: string): Fixture {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}${file}`, 'utf8')) as Fixture;
}

const resolvConf = fixture('resolv-conf.json');
const resolvStep: StepResult = { id: 'resolv.conf', argv: resolvConf.command, exitCode: resolvConf.exitCode, output: resolvConf.output };

/** The args a recorded dig command came from: the name follows -q, the server follows @ and -p. */
function argsOf(f: Fixture): DnsArgs {
  const name = f.command[f.command.indexOf('-q') + 1] ?? '';
  const at = f.command.find((a) => a.startsWith('@'));
  const p = f.command.indexOf('-p');
  if (!at) return { names: [name] };
  return { names: [name], server: { host: at.slice(1), ...(p >= 0 ? { port: Number(f.command[p + 1]) } : {}) } };
}

function digStep(f: Fixture, index = 1): StepResult {
  return { id: `dig-${index}`, argv: f.command, exitCode: f.exitCode, output: f.output };
}

function interpretFixture(file: string) {
  const f = fixture(file);
  return dnsCheck.interpret(argsOf(f), [resolvStep, digStep(f)]);
}

/** Query times vary between recordings; `{ms}` in an expected headline matches any of them. */
function headlinePattern(expected: string): RegExp {
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\{ms\\}', '\\d+');
  return new RegExp(`^${escaped}$`);
}

describe('dnsCheck.parseArgs', () => {
  const usage = /Usage: `\/kdebug dns <target> \[name…\] \[--server IP\[:PORT\]\]`/;

  test.each<[string, string[], Record<string, string>, DnsArgs]>([
    ['defaults to the API server name', [], {}, { names: ['kubernetes.default.svc.cluster.local'] }],
    ['a short name', ['payments'], {}, { names: ['payments'] }],
    ['several names, trailing dot, underscore', ['payments.prod', 'db.', '_http._tcp.web'], {}, { names: ['payments.prod', 'db.', '_http._tcp.web'] }],
    ['duplicates collapse, first spelling kept', ['Payments', 'payments', 'payments.'], {}, { names: ['Payments', 'payments.'] }],
    ['63-character label', ['a'.repeat(63) + '.svc'], {}, { names: ['a'.repeat(63) + '.svc'] }],
    [
      '253-character name with a trailing dot',
      [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`],
      {},
      { names: [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`] },
    ],
    ['ten names', Array.from({ length: 10 }, (_, i) => `n${i}`), {}, { names: Array.from({ length: 10 }, (_, i) => `n${i}`) }],
    ['IPv4 server', [], { server: '10.96.0.10' }, { names: ['kubernetes.default.svc.cluster.local'], server: { host: '10.96.0.10' } }],
    ['IPv4 server with port', ['x'], { server: '10.96.0.10:5353' }, { names: ['x'], server: { host: '10.96.0.10', port: 5353 } }],
    ['bare IPv6 server', ['x'], { server: 'fd00::10' }, { names: ['x'], server: { host: 'fd00::10' } }],
    ['bracketed IPv6 server with port', ['x'], { server: '[::1]:53' }, { names: ['x'], server: { host: '::1', port: 53 } }],
    ['bracketed IPv6 server without port', ['x'], { server: '[fd00::10]' }, { names: ['x'], server: { host: 'fd00::10' } }],
    ['a bare IPv6 address is never split at a colon', ['x'], { server: '::1:53' }, { names: ['x'], server: { host: '::1:53' } }],
    ['option key given with dashes', ['x'], { '--server': '10.0.0.1' }, { names: ['x'], server: { host: '10.0.0.1' } }],
  ])('accepts %s', (_label, positional, options, args) => {
    expect(dnsCheck.parseArgs(positional, options)).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['more than ten names', Array.from({ length: 11 }, (_, i) => `n${i}`), {}, /At most 10 names.*got 11/],
    ['an empty name', [''], {}, /empty name/],
    ['the root alone', ['.'], {}, /empty label/],
    ['two dots in a row', ['foo..bar'], {}, /`foo\.\.bar` has an empty label/],
    ['a leading dot', ['.foo'], {}, /empty label/],
    ['a label starting with -', ['-foo.bar'], {}, /starts or ends with `-`/],
    ['a label ending with -', ['foo-.bar'], {}, /starts or ends with `-`/],
    ['a space', ['foo bar'], {}, /contains ` `/],
    ['shell metacharacters', ['foo;rm'], {}, /contains `;`/],
    ['a dig option', ['+short'], {}, /contains `\+`/],
    ['a dig server', ['@10.0.0.1'], {}, /contains `@`/],
    ['a 64-character label', ['a'.repeat(64) + '.svc'], {}, /label longer than 63/],
    ['a 254-character name', [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`], {}, /longer than 253/],
    ['an IPv4 address as the name', ['10.96.0.10'], {}, /is an IP address.*--server 10\.96\.0\.10/],
    ['an IPv6 address as the name', ['fd00::10'], {}, /is an IP address/],
    ['a URL', ['http://payments.prod'], {}, /looks like a URL/],
    ['an empty server', ['x'], { server: '' }, /needs an IP address/],
    ['a host name as server', ['x'], { server: 'kube-dns.kube-system' }, /not an IP address.*host names are not accepted/],
    ['an out-of-range IPv4 server', ['x'], { server: '256.1.1.1' }, /not an IP address/],
    ['port 0', ['x'], { server: '10.0.0.1:0' }, /port must be a number from 1 to 65535/],
    ['port 65536', ['x'], { server: '10.0.0.1:65536' }, /port must be a number from 1 to 65535/],
    ['a non-numeric port', ['x'], { server: '10.0.0.1:dns' }, /port must be a number/],
    ['an empty port', ['x'], { server: '[::1]:' }, /port must be a number/],
    ['IPv4 in brackets', ['x'], { server: '[10.0.0.1]:53' }, /not an IPv6 address/],
    ['an unclosed bracket', ['x'], { server: '[::1:53' }, /not an IP address/],
    ['an IPv6 zone id', ['x'], { server: 'fe80::1%eth0' }, /zone ids/],
    ['an unknown option', ['x'], { type: 'AAAA' }, /no option `--type`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = dnsCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('dnsCheck.steps', () => {
  test.each<[string, DnsArgs, string[][]]>([
    [
      'default name',
      { names: ['kubernetes.default.svc.cluster.local'] },
      [['dig', '-r', '+search', '+time=2', '+tries=1', '-t', 'A', '-q', 'kubernetes.default.svc.cluster.local']],
    ],
    [
      'several names and an IPv4 server with port',
      { names: ['payments', 'ns'], server: { host: '10.96.0.10', port: 5353 } },
      [
        ['dig', '-r', '+search', '+time=2', '+tries=1', '@10.96.0.10', '-p', '5353', '-t', 'A', '-q', 'payments'],
        ['dig', '-r', '+search', '+time=2', '+tries=1', '@10.96.0.10', '-p', '5353', '-t', 'A', '-q', 'ns'],
      ],
    ],
    ['IPv6 server without port', { names: ['db.'], server: { host: 'fd00::10' } }, [['dig', '-r', '+search', '+time=2', '+tries=1', '@fd00::10', '-t', 'A', '-q', 'db.']]],
  ])('%s', (_label, args, digs) => {
    expect(dnsCheck.steps(args)).toEqual([{ id: 'resolv.conf', argv: ['cat', '/etc/resolv.conf'] }, ...digs.map((argv, i) => ({ id: `dig-${i + 1}`, argv }))]);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json') && f !== 'resolv-conf.json')) {
      const f = fixture(file);
      expect(dnsCheck.steps(argsOf(f))[1]?.argv).toEqual(f.command);
    }
  });
});

describe('dnsCheck.interpret over recorded dig output', () => {
  const pod = { nameservers: ['127.53.0.10'], searchPath: ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 };

  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok-a.json',
      'ok',
      'payments.prod.svc.cluster.local → 10.96.3.7 via 127.53.0.10 ({ms} ms)',
      { status: 'NOERROR', queried: 'payments.prod.svc.cluster.local', answers: ['payments.prod.svc.cluster.local 30 A 10.96.3.7'], server: '127.53.0.10 (UDP)' },
    ],
    [
      'ok-cname-chain.json',
      'ok',
      'api.prod.svc.cluster.local → api-v2.prod.svc.cluster.local → api-v2-blue.prod.svc.cluster.local → 10.96.5.20 via 127.53.0.10 ({ms} ms)',
      {
        status: 'NOERROR',
        queried: 'api.prod.svc.cluster.local',
        answers: [
          'api.prod.svc.cluster.local 30 CNAME api-v2.prod.svc.cluster.local.',
          'api-v2.prod.svc.cluster.local 30 CNAME api-v2-blue.prod.svc.cluster.local.',
          'api-v2-blue.prod.svc.cluster.local 30 A 10.96.5.20',
        ],
      },
    ],
    [
      'ok-multiple-a.json',
      'ok',
      'redis-headless.prod.svc.cluster.local → 10.244.1.5, 10.244.2.7, 10.244.3.9 via 127.53.0.10 ({ms} ms)',
      {
        answers: [
          'redis-headless.prod.svc.cluster.local 30 A 10.244.1.5',
          'redis-headless.prod.svc.cluster.local 30 A 10.244.2.7',
          'redis-headless.prod.svc.cluster.local 30 A 10.244.3.9',
        ],
      },
    ],
    ['ok-tcp-fallback.json', 'ok', 'workers.prod.svc.cluster.local → 10.244.1.1, 10.244.1.2, 10.244.1.3 and 97 more via 127.53.0.10 ({ms} ms)', { server: '127.53.0.10 (TCP)' }],
    ['ok-server-option.json', 'ok', 'payments.prod.svc.cluster.local → 10.96.3.7 via 127.53.0.10 ({ms} ms)', { status: 'NOERROR' }],
    ['ok-after-dead-nameserver.json', 'ok', 'payments.prod.svc.cluster.local → 10.96.3.7 via 127.53.0.10 ({ms} ms)', { serverErrors: ['127.53.0.11#53: connection refused'] }],
    [
      'nxdomain.json',
      'nxdomain',
      'NXDOMAIN for payments.staging.svc.cluster.local via 127.53.0.10',
      { status: 'NXDOMAIN', queried: 'payments.staging.svc.cluster.local', server: '127.53.0.10 (UDP)' },
    ],
    ['servfail.json', 'servfail', 'SERVFAIL for orders.prod.svc.cluster.local via 127.53.0.10', { status: 'SERVFAIL' }],
    ['refused.json', 'refused', 'REFUSED for example.com by 127.53.0.10', { status: 'REFUSED', queried: 'example.com' }],
    [
      'timeout.json',
      'timeout',
      'No DNS server answered for kubernetes.default.svc.cluster.local (tried 127.53.0.10, timed out after 2 s)',
      { status: 'timeout', serverErrors: ['127.53.0.10#53: timed out'] },
    ],
    [
      'timeout-connection-refused.json',
      'timeout',
      'No DNS server answered for kubernetes.default.svc.cluster.local (tried 127.53.0.11, connection refused)',
      { status: 'timeout' },
    ],
    [
      'no-answer.json',
      'no-answer',
      'ipv6-only.prod.svc.cluster.local exists but has no A record via 127.53.0.10',
      { status: 'NOERROR', queried: 'ipv6-only.prod.svc.cluster.local' },
    ],
    [
      'no-answer-cname-only.json',
      'no-answer',
      'legacy.prod.svc.cluster.local → legacy.example.com, but no address came back via 127.53.0.10',
      { answers: ['legacy.prod.svc.cluster.local 30 CNAME legacy.example.com.'] },
    ],
  ];

  test('the table covers every fixture file', () => {
    const files = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json') && f !== 'resolv-conf.json');
    expect(table.map(([file]) => file).sort()).toEqual(files.sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(dnsCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const finding = interpretFixture(file);
    expect(finding.check).toBe('dns');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headlinePattern(headline));
    expect(finding.facts).toMatchObject({ ...pod, ...facts });
    expect(finding.steps).toHaveLength(2);
    if (verdict !== 'timeout') expect(typeof finding.facts.queryTimeMs).toBe('number');
  });

  test('resolv.conf sample', () => {
    expect(parseResolvConf(resolvConf.output)).toEqual({ nameservers: ['127.53.0.10'], search: pod.searchPath, ndots: 5 });
  });

  describe('several names', () => {
    function interpretMany(files: string[]) {
      const fs = files.map(fixture);
      const args: DnsArgs = { names: fs.map((f) => argsOf(f).names[0] ?? '') };
      return dnsCheck.interpret(args, [resolvStep, ...fs.map((f, i) => digStep(f, i + 1))]);
    }

    test('all resolved', () => {
      const finding = interpretMany(['ok-a.json', 'ok-multiple-a.json']);
      expect(finding.verdict).toBe('ok');
      expect(finding.headline).toMatch(/^All 2 names resolved via 127\.53\.0\.10 \(slowest \d+ ms\)$/);
      expect(finding.facts.names).toEqual([
        expect.stringMatching(/^payments\.prod\.svc\.cluster\.local: NOERROR → 10\.96\.3\.7 \(\d+ ms\)$/),
        expect.stringMatching(/^redis-headless\.prod\.svc\.cluster\.local: NOERROR → 10\.244\.1\.5, 10\.244\.2\.7, 10\.244\.3\.9 \(\d+ ms\)$/),
      ]);
      expect(finding.facts.answers).toHaveLength(4);
      expect(finding.facts.status).toBeUndefined();
    });

    test('the worst verdict wins and the headline says how many resolved', () => {
      const finding = interpretMany(['ok-a.json', 'nxdomain.json', 'timeout.json']);
      expect(finding.verdict).toBe('timeout');
      expect(finding.headline).toBe('No DNS server answered for kubernetes.default.svc.cluster.local (tried 127.53.0.10, timed out after 2 s) — 1 of 3 names resolved');
      expect(finding.facts.names).toEqual([
        expect.stringMatching(/^payments\.prod\.svc\.cluster\.local: NOERROR → 10\.96\.3\.7/),
        'payments.staging.svc.cluster.local: NXDOMAIN',
        'kubernetes.default.svc.cluster.local: timeout',
      ]);
    });

    // One fixture per verdict, combined: dropping the worst each time must reveal the next one.
    // The order is the documented one (help text), written here, not read from the implementation.
    const worstFirst = ['timeout', 'servfail', 'refused', 'nxdomain', 'no-answer', 'ok'];
    test.each(worstFirst.map((v, i) => [v, worstFirst.slice(i)] as const))('order: %s beats the rest', (expected, remaining) => {
      const byVerdict: Record<string, string> = {
        timeout: 'timeout.json',
        servfail: 'servfail.json',
        refused: 'refused.json',
        nxdomain: 'nxdomain.json',
        'no-answer': 'no-answer.json',
        ok: 'ok-a.json',
      };
      const files = [...remaining].reverse().map((v) => byVerdict[v] ?? '');
      expect(interpretMany(files).verdict).toBe(expected);
    });
  });
});

describe('dnsCheck.interpret on anything else', () => {
  const args: DnsArgs = { names: ['payments.prod.svc.cluster.local'] };
  const run = (output: string, exitCode: number | null = 0) => dnsCheck.interpret(args, [resolvStep, { id: 'dig-1', argv: ['dig'], exitCode, output }]);

  test('dig 9.16 and older: "connection timed out"', () => {
    const finding = run(';; connection timed out; no servers could be reached\n', 9);
    expect(finding.verdict).toBe('timeout');
    expect(finding.headline).toBe('No DNS server answered for payments.prod.svc.cluster.local (tried 127.53.0.10, timed out after 2 s)');
  });

  test('a step that never finished', () => {
    const finding = run('', null);
    expect(finding.verdict).toBe('timeout');
    expect(finding.headline).toBe('No DNS answer for payments.prod.svc.cluster.local: dig did not finish in time');
  });

  test('dig missing from the image', () => {
    const finding = run('sh: dig: not found\n', 127);
    expect(finding).toMatchObject({ verdict: 'timeout', facts: { status: 'no response' } });
    expect(finding.headline).toBe('No DNS answer for payments.prod.svc.cluster.local: dig exited with code 127: sh: dig: not found');
  });

  test('output cut off after the header', () => {
    const cut = fixture('ok-a.json').output.split(';; ANSWER SECTION:')[0] ?? '';
    const finding = run(cut, null);
    expect(finding.verdict).toBe('no-answer');
    expect(finding.headline).toBe("payments.prod.svc.cluster.local exists but has no A record (dig's output was cut off)");
  });

  test('no dig step and no resolv.conf step at all', () => {
    const finding = dnsCheck.interpret(args, []);
    expect(finding.verdict).toBe('timeout');
    expect(finding.facts.nameservers).toBeUndefined();
  });

  test('unreadable resolv.conf', () => {
    const finding = dnsCheck.interpret(args, [{ id: 'resolv.conf', argv: [], exitCode: 1, output: 'cat: /etc/resolv.conf: No such file or directory\n' }]);
    expect(finding.facts.resolvConf).toBe('unreadable: cat: /etc/resolv.conf: No such file or directory');
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments', () => {
    const outputs = ['', '\n\n', '->>HEADER<<-', ';; ANSWER SECTION:\nx 1 IN A', '\u0000\uffff'.repeat(50), 'x'.repeat(100_000), ';; SERVER: #(', ';; communications error to : '];
    for (const file of readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json'))) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 17) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set(Object.keys(dnsCheck.verdicts));
    for (const output of outputs) {
      for (const exitCode of [0, 9, null]) {
        for (const step of [
          { id: 'dig-1', argv: [], exitCode, output },
          { id: 'resolv.conf', argv: [], exitCode, output },
        ]) {
          const finding = dnsCheck.interpret(args, [step]);
          expect(vocabulary.has(finding.verdict)).toBe(true);
          expect(finding.headline.length).toBeGreaterThan(0);
          // Handled by the parser itself, not by interpret()'s last-resort catch.
          expect(finding.headline).not.toMatch(/^Could not interpret/);
        }
      }
    }
    const oddArgs = [{ names: [] }, {} as DnsArgs, undefined as unknown as DnsArgs];
    const oddResults = [null, [null], [{ id: 'dig-1' }], [{ id: 'dig-1', output: 42 }]] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = dnsCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});

describe('parseResolvConf', () => {
  test('comments, domain, the last search line wins, ndots capped at 15', () => {
    const text = '# generated\nnameserver 10.96.0.10 ; cluster DNS\nnameserver fd00::a\ndomain corp.example\nsearch a.svc b.svc\noptions timeout:1 ndots:99 attempts:2\n';
    expect(parseResolvConf(text)).toEqual({ nameservers: ['10.96.0.10', 'fd00::a'], search: ['a.svc', 'b.svc'], ndots: 15 });
  });

  test('defaults', () => {
    expect(parseResolvConf('')).toEqual({ nameservers: [], search: [], ndots: 1 });
  });
});
