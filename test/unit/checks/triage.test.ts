import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connCheck } from '../../../src/checks/conn.js';
import { dnsCheck, type DnsArgs } from '../../../src/checks/dns.js';
import { httpCheck, type HttpArgs } from '../../../src/checks/http.js';
import { checks } from '../../../src/checks/index.js';
import { pingCheck } from '../../../src/checks/ping.js';
import { tlsCheck, type TlsArgs } from '../../../src/checks/tls.js';
import { TRIAGE_PART_CHECKS, triageCheck, triageSeverity, type TriageArgs, type TriagePart, type TriagePartName } from '../../../src/checks/triage.js';
import type { CheckContext, Finding, StepResult } from '../../../src/checks/types.js';

// ---------------------------------------------------------------------------------------------
// Recorded fixtures of the parts, turned into triage parts and prefixed step results

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

interface Fixture {
  command: string[];
  exitCode: number | null;
  output: string;
  args?: unknown;
  settings?: CheckContext['settings'];
  now?: string;
}

function fixture(part: TriagePartName, file: string): Fixture {
  return JSON.parse(readFileSync(`${FIXTURES}${part}/${file}.json`, 'utf8')) as Fixture;
}

function fixtureNames(part: TriagePartName): string[] {
  return readdirSync(`${FIXTURES}${part}/`)
    .filter((f) => f.endsWith('.json') && f !== 'resolv-conf.json')
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

const resolvConf = fixture('dns', 'resolv-conf');

/** One part as recorded: its args, and its results under the ids the part itself uses. */
interface Recorded {
  part: TriagePart;
  results: StepResult[];
  context?: CheckContext;
}

function recorded(check: TriagePartName, file: string): Recorded {
  const f = fixture(check, file);
  const step = (id: string): StepResult => ({ id, argv: f.command, exitCode: f.exitCode, output: f.output });
  switch (check) {
    case 'dns': {
      const name = f.command[f.command.indexOf('-q') + 1] ?? '';
      const at = f.command.find((a) => a.startsWith('@'));
      const p = f.command.indexOf('-p');
      const args: DnsArgs = { names: [name], ...(at ? { server: { host: at.slice(1), ...(p >= 0 ? { port: Number(f.command[p + 1]) } : {}) } } : {}) };
      const resolv: StepResult = { id: 'resolv.conf', argv: resolvConf.command, exitCode: resolvConf.exitCode, output: resolvConf.output };
      return { part: { check, args }, results: [resolv, step('dig-1')] };
    }
    case 'ping':
      return { part: { check, args: { host: f.command.at(-1) ?? '' } }, results: [step('ping')] };
    case 'conn':
      return { part: { check, args: { host: f.command.at(-2) ?? '', port: Number(f.command.at(-1)) } }, results: [step('nc')] };
    case 'tls':
    case 'http': {
      const context: CheckContext = { settings: f.settings ?? {}, now: new Date(f.now ?? 0) };
      const part = check === 'tls' ? { check, args: f.args as TlsArgs } : { check, args: f.args as HttpArgs };
      return { part, results: [step(check === 'tls' ? 'openssl' : 'curl')], context };
    }
  }
}

const ORDER: TriagePartName[] = ['dns', 'ping', 'conn', 'tls', 'http'];

/** Triage args and prefixed results assembled from one fixture per part (in layer order). */
function assemble(choice: Partial<Record<TriagePartName, string>>, extra: Partial<TriageArgs> = {}) {
  const parts = ORDER.filter((c) => choice[c] !== undefined).map((c) => recorded(c, choice[c]!));
  const args: TriageArgs = { parts: parts.map((p) => p.part), skipped: [], dnsOnly: false, ...extra };
  const results = parts.flatMap((p) => p.results.map((r) => ({ ...r, id: `${p.part.check}.${r.id}` })));
  // Certificate dates are judged against the tls (else http) recording's time.
  const context = parts.find((p) => p.part.check === 'tls')?.context ?? parts.find((p) => p.context)?.context ?? { settings: {}, now: new Date() };
  return { args, results, context, parts };
}

/** What the part says when run alone: the oracle for its row. */
function alone(r: Recorded, context: CheckContext): Finding {
  const def = TRIAGE_PART_CHECKS[r.part.check] as { interpret(a: unknown, s: StepResult[], c?: CheckContext): Finding };
  return def.interpret(r.part.args, r.results, context);
}

const ALL_OK_HTTPS = { dns: 'ok-a', ping: 'ok', conn: 'open', tls: 'ok', http: 'ok-https' } as const;

// ---------------------------------------------------------------------------------------------

const usage = /Usage: `\/kdebug triage <target> \[host\|host:port\|url\] \[--server IP\[:PORT\]\] \[--cacert FILE\]`$/;

describe('triageCheck.parseArgs', () => {
  test.each<[string, string[], Record<string, string>, TriageArgs]>([
    ['nothing: dns of the default name only', [], {}, { parts: [{ check: 'dns', args: { names: ['kubernetes.default.svc.cluster.local'] } }], skipped: [], dnsOnly: true }],
    [
      'nothing, with --server',
      [],
      { server: '10.96.0.10:5353' },
      { parts: [{ check: 'dns', args: { names: ['kubernetes.default.svc.cluster.local'], server: { host: '10.96.0.10', port: 5353 } } }], skipped: [], dnsOnly: true },
    ],
    [
      'a host: conn to 443',
      ['db.prod'],
      {},
      {
        parts: [
          { check: 'dns', args: { names: ['db.prod'] } },
          { check: 'ping', args: { host: 'db.prod' } },
          { check: 'conn', args: { host: 'db.prod', port: 443 } },
        ],
        skipped: [],
        dnsOnly: false,
      },
    ],
    [
      'host:port, with --server for the dns part',
      ['redis.cache:6379'],
      { server: '10.96.0.10' },
      {
        parts: [
          { check: 'dns', args: { names: ['redis.cache'], server: { host: '10.96.0.10' } } },
          { check: 'ping', args: { host: 'redis.cache' } },
          { check: 'conn', args: { host: 'redis.cache', port: 6379 } },
        ],
        skipped: [],
        dnsOnly: false,
      },
    ],
    [
      'an IPv4 address: dns skipped',
      ['10.0.0.5'],
      {},
      {
        parts: [
          { check: 'ping', args: { host: '10.0.0.5' } },
          { check: 'conn', args: { host: '10.0.0.5', port: 443 } },
        ],
        skipped: [{ check: 'dns', reason: '10.0.0.5 is an IP address: nothing to look up' }],
        dnsOnly: false,
      },
    ],
    [
      'a bare IPv6 address (never split at a colon)',
      ['fd00::5'],
      {},
      {
        parts: [
          { check: 'ping', args: { host: 'fd00::5' } },
          { check: 'conn', args: { host: 'fd00::5', port: 443 } },
        ],
        skipped: [{ check: 'dns', reason: 'fd00::5 is an IP address: nothing to look up' }],
        dnsOnly: false,
      },
    ],
    [
      '[IPv6]:port',
      ['[fd00::5]:8443'],
      {},
      {
        parts: [
          { check: 'ping', args: { host: 'fd00::5' } },
          { check: 'conn', args: { host: 'fd00::5', port: 8443 } },
        ],
        skipped: [{ check: 'dns', reason: 'fd00::5 is an IP address: nothing to look up' }],
        dnsOnly: false,
      },
    ],
    [
      'an http URL: conn to 80, and http',
      ['http://web.prod.svc.cluster.local/healthz'],
      {},
      {
        parts: [
          { check: 'dns', args: { names: ['web.prod.svc.cluster.local'] } },
          { check: 'ping', args: { host: 'web.prod.svc.cluster.local' } },
          { check: 'conn', args: { host: 'web.prod.svc.cluster.local', port: 80 } },
          { check: 'http', args: { url: 'http://web.prod.svc.cluster.local/healthz' } },
        ],
        skipped: [],
        dnsOnly: false,
      },
    ],
    [
      'an https URL with a port: tls too, and --cacert goes to tls and http',
      ['https://API.prod:8443/v1?x=1#frag'],
      { cacert: '/tmp/ca.pem' },
      {
        parts: [
          { check: 'dns', args: { names: ['api.prod'] } },
          { check: 'ping', args: { host: 'api.prod' } },
          { check: 'conn', args: { host: 'api.prod', port: 8443 } },
          { check: 'tls', args: { host: 'api.prod', port: 8443, cacert: '/tmp/ca.pem' } },
          { check: 'http', args: { url: 'https://api.prod:8443/v1?x=1', cacert: '/tmp/ca.pem' } },
        ],
        skipped: [],
        dnsOnly: false,
      },
    ],
    [
      'an https URL to an IPv6 address',
      ['https://[fd00::5]/'],
      {},
      {
        parts: [
          { check: 'ping', args: { host: 'fd00::5' } },
          { check: 'conn', args: { host: 'fd00::5', port: 443 } },
          { check: 'tls', args: { host: 'fd00::5', port: 443 } },
          { check: 'http', args: { url: 'https://[fd00::5]/' } },
        ],
        skipped: [{ check: 'dns', reason: 'fd00::5 is an IP address: nothing to look up' }],
        dnsOnly: false,
      },
    ],
    [
      'an http URL to 127.0.0.1 with a port',
      ['http://127.0.0.1:8080/'],
      {},
      {
        parts: [
          { check: 'ping', args: { host: '127.0.0.1' } },
          { check: 'conn', args: { host: '127.0.0.1', port: 8080 } },
          { check: 'http', args: { url: 'http://127.0.0.1:8080/' } },
        ],
        skipped: [{ check: 'dns', reason: '127.0.0.1 is an IP address: nothing to look up' }],
        dnsOnly: false,
      },
    ],
    [
      'options written with dashes',
      ['db.prod'],
      { '--server': '10.96.0.10' },
      {
        parts: [
          { check: 'dns', args: { names: ['db.prod'], server: { host: '10.96.0.10' } } },
          { check: 'ping', args: { host: 'db.prod' } },
          { check: 'conn', args: { host: 'db.prod', port: 443 } },
        ],
        skipped: [],
        dnsOnly: false,
      },
    ],
  ])('accepts %s', (_label, positional, options, args) => {
    expect(triageCheck.parseArgs(positional, options)).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['two words', ['db.prod', '5432'], {}, /one host, host:port or URL \(got 2: `db\.prod`, `5432`\)/],
    ['an unknown option', ['db.prod'], { udp: 'yes' }, /no option `--udp`/],
    ['a scheme other than http(s)', ['ftp://files.prod/'], {}, /triage takes http:\/\/ and https:\/\/ URLs/],
    ['a URL with credentials', ['https://user:secret@api.prod/'], {}, /contains credentials/],
    ['a URL with a bad port', ['http://web.prod:99999/'], {}, /port must be a number from 1 to 65535/],
    ['an empty port after a colon', ['db.prod:'], {}, /`db\.prod:` has no port after the colon: give e\.g\. `db\.prod:8080`, or just `db\.prod` for port 443/],
    ['a port that is not a number', ['db.prod:postgres'], {}, /`postgres` is not a port/],
    ['port 0', ['db.prod:0'], {}, /`0` is not a port/],
    ['an option-like host', ['-e'], {}, /starts with `-`/],
    ['shell metacharacters', ['db$(id)'], {}, /contains `\$`/],
    ['a short numeric address', ['10.1'], {}, /not a valid IPv4 address/],
    ['a path without a scheme', ['web.prod/healthz'], {}, /looks like a URL/],
    ['a zone id', ['fe80::1%eth0'], {}, /zone ids/],
    ['--server for an IP address', ['10.0.0.5'], { server: '10.96.0.10' }, /`--server` is for the DNS lookup, and `10\.0\.0\.5` is an IP address/],
    ['a bad --server', ['db.prod'], { server: 'dns.example' }, /is not an IP address \(host names are not accepted/],
    ['--cacert without a URL', ['db.prod'], { cacert: '/tmp/ca.pem' }, /`--cacert` is for an https:\/\/ URL/],
    ['--cacert without anything', [], { cacert: '/tmp/ca.pem' }, /`--cacert` is for an https:\/\/ URL/],
    ['a bad --cacert', ['https://api.prod/'], { cacert: '-k' }, /must not start with `-`/],
  ])('rejects %s, with triage usage only', (_label, positional, options, message) => {
    const result = triageCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
      // The part's own usage line is replaced, not repeated.
      expect(result.message.match(/Usage:/g)).toHaveLength(1);
    }
  });

  test('never throws on odd input', () => {
    for (const positional of [[''], ['  '], ['\u0000'], ['http://'], ['https://[::1'], ['[]:80'], [':80'], ['a'.repeat(5000)], [null as never], [undefined as never]]) {
      expect(() => triageCheck.parseArgs(positional, {})).not.toThrow();
    }
    expect(() => triageCheck.parseArgs(undefined as never, undefined as never)).not.toThrow();
    expect(triageCheck.parseArgs(undefined as never, undefined as never).ok).toBe(true);
  });
});

describe('triageCheck.steps', () => {
  const curlArgv = (url: string, seconds: string) => [
    'curl',
    '-q',
    '--verbose',
    '--silent',
    '--show-error',
    '--globoff',
    '--proto',
    '=http,https',
    '--max-time',
    seconds,
    '--output',
    '/dev/null',
    '--write-out',
    '\\n--- curl --write-out ---\\nexitcode=%{exitcode}\\nerrormsg=%{errormsg}\\nresponse_code=%{response_code}\\nhttp_version=%{http_version}\\nremote_ip=%{remote_ip}\\nremote_port=%{remote_port}\\ntime_namelookup=%{time_namelookup}\\ntime_connect=%{time_connect}\\ntime_appconnect=%{time_appconnect}\\ntime_pretransfer=%{time_pretransfer}\\ntime_starttransfer=%{time_starttransfer}\\ntime_total=%{time_total}\\n',
    '--',
    url,
  ];

  function stepsOf(positional: string[], options: Record<string, string> = {}, context?: CheckContext) {
    const parsed = triageCheck.parseArgs(positional, options);
    if (!parsed.ok) throw new Error(parsed.message);
    return triageCheck.steps(parsed.args, context);
  }

  test('nothing: resolv.conf and one dig of the default name', () => {
    expect(stepsOf([])).toEqual([
      { id: 'dns.resolv.conf', argv: ['cat', '/etc/resolv.conf'] },
      { id: 'dns.dig-1', argv: ['dig', '-r', '+search', '+time=2', '+tries=1', '-t', 'A', '-q', 'kubernetes.default.svc.cluster.local'] },
    ]);
  });

  test('a host: dns, ping, conn to 443', () => {
    expect(stepsOf(['db.prod'], { server: '10.96.0.10' })).toEqual([
      { id: 'dns.resolv.conf', argv: ['cat', '/etc/resolv.conf'] },
      { id: 'dns.dig-1', argv: ['dig', '-r', '+search', '+time=2', '+tries=1', '@10.96.0.10', '-t', 'A', '-q', 'db.prod'] },
      { id: 'ping.ping', argv: ['ping', '-n', '-c', '4', '-W', '2', 'db.prod'] },
      { id: 'conn.nc', argv: ['nc', '-zv', '-w', '3', 'db.prod', '443'] },
    ]);
  });

  test('an IP address with a port: no dns steps', () => {
    expect(stepsOf(['10.0.0.5:5432'])).toEqual([
      { id: 'ping.ping', argv: ['ping', '-n', '-c', '4', '-W', '2', '10.0.0.5'] },
      { id: 'conn.nc', argv: ['nc', '-zv', '-w', '3', '10.0.0.5', '5432'] },
    ]);
  });

  test('an https URL: every part, settings from the context', () => {
    const context: CheckContext = { settings: { ping: { count: 2 }, http: { maxSeconds: 5 }, tls: { maxSeconds: 5 } }, now: new Date() };
    expect(stepsOf(['https://api.prod:8443/healthz'], { cacert: '/tmp/ca.pem' }, context)).toEqual([
      { id: 'dns.resolv.conf', argv: ['cat', '/etc/resolv.conf'] },
      { id: 'dns.dig-1', argv: ['dig', '-r', '+search', '+time=2', '+tries=1', '-t', 'A', '-q', 'api.prod'] },
      { id: 'ping.ping', argv: ['ping', '-n', '-c', '2', '-W', '2', 'api.prod'] },
      { id: 'conn.nc', argv: ['nc', '-zv', '-w', '3', 'api.prod', '8443'] },
      {
        id: 'tls.openssl',
        argv: [
          'timeout',
          '5',
          'openssl',
          's_client',
          '-connect',
          'api.prod:8443',
          '-servername',
          'api.prod',
          '-verify_hostname',
          'api.prod',
          '-showcerts',
          '-state',
          '-CAfile',
          '/tmp/ca.pem',
        ],
      },
      { id: 'http.curl', argv: [...curlArgv('https://api.prod:8443/healthz', '5').slice(0, -2), '--cacert', '/tmp/ca.pem', '--', 'https://api.prod:8443/healthz'] },
    ]);
  });

  test('an http URL: no tls part, conn to 80', () => {
    expect(stepsOf(['http://web.prod/'])).toEqual([
      { id: 'dns.resolv.conf', argv: ['cat', '/etc/resolv.conf'] },
      { id: 'dns.dig-1', argv: ['dig', '-r', '+search', '+time=2', '+tries=1', '-t', 'A', '-q', 'web.prod'] },
      { id: 'ping.ping', argv: ['ping', '-n', '-c', '4', '-W', '2', 'web.prod'] },
      { id: 'conn.nc', argv: ['nc', '-zv', '-w', '3', 'web.prod', '80'] },
      { id: 'http.curl', argv: curlArgv('http://web.prod/', '10') },
    ]);
  });

  test("the concatenation of the parts' own steps, with unique valid ids", () => {
    const parsed = triageCheck.parseArgs(['https://api.prod/'], {});
    if (!parsed.ok) throw new Error(parsed.message);
    const expected = parsed.args.parts.flatMap((p) =>
      (TRIAGE_PART_CHECKS[p.check] as { steps(a: unknown): { id: string; argv: string[] }[] }).steps(p.args).map((s) => ({ ...s, id: `${p.check}.${s.id}` })),
    );
    const steps = triageCheck.steps(parsed.args);
    expect(steps).toEqual(expected);
    expect(new Set(steps.map((s) => s.id)).size).toBe(steps.length);
    for (const s of steps) expect(s.id).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  });
});

describe('triageCheck definition', () => {
  test('is registered', () => {
    expect(checks.get('triage')).toBe(triageCheck);
  });

  test("capabilities are the union of the parts' (none today)", () => {
    const union = [...new Set([dnsCheck, pingCheck, connCheck, tlsCheck, httpCheck].flatMap((c) => [...c.capabilities]))].sort();
    expect([...triageCheck.capabilities]).toEqual(union);
    expect(triageCheck.capabilities).toEqual([]);
  });

  test("the vocabulary is every part's vocabulary, worst first in the documented order", () => {
    const union = new Set([dnsCheck, pingCheck, connCheck, tlsCheck, httpCheck].flatMap((c) => Object.keys(c.verdicts)));
    expect(new Set(Object.keys(triageCheck.verdicts))).toEqual(union);
    // The order the help text promises, written out here rather than read from the code.
    expect(Object.keys(triageCheck.verdicts)).toEqual([
      'timeout',
      'servfail',
      'refused',
      'nxdomain',
      'dns-failure',
      'connection-refused',
      'handshake-failed',
      'expired',
      'not-yet-valid',
      'hostname-mismatch',
      'self-signed',
      'untrusted-issuer',
      'tls-error',
      'http-error',
      'unreachable',
      'permission-denied',
      'no-answer',
      'packet-loss',
      'expiring-soon',
      'ok',
      'open',
    ]);
  });

  test('errors outrank warnings, warnings outrank ok; unknown words are the mildest error', () => {
    const errors = ['timeout', 'nxdomain', 'dns-failure', 'connection-refused', 'expired', 'tls-error', 'http-error', 'unreachable', 'permission-denied'];
    const warnings = ['no-answer', 'packet-loss', 'expiring-soon'];
    for (const e of errors) for (const w of warnings) expect(triageSeverity(e)).toBeGreaterThan(triageSeverity(w));
    for (const w of warnings) for (const g of ['ok', 'open']) expect(triageSeverity(w)).toBeGreaterThan(triageSeverity(g));
    expect(triageSeverity('something-new')).toBeLessThan(triageSeverity('permission-denied'));
    expect(triageSeverity('something-new')).toBeGreaterThan(triageSeverity('no-answer'));
    // Root cause first: a name problem explains a port problem, which explains TLS and HTTP problems.
    expect(triageSeverity('nxdomain')).toBeGreaterThan(triageSeverity('dns-failure'));
    expect(triageSeverity('dns-failure')).toBeGreaterThan(triageSeverity('connection-refused'));
    expect(triageSeverity('connection-refused')).toBeGreaterThan(triageSeverity('expired'));
    expect(triageSeverity('expired')).toBeGreaterThan(triageSeverity('tls-error'));
    expect(triageSeverity('tls-error')).toBeGreaterThan(triageSeverity('http-error'));
    expect(triageSeverity('http-error')).toBeGreaterThan(triageSeverity('unreachable'));
  });

  test('help documents the combination rule and the scale', () => {
    expect(triageCheck.help).toContain('• `host`: `dns host`, `ping host`, `conn host 443`');
    expect(triageCheck.help).toContain('`https://host[:port]/path`: `dns host`, `ping host`, `conn host port` (443 unless given), `tls host:port`, `http URL`');
    for (const verdict of Object.keys(triageCheck.verdicts)) expect(triageCheck.help).toContain(`\`${verdict}\``);
    expect(triageCheck.options.find((o) => o.name === 'cacert')?.localOnly).toBe(true);
    expect(triageCheck.options.find((o) => o.name === 'server')?.localOnly).toBeFalsy();
  });
});

describe('triageCheck.interpret on recorded fixtures', () => {
  test('all ok (https): every part in the table, the http headline sums up', () => {
    const { args, results, context } = assemble(ALL_OK_HTTPS);
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.check).toBe('triage');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(/^all 5 checks ok: https:\/\/valid\.tls\.test\/healthz answered 200 OK in [\d.]+ m?s$/);
    expect(Object.keys(finding.facts).slice(0, 5)).toEqual(['dns', 'ping', 'conn', 'tls', 'http']);
    expect(finding.facts.dns).toMatch(/^ok — payments\.prod\.svc\.cluster\.local → 10\.96\.3\.7 via 127\.53\.0\.10 \(\d+ ms\)$/);
    expect(finding.facts.ping).toMatch(/^ok — db\.prod \(203\.0\.113\.10\): 4\/4 replies, avg [\d.]+ ms$/);
    expect(finding.facts.conn).toBe('open — db.prod:5432 accepted the connection (203.0.113.10)');
    expect(finding.facts.tls).toMatch(/^ok — certificate for valid\.tls\.test is valid for another \d+ days/);
    expect(finding.facts.http).toMatch(/^ok — https:\/\/valid\.tls\.test\/healthz answered 200 OK/);
    // Key facts of the parts, prefixed.
    expect(finding.facts['dns.answers']).toEqual(['payments.prod.svc.cluster.local 30 A 10.96.3.7']);
    expect(finding.facts['conn.address']).toBe('203.0.113.10');
    expect(finding.facts['http.status']).toBe('200 OK');
    expect(finding.facts['tls.issuer']).toBe('CN=kdebug test CA');
    expect(finding.facts['ping.lossPercent']).toBe(0);
    // Every result, with its prefixed id.
    expect(finding.steps).toEqual(results);
    expect(finding.steps.map((s) => s.id)).toEqual(['dns.resolv.conf', 'dns.dig-1', 'ping.ping', 'conn.nc', 'tls.openssl', 'http.curl']);
  });

  test('an expired certificate: tls decides, and the http part that tripped over it is listed', () => {
    const { args, results, context } = assemble({ ...ALL_OK_HTTPS, tls: 'expired', http: 'tls-error' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('expired');
    expect(finding.headline).toBe('tls: certificate for expired.tls.test expired 2 days ago (notAfter 2026-11-19); also http tls-error');
    expect(finding.facts.tls).toBe('expired — certificate for expired.tls.test expired 2 days ago (notAfter 2026-11-19)');
    expect(finding.facts.http).toBe('tls-error — TLS with expired.tls.test:443 failed: SSL certificate problem: certificate has expired');
    expect(finding.facts.dns).toMatch(/^ok — /);
  });

  test('a name that does not exist: the dns part explains the others', () => {
    const { args, results, context } = assemble({ dns: 'nxdomain', ping: 'dns-failure', conn: 'dns-failure', http: 'dns-failure' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('nxdomain');
    expect(finding.headline).toBe('dns: NXDOMAIN for payments.staging.svc.cluster.local via 127.53.0.10; also ping dns-failure, conn dns-failure, http dns-failure');
  });

  test('no DNS server answered: timeout from dns outranks the others', () => {
    const { args, results, context } = assemble({ dns: 'timeout', ping: 'dns-failure', conn: 'dns-failure' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('timeout');
    expect(finding.headline).toBe(
      'dns: No DNS server answered for kubernetes.default.svc.cluster.local (tried 127.53.0.10, timed out after 2 s); also ping dns-failure, conn dns-failure',
    );
  });

  test('the same verdict from several parts: the earlier part (conn) gives the headline', () => {
    const { args, results, context } = assemble({ dns: 'ok-a', ping: 'ok', conn: 'connection-refused', http: 'connection-refused' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('connection-refused');
    expect(finding.headline).toMatch(/^conn: 203\.0\.113\.10:5433 refused the connection: .*; also http connection-refused$/);
  });

  test('ping silent while the port is open: unreachable, with a word on ICMP', () => {
    const { args, results, context } = assemble({ dns: 'ok-a', ping: 'unreachable', conn: 'open' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.headline).toBe(
      'ping: No reply from 203.0.113.201: all 4 echo requests lost (ICMP may simply be blocked: try `conn` to a port); but conn to db.prod:5432 is open, so the host is up (ICMP is likely filtered)',
    );
  });

  test('ping is the mildest error: an http error outranks it', () => {
    const { args, results, context } = assemble({ dns: 'ok-a', ping: 'unreachable', conn: 'open', http: 'http-error' });
    const finding = triageCheck.interpret(args, results, context);
    expect(finding.verdict).toBe('http-error');
    expect(finding.headline).toMatch(/^http: http:\/\/web\.http\.test\/status\/503 answered 503 Service Unavailable in .*; also ping unreachable$/);
  });

  test('warnings: packet loss and an expiring certificate rank below errors but above ok', () => {
    const loss = assemble({ dns: 'ok-a', ping: 'packet-loss', conn: 'open' });
    expect(triageCheck.interpret(loss.args, loss.results, loss.context).verdict).toBe('packet-loss');
    const soon = assemble({ ...ALL_OK_HTTPS, tls: 'expiring-soon' });
    const finding = triageCheck.interpret(soon.args, soon.results, soon.context);
    expect(finding.verdict).toBe('expiring-soon');
    expect(finding.headline).toMatch(/^tls: certificate for expiring\.tls\.test expires in \d+ days/);
    const both = assemble({ dns: 'no-answer', ping: 'packet-loss', conn: 'connection-refused' });
    expect(triageCheck.interpret(both.args, both.results, both.context).verdict).toBe('connection-refused');
  });

  test('dns only (no host given): says so in the headline and the table', () => {
    const parsed = triageCheck.parseArgs([], {});
    if (!parsed.ok) throw new Error(parsed.message);
    const ok = recorded('dns', 'ok-a');
    const results = ok.results.map((r) => ({ ...r, id: `dns.${r.id}` }));
    const finding = triageCheck.interpret(parsed.args, results);
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(/^dns ok \(no host given, so only DNS was checked\): payments\.prod\.svc\.cluster\.local → 10\.96\.3\.7/);
    expect(finding.facts.dns).toMatch(/^ok — /);
    expect(finding.facts.scope).toMatch(/^no host given: only DNS/);
    expect(Object.keys(finding.facts).filter((k) => !k.includes('.'))).toEqual(['dns', 'scope']);

    const dead = recorded('dns', 'timeout').results.map((r) => ({ ...r, id: `dns.${r.id}` }));
    const failed = triageCheck.interpret(parsed.args, dead);
    expect(failed.verdict).toBe('timeout');
    expect(failed.headline).toBe(
      'dns: No DNS server answered for kubernetes.default.svc.cluster.local (tried 127.53.0.10, timed out after 2 s) (no host given, so only DNS was checked)',
    );
  });

  test('an IP address: the table says dns was skipped', () => {
    const parsed = triageCheck.parseArgs(['203.0.113.10:5432'], {});
    if (!parsed.ok) throw new Error(parsed.message);
    const { results } = assemble({ ping: 'packet-loss', conn: 'connection-refused' });
    const finding = triageCheck.interpret(parsed.args, results);
    expect(finding.facts.dns).toBe('skipped — 203.0.113.10 is an IP address: nothing to look up');
    expect(Object.keys(finding.facts).slice(0, 3)).toEqual(['dns', 'ping', 'conn']);
    expect(finding.verdict).toBe('connection-refused');
    expect(finding.headline).toMatch(/^conn: 203\.0\.113\.10:5432 refused the connection.*; also ping packet-loss$/);
  });

  // Every recording of every part, the other parts ok: the triage row is exactly what the part says
  // alone (so the prefixes were stripped right), and the verdict is that part's unless it is ok.
  const each = ORDER.flatMap((part) => fixtureNames(part).map((file) => [part, file] as [TriagePartName, string]));
  test.each(each)('%s/%s among ok parts', (part, file) => {
    const base: Partial<Record<TriagePartName, string>> = { ...ALL_OK_HTTPS };
    base[part] = file;
    const { args, results, context, parts } = assemble(base);
    const finding = triageCheck.interpret(args, results, context);
    for (const p of parts) {
      const own = alone(p, context);
      expect(finding.facts[p.part.check]).toBe(`${own.verdict} — ${own.headline}`);
    }
    const own = alone(
      parts.find((p) => p.part.check === part)!,
      context,
    );
    if (['ok', 'open'].includes(own.verdict)) {
      expect(finding.verdict).toBe('ok');
      expect(finding.headline).toMatch(/^all 5 checks ok: /);
    } else {
      expect(finding.verdict).toBe(own.verdict);
    }
    if (!['ok', 'open'].includes(own.verdict)) expect(finding.headline.startsWith(`${part}: ${own.headline}`)).toBe(true);
  });

  test('random combinations: the verdict is the worst part, the first of the worst gives the headline', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
    for (let i = 0; i < 300; i++) {
      const choice: Partial<Record<TriagePartName, string>> = {};
      for (const part of ORDER) if (part === 'ping' || part === 'conn' || random() < 0.8) choice[part] = pick(fixtureNames(part));
      const { args, results, context, parts } = assemble(choice);
      const finding = triageCheck.interpret(args, results, context);
      const own = parts.map((p) => ({ check: p.part.check, finding: alone(p, context) }));
      const worst = Math.max(...own.map((o) => triageSeverity(o.finding.verdict)));
      const first = own.find((o) => triageSeverity(o.finding.verdict) === worst)!;
      const expected = ['ok', 'open'].includes(first.finding.verdict) ? 'ok' : first.finding.verdict;
      expect({ choice, verdict: finding.verdict }).toEqual({ choice, verdict: expected });
      for (const o of own) expect(finding.facts[o.check]).toBe(`${o.finding.verdict} — ${o.finding.headline}`);
      if (!['ok', 'open'].includes(first.finding.verdict)) expect(finding.headline.startsWith(`${first.check}: ${first.finding.headline}`)).toBe(true);
    }
  });
});

describe('triageCheck.interpret never throws', () => {
  const parsedArgs = (() => {
    const parsed = triageCheck.parseArgs(['https://api.prod/'], {});
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.args;
  })();

  test('garbage results', () => {
    const outputs = [
      '',
      '\u0000\u0001',
      'x'.repeat(100_000),
      '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n',
      '--- curl --write-out ---\nexitcode=abc\n',
      'PING (\nrtt min/avg/max = a/b/c',
    ];
    const ids = ['dns.resolv.conf', 'dns.dig-1', 'ping.ping', 'conn.nc', 'tls.openssl', 'http.curl', 'nc', 'dns.', '.', 'other.thing'];
    for (const output of outputs) {
      for (const exitCode of [0, 1, 124, null]) {
        const results = ids.map((id) => ({ id, argv: ['x'], exitCode, output }));
        const finding = triageCheck.interpret(parsedArgs, results);
        expect(Object.keys(triageCheck.verdicts)).toContain(finding.verdict);
        expect(typeof finding.headline).toBe('string');
        expect(Object.keys(finding.facts).slice(0, 5)).toEqual(['dns', 'ping', 'conn', 'tls', 'http']);
      }
    }
  });

  test('no results at all: every part says what did not run', () => {
    const finding = triageCheck.interpret(parsedArgs, []);
    expect(finding.verdict).toBe('timeout');
    expect(finding.headline).toMatch(/^dns: /);
    expect(finding.steps).toEqual([]);
  });

  test('malformed results and args', () => {
    const junkResults: unknown[] = [
      undefined,
      null,
      42,
      'text',
      [],
      {},
      { id: 'conn.nc' },
      { id: 'conn.nc', output: 5 },
      { id: 7, argv: [], exitCode: 0, output: '' },
      { id: 'ping.ping', argv: 'ping', exitCode: 0, output: '' },
      { id: 'http.curl', argv: [1, 2], exitCode: 0, output: '' },
    ];
    const junkArgs: unknown[] = [
      undefined,
      null,
      0,
      'x',
      {},
      { parts: 'dns' },
      { parts: [null, 1, { check: 'nope', args: {} }, { check: 'dns' }] },
      {
        parts: [
          { check: 'conn', args: {} },
          { check: 'tls', args: { host: 5 } },
          { check: 'http', args: { url: 'not a url' } },
        ],
        skipped: 'x',
      },
      { parts: [{ check: 'dns', args: { names: 'x' } }], skipped: [null, { check: 'ping' }], dnsOnly: 'yes' },
      parsedArgs,
    ];
    const contexts: unknown[] = [undefined, null, { settings: {}, now: 'yesterday' }, { settings: {}, now: new Date(NaN) }];
    for (const args of junkArgs) {
      for (const results of [junkResults, undefined, null, 'x', {}]) {
        for (const context of contexts) {
          const finding = triageCheck.interpret(args as TriageArgs, results as StepResult[], context as CheckContext);
          expect(finding.check).toBe('triage');
          expect(typeof finding.verdict).toBe('string');
          expect(typeof finding.headline).toBe('string');
          // Only well-formed results are kept: the renderer joins argv and reads output.
          for (const s of finding.steps) {
            expect(typeof s.id).toBe('string');
            expect(typeof s.output).toBe('string');
            expect(Array.isArray(s.argv)).toBe(true);
          }
        }
      }
    }
    expect(() => triageCheck.steps({ parts: [null, { check: 'nope' }] } as never)).not.toThrow();
    expect(triageCheck.steps(undefined as never)).toEqual([]);
  });
});
