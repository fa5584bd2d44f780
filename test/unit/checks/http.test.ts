import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { httpCheck, parseCurlOutput, type HttpArgs } from '../../../src/checks/http.js';
import type { CheckContext, StepResult } from '../../../src/checks/types.js';

const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/http/', import.meta.url));

interface Fixture {
  args: HttpArgs;
  settings: Record<string, unknown>;
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

function contextOf(f: Fixture): CheckContext {
  return { settings: f.settings, now: new Date(f.now) };
}

function stepOf(f: Fixture): StepResult {
  return { id: 'curl', argv: f.command, exitCode: f.exitCode, output: f.output };
}

function interpretFixture(file: string) {
  const f = fixture(file);
  return httpCheck.interpret(f.args, [stepOf(f)], contextOf(f));
}

/** Timings vary between recordings; `{ms}` in an expected headline matches any duration. */
function headlinePattern(expected: string): RegExp {
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\{ms\\}', '\\d+(?:\\.\\d)? m?s');
  return new RegExp(`^${escaped}$`);
}

const usage = /Usage: `\/kdebug http <target> <url> \[--cacert FILE\]`/;

describe('httpCheck.parseArgs', () => {
  test.each<[string, string[], Record<string, string>, HttpArgs]>([
    ['a plain URL', ['http://web.prod.svc.cluster.local:8080/healthz'], {}, { url: 'http://web.prod.svc.cluster.local:8080/healthz' }],
    ['no scheme: http:// is assumed', ['web.prod:8080/healthz'], {}, { url: 'http://web.prod:8080/healthz' }],
    ['scheme and host are lower-cased, a path is added', ['HTTPS://API.Example.com'], {}, { url: 'https://api.example.com/' }],
    ['the fragment is dropped, the query kept', ['http://web.prod/x?y=1#top'], {}, { url: 'http://web.prod/x?y=1' }],
    ['an IPv4 address', ['http://10.0.0.5/'], {}, { url: 'http://10.0.0.5/' }],
    ['an IPv6 address with a port', ['http://[fd00::5]:8080/x'], {}, { url: 'http://[fd00::5]:8080/x' }],
    ['underscores in labels (SRV-style names)', ['http://_http._tcp.web.prod/'], {}, { url: 'http://_http._tcp.web.prod/' }],
    ['an international name, as punycode', ['http://bücher.example/'], {}, { url: 'http://xn--bcher-kva.example/' }],
    ['glob characters stay literal (curl gets --globoff)', ['http://web.prod/a[1-2]{x,y}'], {}, { url: 'http://web.prod/a[1-2]%7Bx,y%7D' }],
    ['port 65535', ['http://web.prod:65535/'], {}, { url: 'http://web.prod:65535/' }],
    ['--cacert', ['https://web.prod/'], { cacert: '/etc/kdebug/private-ca.pem' }, { url: 'https://web.prod/', cacert: '/etc/kdebug/private-ca.pem' }],
    ['--cacert given with dashes', ['https://web.prod/'], { '--cacert': 'ca.pem' }, { url: 'https://web.prod/', cacert: 'ca.pem' }],
  ])('accepts %s', (_label, positional, options, args) => {
    expect(httpCheck.parseArgs(positional, options)).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['no URL', [], {}, /Which URL\?/],
    ['two URLs', ['http://a/', 'http://b/'], {}, /One URL per check \(got 2\)/],
    ['ftp', ['ftp://files.prod/x'], {}, /only http:\/\/ and https:\/\/ URLs/],
    ['file', ['file:///etc/passwd'], {}, /only http:\/\/ and https:\/\/ URLs/],
    ['an option-looking URL', ['-o/tmp/x'], {}, /starts with `-`/],
    ['a host starting with -', ['http://-oops/'], {}, /starts with `-` and would be read as an option/],
    ['whitespace', ['http://web.prod/a b'], {}, /contains whitespace/],
    ['a host with odd characters', ['http://web!prod/'], {}, /not a valid host name/],
    ['two dots in a row', ['http://web..prod/'], {}, /not a valid host name/],
    ['port 0', ['http://web.prod:0/'], {}, /port must be a number from 1 to 65535/],
    ['port 65536', ['http://web.prod:65536/'], {}, /port must be a number from 1 to 65535/],
    ['no host', ['http://'], {}, /not a valid URL/],
    ['a URL over 2048 characters', [`http://web.prod/${'a'.repeat(2048)}`], {}, /longer than 2048/],
    ['an unknown option', ['http://web.prod/'], { insecure: '' }, /no option `--insecure`/],
    ['an empty --cacert', ['http://web.prod/'], { cacert: ' ' }, /needs the path/],
    ['a --cacert that looks like an option', ['http://web.prod/'], { cacert: '--insecure' }, /must not start with `-`/],
    ['a --cacert with a newline', ['http://web.prod/'], { cacert: 'a\nb' }, /control characters/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = httpCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });

  test.each([
    ['user and password', 'http://admin:hunter2@web.prod/healthz'],
    ['a token as the user', 'https://hunter2@web.prod/'],
    ['no scheme', 'admin:hunter2@web.prod'],
    ['credentials and an invalid rest', 'http://admin:hunter2@web prod/'],
  ])('refuses credentials (%s) without repeating them', (_label, url) => {
    const result = httpCheck.parseArgs([url], {});
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/contains credentials/);
      expect(result.message).not.toMatch(/hunter2|admin/);
    }
  });
});

