import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSClientOutput, tlsCheck, type TlsArgs } from '../../../src/checks/tls.js';
import type { CheckContext, StepResult } from '../../../src/checks/types.js';

const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/tls/', import.meta.url));
const DAY = 86_400_000;

interface Fixture {
  args: TlsArgs;
  settings: { tls: { maxSeconds: number; expiringSoonDays: number } };
  now: string;
  command: string[];
  exitCode: number | null;
  output: string;
  note: string;
}

function fixture(file: string): Fixture {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}${file}`, 'utf8')) as Fixture;
}

const fixtureFiles = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json'));

/** The settings and time a fixture was recorded with, optionally changed. */
function contextOf(f: Fixture, change: { now?: Date; soonDays?: number } = {}): CheckContext {
  const settings = { tls: { ...f.settings.tls, ...(change.soonDays !== undefined ? { expiringSoonDays: change.soonDays } : {}) } };
  return { settings, now: change.now ?? new Date(f.now) };
}

function stepOf(f: Fixture, output = f.output): StepResult {
  return { id: 'openssl', argv: f.command, exitCode: f.exitCode, output };
}

function interpretFixture(file: string, change: { now?: Date; soonDays?: number } = {}) {
  const f = fixture(file);
  return tlsCheck.interpret(f.args, [stepOf(f)], contextOf(f, change));
}

/** Dates move with every recording; `{date}` in an expected headline matches any day. */
function headlinePattern(expected: string): RegExp {
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('\\{date\\}', '\\d{4}-\\d{2}-\\d{2}');
  return new RegExp(`^${escaped}$`);
}

const usage = /Usage: `\/kdebug tls <target> <host\[:port\]> \[--chain\] \[--cacert FILE\]`/;

describe('tlsCheck.parseArgs', () => {
  test.each<[string, string[], Record<string, string>, TlsArgs]>([
    ['a name: port 443', ['api.prod.svc.cluster.local'], {}, { host: 'api.prod.svc.cluster.local', port: 443 }],
    ['a name with a port, lower-cased, trailing dot dropped', ['API.Prod.:8443'], {}, { host: 'api.prod', port: 8443 }],
    ['IPv4', ['10.0.0.5'], {}, { host: '10.0.0.5', port: 443 }],
    ['IPv4 with a port', ['10.0.0.5:8443'], {}, { host: '10.0.0.5', port: 8443 }],
    ['bare IPv6 (never split at a colon)', ['fd00::5'], {}, { host: 'fd00::5', port: 443 }],
    ['bracketed IPv6 with a port', ['[fd00::5]:8443'], {}, { host: 'fd00::5', port: 8443 }],
    ['an https URL: its host and port', ['https://api.prod:8443/healthz?x=1'], {}, { host: 'api.prod', port: 8443 }],
    ['an https URL with IPv6 and no port', ['https://[::1]/'], {}, { host: '::1', port: 443 }],
    ['port 1', ['api.prod:1'], {}, { host: 'api.prod', port: 1 }],
    ['--cacert', ['api.prod'], { cacert: '/etc/kdebug/ca.pem' }, { host: 'api.prod', port: 443, cacert: '/etc/kdebug/ca.pem' }],
  ])('accepts %s', (_label, positional, options, args) => {
    expect(tlsCheck.parseArgs(positional, options)).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['no host', [], {}, /Which host\?/],
    ['two hosts', ['a.prod', 'b.prod'], {}, /One host per check \(got 2\)/],
    ['an option-looking host', ['-connect'], {}, /starts with `-`/],
    ['port 0', ['api.prod:0'], {}, /port must be a number from 1 to 65535/],
    ['port 65536', ['api.prod:65536'], {}, /port must be a number from 1 to 65535/],
    ['a service name as port', ['api.prod:https'], {}, /port must be a number/],
    ['an empty port', ['api.prod:'], {}, /port must be a number/],
    ['an http URL', ['http://api.prod/'], {}, /host\[:port\] or an https:\/\/ URL/],
    ['IPv4 in brackets', ['[10.0.0.1]:443'], {}, /not an IPv6 address/],
    ['an IPv6 zone id', ['fe80::1%eth0'], {}, /zone ids/],
    ['two colons, not IPv6', ['api.prod:443:1'], {}, /is not a host\[:port\]/],
    ['odd characters', ['api;prod'], {}, /not a valid host name/],
    ['an empty label', ['api..prod'], {}, /not a valid host name/],
    ['an unknown option', ['api.prod'], { servername: 'x' }, /no option `--servername`/],
    ['a --cacert that looks like an option', ['api.prod'], { cacert: '-CApath' }, /must not start with `-`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = tlsCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });

  test('refuses a URL with credentials without repeating them', () => {
    const result = tlsCheck.parseArgs(['https://admin:hunter2@api.prod/'], {});
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/contains credentials/);
      expect(result.message).not.toMatch(/hunter2|admin/);
    }
  });
});

describe('tlsCheck.steps', () => {
  test.each<[string, TlsArgs, CheckContext | undefined, string[]]>([
    [
      'a name, default settings',
      { host: 'api.prod', port: 443 },
      undefined,
      ['timeout', '10', 'openssl', 's_client', '-connect', 'api.prod:443', '-servername', 'api.prod', '-verify_hostname', 'api.prod', '-showcerts', '-state'],
    ],
    [
      'IPv4: no SNI, -verify_ip',
      { host: '10.0.0.5', port: 8443 },
      undefined,
      ['timeout', '10', 'openssl', 's_client', '-connect', '10.0.0.5:8443', '-noservername', '-verify_ip', '10.0.0.5', '-showcerts', '-state'],
    ],
    [
      'IPv6 in brackets for -connect only, --cacert, whole seconds left before the deadline',
      { host: 'fd00::5', port: 443, cacert: '/tmp/ca.pem' },
      { settings: {}, now: new Date(), secondsLeft: 3.7 },
      ['timeout', '3', 'openssl', 's_client', '-connect', '[fd00::5]:443', '-noservername', '-verify_ip', 'fd00::5', '-showcerts', '-state', '-CAfile', '/tmp/ca.pem'],
    ],
  ])('%s', (_label, args, context, argv) => {
    expect(tlsCheck.steps(args, context)).toEqual([{ id: 'openssl', argv }]);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      expect({ file, argv: tlsCheck.steps(f.args, contextOf(f))[0]?.argv }).toEqual({ file, argv: f.command });
    }
  });
});

describe('tlsCheck.interpret over recorded openssl output', () => {
  const trusted = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', issuer: 'CN=kdebug test CA' };
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok.json',
      'ok',
      'certificate for valid.tls.test is valid for another 89 days (notAfter {date}), issued by CN=kdebug test CA',
      {
        ...trusted,
        subject: 'CN=valid.tls.test',
        sans: ['DNS:valid.tls.test', 'IP Address:127.0.0.1'],
        daysLeft: 89,
        verifyResult: '0 (ok)',
        chain: [expect.stringMatching(/^0 CN=valid\.tls\.test ← CN=kdebug test CA \(until \d{4}-\d{2}-\d{2}\)$/)],
      },
    ],
    ['expiring-soon.json', 'expiring-soon', 'certificate for expiring.tls.test expires in 3 days (notAfter {date})', { ...trusted, daysLeft: 3, verifyResult: '0 (ok)' }],
    [
      'expired.json',
      'expired',
      'certificate for expired.tls.test expired 2 days ago (notAfter {date})',
      { ...trusted, daysLeft: -2, verifyResult: '10 (certificate has expired)', verifyErrors: ['depth 0 CN = expired.tls.test: 10 certificate has expired'] },
    ],
    [
      'not-yet-valid.json',
      'not-yet-valid',
      'certificate for future.tls.test is not valid for another 3 days (notBefore {date})',
      { ...trusted, verifyResult: '9 (certificate is not yet valid)' },
    ],
    [
      'hostname-mismatch.json',
      'hostname-mismatch',
      'wrong-name.tls.test:443 presented a certificate for www.other.test, not wrong-name.tls.test',
      { ...trusted, subject: 'CN=www.other.test', sans: ['DNS:www.other.test'], verifyResult: '62 (hostname mismatch)' },
    ],
    [
      'hostname-mismatch-ip.json',
      'hostname-mismatch',
      '127.78.0.5:443 presented a certificate for valid.tls.test, 127.0.0.1, not 127.78.0.5',
      { verifyResult: '64 (IP address mismatch)' },
    ],
    [
      'self-signed.json',
      'self-signed',
      'self-signed.tls.test:443 presented a self-signed certificate (CN=self-signed.tls.test)',
      { issuer: 'CN=self-signed.tls.test', verifyResult: '18 (self-signed certificate)' },
    ],
    [
      'untrusted-issuer.json',
      'untrusted-issuer',
      'certificate for unknown-ca.tls.test is issued by CN=Unknown Test CA, which is not trusted here (the server sent no intermediate certificate; a missing intermediate looks the same)',
      { issuer: 'CN=Unknown Test CA', verifyResult: '21 (unable to verify the first certificate)' },
    ],
    [
      'expired-wrong-name-untrusted.json',
      'expired',
      'certificate for alias.tls.test expired 2 days ago (notAfter {date}); also wrong name, untrusted issuer',
      { problems: ['expired', 'hostname-mismatch', 'untrusted-issuer'] },
    ],
    [
      'handshake-failed.json',
      'handshake-failed',
      'TLS handshake with web.http.test:80 failed: wrong version number (the port answered, but not with TLS: plain HTTP?)',
      { error: 'ssl3_get_record: wrong version number' },
    ],
    ['handshake-failed-hang-up.json', 'handshake-failed', 'TLS handshake with hang-up.http.test:80 failed: unexpected eof while reading (the server closed the connection)', {}],
    ['connection-refused.json', 'connection-refused', 'connection refused by closed.http.test:443', { error: expect.stringMatching(/^BIO_connect: Connection refused/) }],
    ['timeout.json', 'timeout', 'no answer from stuck.tls.test:443 within 2 s (connected, but no reply to the TLS ClientHello)', {}],
    ['dns-failure.json', 'dns-failure', 'could not resolve api.invalid (Name or service not known)', { error: 'BIO_lookup_ex: system lib (Name or service not known)' }],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(tlsCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const finding = interpretFixture(file);
    expect(finding.check).toBe('tls');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headlinePattern(headline));
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toHaveLength(1);
    // A certificate was received exactly when the verdict is about a certificate.
    const aboutCertificate = ['expired', 'not-yet-valid', 'hostname-mismatch', 'self-signed', 'untrusted-issuer', 'expiring-soon', 'ok'].includes(finding.verdict);
    expect(typeof finding.facts.notAfter === 'string').toBe(aboutCertificate);
  });

  test('dates in the facts are the certificate dates, relative to the recorded now', () => {
    const f = fixture('expired.json');
    const finding = interpretFixture('expired.json');
    const notAfter = new Date(String(finding.facts.notAfter)).getTime();
    // certs.ts made it expire 2 days and an hour before the set was created, shortly before `now`.
    const ago = new Date(f.now).getTime() - notAfter;
    expect(ago).toBeGreaterThan(2 * DAY + 3_600_000);
    expect(ago).toBeLessThan(2 * DAY + 3_600_000 + 5 * 60_000);
    expect(finding.facts.notAfter).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(finding.facts.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  test('each verify problem is kept once, though openssl reports some twice', () => {
    const sclient = parseSClientOutput(fixture('expired.json').output);
    expect(sclient.verifyErrors).toEqual([{ depth: 0, subject: 'CN = expired.tls.test', code: 10, text: 'certificate has expired' }]);
    expect(sclient.chain).toEqual([{ index: 0, subject: 'CN = expired.tls.test', issuer: 'CN = kdebug test CA' }]);
    expect(sclient.certificates).toHaveLength(1);
  });
});

describe('verdict order, worst first', () => {
  test('expired, then hostname-mismatch, then untrusted-issuer (all three recorded at once)', () => {
    expect(interpretFixture('expired-wrong-name-untrusted.json').facts.problems).toEqual(['expired', 'hostname-mismatch', 'untrusted-issuer']);
  });

  test('not-yet-valid beats hostname-mismatch', () => {
    const notBefore = new Date(String(interpretFixture('hostname-mismatch.json').facts.notBefore));
    const finding = interpretFixture('hostname-mismatch.json', { now: new Date(notBefore.getTime() - DAY) });
    expect(finding.verdict).toBe('not-yet-valid');
    expect(finding.facts.problems).toEqual(['not-yet-valid', 'hostname-mismatch']);
    expect(finding.headline).toMatch(/; also wrong name$/);
  });

  test('hostname-mismatch beats self-signed', () => {
    const f = fixture('self-signed.json');
    const output = f.output.replace('verify error:num=18:self-signed certificate\n', 'verify error:num=18:self-signed certificate\nverify error:num=62:hostname mismatch\n');
    const finding = tlsCheck.interpret(f.args, [stepOf(f, output)], contextOf(f));
    expect(finding.facts.problems).toEqual(['hostname-mismatch', 'self-signed']);
  });

  test.each([
    ['expired beats self-signed', 'self-signed.json', 'after', ['expired', 'self-signed']],
    ['self-signed beats expiring-soon', 'self-signed.json', 'soon', ['self-signed', 'expiring-soon']],
    ['untrusted-issuer beats expiring-soon', 'untrusted-issuer.json', 'soon', ['untrusted-issuer', 'expiring-soon']],
    ['expiring-soon beats ok', 'ok.json', 'soon', ['expiring-soon']],
  ] as const)('%s', (_label, file, when, problems) => {
    const notAfter = new Date(String(interpretFixture(file).facts.notAfter));
    const change = when === 'after' ? { now: new Date(notAfter.getTime() + DAY) } : { soonDays: 365 };
    const finding = interpretFixture(file, change);
    expect(finding.verdict).toBe(problems[0]);
    if (problems.length > 1) expect(finding.facts.problems).toEqual(problems);
  });

  test('expiring-soon uses the setting: 3 days left is fine when the limit is 2 days', () => {
    expect(interpretFixture('expiring-soon.json', { soonDays: 2 }).verdict).toBe('ok');
  });
});

describe('tlsCheck.interpret on anything else', () => {
  const args: TlsArgs = { host: 'api.prod', port: 443 };
  const run = (output: string, exitCode: number | null) => tlsCheck.interpret(args, [{ id: 'openssl', argv: ['timeout', '10', 'openssl'], exitCode, output }]);

  test('busybox timeout leaves the signal exit status (143), and nothing was printed', () => {
    expect(run('', 143)).toMatchObject({ verdict: 'timeout', headline: 'no answer from api.prod:443 within 10 s (the name lookup or TCP connect never completed)' });
  });

  test('a step that never finished', () => {
    expect(run('SSL_connect:before SSL initialization\nSSL_connect:SSLv3/TLS write client hello\nSSL_connect:SSLv3/TLS read server hello\n', null)).toMatchObject({
      verdict: 'timeout',
      headline: 'no answer from api.prod:443 within 10 s (the handshake started but never finished)',
    });
  });

  test('OpenSSL 1.1 connect errors', () => {
    const output = '139:error:0200206F:system library:connect:No route to host:crypto/bio/b_sock2.c:110:\nconnect:errno=113\n';
    expect(run(output, 1)).toMatchObject({ verdict: 'connection-refused', headline: 'could not connect to api.prod:443: No route to host' });
  });

  test('openssl missing from the image', () => {
    expect(run("timeout: failed to run command 'openssl': No such file or directory\n", 127)).toMatchObject({
      verdict: 'timeout',
      headline: "No TLS answer from api.prod:443: openssl exited with code 127: timeout: failed to run command 'openssl': No such file or directory",
    });
  });

  test('a server alert during the handshake', () => {
    const output =
      'CONNECTED(00000003)\n40:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1584:SSL alert number 40\n---\nno peer certificate available\n---\nNew, (NONE), Cipher is (NONE)\n';
    expect(run(output, 1)).toMatchObject({ verdict: 'handshake-failed', headline: 'TLS handshake with api.prod:443 failed: sslv3 alert handshake failure' });
  });

  test('a certificate that does not parse still gets openssl’s verdict', () => {
    const output =
      'verify error:num=10:certificate has expired\n-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\nNew, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256\nVerify return code: 10 (certificate has expired)\n';
    const finding = run(output, 0);
    expect(finding).toMatchObject({ verdict: 'expired', headline: 'certificate for api.prod has expired', facts: { chain: ['0 (unreadable certificate)'], protocol: 'TLSv1.2' } });
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments and dates', () => {
    const outputs = [
      '',
      '\n\n',
      '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----',
      'depth=x\nverify error:num=:',
      'New, (NONE), Cipher is',
      '\u0000\uffff'.repeat(50),
      'x'.repeat(100_000),
      ':error::::::',
    ];
    for (const file of fixtureFiles) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 41) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set<string>(Object.keys(tlsCheck.verdicts));
    const contexts = [undefined, { settings: {}, now: new Date(NaN) }, { settings: {} as never, now: 'yesterday' as never }];
    for (const output of outputs) {
      for (const exitCode of [0, 1, 124, null]) {
        for (const context of contexts) {
          const finding = tlsCheck.interpret(args, [{ id: 'openssl', argv: [], exitCode, output }], context);
          expect(vocabulary.has(finding.verdict)).toBe(true);
          expect(finding.headline.length).toBeGreaterThan(0);
          // Handled by the parser itself, not by interpret()'s last-resort catch.
          expect(finding.headline).not.toMatch(/^Could not interpret/);
        }
      }
    }
    const oddArgs = [{ host: '', port: 0 }, {} as TlsArgs, undefined as unknown as TlsArgs];
    const oddResults = [null, [null], [{ id: 'openssl' }], [{ id: 'openssl', output: 42 }]] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = tlsCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});

describe('--chain', () => {
  test('every certificate the server sent, with its names, dates and fingerprint', () => {
    const f = fixture('ok.json');
    const finding = tlsCheck.interpret({ ...f.args, chain: true }, [stepOf(f)], contextOf(f));
    expect(finding.facts.chain).toEqual([
      expect.stringMatching(
        /^0 CN=valid\.tls\.test ← CN=kdebug test CA · valid \d{4}-\d\d-\d\dT[\d:]+Z to \d{4}-\d\d-\d\dT[\d:]+Z · DNS:valid\.tls\.test.* · SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
      ),
    ]);
    // Without --chain, the short form.
    expect(tlsCheck.interpret(f.args, [stepOf(f)], contextOf(f)).facts.chain).toEqual([
      expect.stringMatching(/^0 CN=valid\.tls\.test ← CN=kdebug test CA \(until \d{4}-\d{2}-\d{2}\)$/),
    ]);
  });

  test('a switch: parseArgs sees yes; any other value is refused', () => {
    expect(tlsCheck.parseArgs(['api.prod:443'], { chain: 'yes' })).toEqual({ ok: true, args: { host: 'api.prod', port: 443, chain: true } });
    const refused = tlsCheck.parseArgs(['api.prod:443'], { chain: 'no' });
    expect(refused.ok ? 'accepted' : refused.message).toMatch(/^`--chain` takes no value\./);
  });
});