describe('httpCheck.steps', () => {
  const argv = (maxTime: string, extra: string[], url: string) => [
    'curl',
    '-q',
    '--verbose',
    '--silent',
    '--show-error',
    '--globoff',
    '--proto',
    '=http,https',
    '--max-time',
    maxTime,
    '--output',
    '/dev/null',
    '--write-out',
    '\\n--- curl --write-out ---\\nexitcode=%{exitcode}\\nerrormsg=%{errormsg}\\nresponse_code=%{response_code}\\nhttp_version=%{http_version}\\nremote_ip=%{remote_ip}\\nremote_port=%{remote_port}\\ntime_namelookup=%{time_namelookup}\\ntime_connect=%{time_connect}\\ntime_appconnect=%{time_appconnect}\\ntime_pretransfer=%{time_pretransfer}\\ntime_starttransfer=%{time_starttransfer}\\ntime_total=%{time_total}\\n',
    ...extra,
    '--',
    url,
  ];

  test('default settings: --max-time 10', () => {
    expect(httpCheck.steps({ url: 'http://web.prod/healthz' })).toEqual([{ id: 'curl', argv: argv('10', [], 'http://web.prod/healthz') }]);
  });

  test('checks.http.maxSeconds from the context, and --cacert', () => {
    const context: CheckContext = { settings: { http: { maxSeconds: 30 } }, now: new Date() };
    expect(httpCheck.steps({ url: 'https://[fd00::5]:8443/', cacert: '/tmp/ca.pem' }, context)).toEqual([
      { id: 'curl', argv: argv('30', ['--cacert', '/tmp/ca.pem'], 'https://[fd00::5]:8443/') },
    ]);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      expect({ file, argv: httpCheck.steps(f.args, contextOf(f))[0]?.argv }).toEqual({ file, argv: f.command });
    }
  });
});

describe('httpCheck.interpret over recorded curl output', () => {
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok.json',
      'ok',
      'http://web.http.test/healthz answered 200 OK in {ms}',
      {
        url: 'http://web.http.test/healthz',
        status: '200 OK',
        httpVersion: 'HTTP/1.1',
        remote: '127.77.0.1:80',
        server: 'kdebug-test',
        contentType: 'text/plain; charset=utf-8',
        curlExit: 0,
      },
    ],
    [
      'ok-https.json',
      'ok',
      'https://valid.tls.test/healthz answered 200 OK in {ms}',
      { status: '200 OK', tls: 'TLSv1.3 / TLS_AES_256_GCM_SHA384', timing: expect.stringMatching(/^DNS .* ms, connect .* ms, TLS .* ms, first byte .* ms, total .* ms$/) },
    ],
    ['ok-redirect.json', 'ok', 'http://web.http.test/status/302 answered 302 Found in {ms} → /login', { status: '302 Found', location: '/login' }],
    ['http-error.json', 'http-error', 'http://web.http.test/status/503 answered 503 Service Unavailable in {ms}', { status: '503 Service Unavailable', server: 'kdebug-test' }],
    [
      'http-error-empty-reply.json',
      'http-error',
      'hang-up.http.test:80 closed the connection without an HTTP answer (curl: Empty reply from server)',
      { curlExit: 52, error: 'Empty reply from server' },
    ],
    ['connection-refused.json', 'connection-refused', 'connection refused by closed.http.test:80 (127.77.0.12)', { curlExit: 7, tried: ['127.77.0.12:80: Connection refused'] }],
    [
      'timeout.json',
      'timeout',
      'no answer from stuck.http.test:80 within 2 s (connected and sent the request; no response)',
      { curlExit: 28, remote: '127.77.0.2:80', error: expect.stringMatching(/^Operation timed out after 20\d\d milliseconds with 0 bytes received$/) },
    ],
    ['timeout-tls-handshake.json', 'timeout', 'no answer from stuck.tls.test:443 within 2 s (connected, but the TLS handshake never completed)', { curlExit: 28 }],
    ['dns-failure.json', 'dns-failure', 'could not resolve payments.invalid', { curlExit: 6, error: 'Could not resolve host: payments.invalid' }],
    [
      'tls-error.json',
      'tls-error',
      'TLS with expired.tls.test:443 failed: SSL certificate problem: certificate has expired',
      { curlExit: 60, hint: '`/kdebug tls <target> expired.tls.test:443` shows the certificate and why it is not trusted' },
    ],
    ['tls-error-plain-http.json', 'tls-error', 'TLS with web.http.test:80 failed: wrong version number (the port answered, but not with TLS: plain HTTP?)', { curlExit: 35 }],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(httpCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const finding = interpretFixture(file);
    expect(finding.check).toBe('http');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headlinePattern(headline));
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toHaveLength(1);
    expect(typeof finding.facts.totalMs).toBe('number');
  });

  test('a successful exchange has the whole timing breakdown', () => {
    const curl = parseCurlOutput(fixture('ok-https.json').output);
    const { namelookup = 0, connect = 0, appconnect = 0, pretransfer = 0, starttransfer = 0, total = 0 } = curl.times;
    expect(0 < namelookup && namelookup <= connect && connect <= appconnect && appconnect <= pretransfer && pretransfer <= starttransfer && starttransfer <= total).toBe(true);
    expect(curl).toMatchObject({ connected: true, tlsStarted: true, requestSent: true, exitCode: 0, remote: { ip: '127.77.0.5', port: 443 } });
    expect(curl.headers).toMatchObject({ server: 'kdebug-test', 'content-type': 'text/plain; charset=utf-8' });
  });
});

describe('httpCheck.interpret on anything else', () => {
  const args: HttpArgs = { url: 'https://web.prod/healthz' };
  const run = (output: string, exitCode: number | null = 0) => httpCheck.interpret(args, [{ id: 'curl', argv: ['curl', '--max-time', '5'], exitCode, output }]);
  const writeOut = (fields: Record<string, string | number>) =>
    `\n--- curl --write-out ---\n${Object.entries(fields)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`;

  test('HTTP/2 has no reason phrase: the standard one is used', () => {
    const output = `< HTTP/2 503\n< server: envoy\n< content-type: text/html\n<\n${writeOut({ exitcode: 0, response_code: 503, http_version: 2, time_total: 0.12 })}`;
    const finding = run(output);
    expect(finding.verdict).toBe('http-error');
    expect(finding.headline).toBe('https://web.prod/healthz answered 503 Service Unavailable in 120 ms');
    expect(finding.facts).toMatchObject({ status: '503 Service Unavailable', httpVersion: 'HTTP/2', server: 'envoy' });
  });

  test('headers arrived but the body did not finish in time', () => {
    const output = `< HTTP/1.1 200 OK\n<\ncurl: (28) Operation timed out after 5000 milliseconds with 1024 bytes received\n${writeOut({ exitcode: 28, response_code: 200, time_total: 5 })}`;
    expect(run(output, 28)).toMatchObject({ verdict: 'timeout', headline: 'https://web.prod/healthz answered 200 OK but the response did not finish within 5 s' });
  });

  test('a connect failure other than a refusal is named, not called a refusal', () => {
    const output = `*   Trying 10.0.0.5:443...\n* connect to 10.0.0.5 port 443 failed: No route to host\ncurl: (7) Failed to connect to web.prod port 443 after 3 ms: Couldn't connect to server\n${writeOut({ exitcode: 7 })}`;
    expect(run(output, 7)).toMatchObject({ verdict: 'connection-refused', headline: 'could not connect to web.prod:443 (10.0.0.5): No route to host' });
  });

  test('curl older than 7.75 (no %{exitcode}): the `curl: (N)` line and the exit code still count', () => {
    expect(run('curl: (6) Could not resolve host: web.prod\n', 6)).toMatchObject({ verdict: 'dns-failure', headline: 'could not resolve web.prod' });
    expect(run('< HTTP/1.1 204 No Content\n<\n', 0)).toMatchObject({ verdict: 'ok', headline: 'https://web.prod/healthz answered 204 No Content' });
  });

  test('a step that never finished', () => {
    expect(run('', null)).toMatchObject({ verdict: 'timeout', headline: 'no answer from web.prod:443: curl did not finish in time (it printed nothing)' });
    const connecting = '*   Trying 10.0.0.5:443...\n';
    expect(run(connecting, null)).toMatchObject({
      verdict: 'timeout',
      headline: 'no answer from web.prod:443: curl did not finish in time (the TCP connection to 10.0.0.5:443 never completed)',
    });
  });

  test('curl missing from the image', () => {
    expect(run('exec: "curl": executable file not found in $PATH\n', 127)).toMatchObject({
      verdict: 'timeout',
      headline: 'No HTTP answer from web.prod:443: curl exited with code 127: exec: "curl": executable file not found in $PATH',
    });
  });

  test('nothing the server sends can pose as the write-out block', () => {
    const output = `< HTTP/1.1 500 Internal Server Error\n< x-evil: exitcode=0\n<\n${writeOut({ exitcode: 0, response_code: 500 })}`;
    expect(run(output).verdict).toBe('http-error');
  });

  test('never throws: garbage, truncation at every point, odd exit codes, odd arguments', () => {
    const outputs = [
      '',
      '\n\n',
      '--- curl --write-out ---',
      '--- curl --write-out ---\nexitcode=x\ntime_total=-1',
      '< HTTP/1.1 999',
      '\u0000\uffff'.repeat(50),
      'x'.repeat(100_000),
      '* connect to  port  failed: ',
    ];
    for (const file of fixtureFiles) {
      const { output } = fixture(file);
      for (let cut = 0; cut < output.length; cut += 23) outputs.push(output.slice(0, cut));
    }
    const vocabulary = new Set<string>(Object.keys(httpCheck.verdicts));
    for (const output of outputs) {
      for (const exitCode of [0, 7, 28, null]) {
        const finding = httpCheck.interpret(args, [{ id: 'curl', argv: [], exitCode, output }]);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline.length).toBeGreaterThan(0);
        // Handled by the parser itself, not by interpret()'s last-resort catch.
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
    const oddArgs = [{ url: '' }, { url: 'not a url' }, {} as HttpArgs, undefined as unknown as HttpArgs];
    const oddResults = [null, [null], [{ id: 'curl' }], [{ id: 'curl', output: 42, argv: 'x' }]] as unknown as StepResult[][];
    for (const a of oddArgs) {
      for (const r of oddResults) {
        const finding = httpCheck.interpret(a, r);
        expect(vocabulary.has(finding.verdict)).toBe(true);
        expect(finding.headline).not.toMatch(/^Could not interpret/);
      }
    }
  });
});
