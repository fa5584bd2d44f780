// Real curl and openssl against the test servers: every verdict of the http and tls checks that
// loopback can produce, through the checks' own parseArgs → steps → interpret. The servers are
// told what to do (answer 200 or 503, never answer, present an expired certificate...), so this is
// what keeps the recorded fixtures in test/fixtures/{http,tls} honest.
//
// Names such as valid.tls.test resolve through a test DNS server in a private mount namespace (see
// test/support/web-site.ts), which needs root, `unshare` and `mount`.
import { httpCheck } from '../../src/checks/http.js';
import { tlsCheck } from '../../src/checks/tls.js';
import type { CheckContext, CheckDefinition, Finding, StepResult } from '../../src/checks/types.js';
import { startSite, urlOf, type Site } from '../support/web-site.js';

/** Short, so the timeout cases take 2 s each. */
const context: CheckContext = { settings: { http: { maxSeconds: 2 }, tls: { maxSeconds: 2 } }, now: new Date() };

let site: Site;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this end-to-end test resolves test names in a private mount namespace, which needs root');
  // A random loopback address for the name server (port 53), so parallel runs do not collide.
  const nameserver = `127.53.${200 + Math.floor(Math.random() * 50)}.${1 + Math.floor(Math.random() * 250)}`;
  site = await startSite({ addresses: 'random', nameserver });
});

afterAll(async () => {
  await site?.stop();
});

/** The whole check as the bot runs it, the tools running against the site. */
async function check<A>(definition: CheckDefinition<A>, target: string, options: Record<string, string> = {}): Promise<Finding> {
  const parsed = definition.parseArgs([target], options);
  if (!parsed.ok) throw new Error(parsed.message);
  const results: StepResult[] = [];
  for (const step of definition.steps(parsed.args, context)) results.push({ ...step, ...(await site.run(step.argv)) });
  // `now` is read at the end: the certificates were made after the context above.
  return definition.interpret(parsed.args, results, { ...context, now: new Date() });
}

const trustTestCa = () => ({ cacert: site.certs.ca.certFile });

describe('http: real curl', () => {
  test.each<[string, () => string, boolean, string, RegExp]>([
    ['200', () => urlOf(site.endpoints.web, 'http', '/healthz'), false, 'ok', /^http:\/\/web\.http\.test:\d+\/healthz answered 200 OK in [\d.]+ m?s$/],
    ['302 (not followed)', () => urlOf(site.endpoints.web, 'http', '/status/302'), false, 'ok', /answered 302 Found in .* → \/login$/],
    ['503', () => urlOf(site.endpoints.web, 'http', '/status/503'), false, 'http-error', /answered 503 Service Unavailable in /],
    ['https, trusting the test CA', () => urlOf(site.endpoints.valid, 'https', '/healthz'), true, 'ok', /^https:\/\/valid\.tls\.test:\d+\/healthz answered 200 OK in /],
    [
      'https without the test CA',
      () => urlOf(site.endpoints.valid, 'https', '/'),
      false,
      'tls-error',
      /^TLS with valid\.tls\.test:\d+ failed: SSL certificate problem: unable to get local issuer certificate$/,
    ],
    ['https, expired certificate', () => urlOf(site.endpoints.expired, 'https', '/'), true, 'tls-error', /failed: SSL certificate problem: certificate has expired$/],
    ['a server that hangs up', () => urlOf(site.endpoints['hang-up'], 'http', '/'), false, 'http-error', /closed the connection without an HTTP answer/],
    ['nothing listening', () => urlOf(site.endpoints.closed, 'http', '/'), false, 'connection-refused', /^connection refused by closed\.http\.test:\d+ \(127\.0\.0\.1\)$/],
    ['a name that does not exist', () => 'http://web.invalid/', false, 'dns-failure', /^could not resolve web\.invalid$/],
    [
      'a server that never answers',
      () => urlOf(site.endpoints['stuck-http'], 'http', '/'),
      false,
      'timeout',
      /^no answer from stuck\.http\.test:\d+ within 2 s \(connected and sent the request; no response\)$/,
    ],
  ])('%s', async (_label, url, cacert, verdict, headline) => {
    const finding = await check(httpCheck, url(), cacert ? trustTestCa() : {});
    expect({ verdict: finding.verdict, headline: finding.headline }).toEqual({ verdict, headline: expect.stringMatching(headline) as string });
  });

  test('the facts carry the status, headers and timing', async () => {
    const finding = await check(httpCheck, urlOf(site.endpoints.valid, 'https', '/status/204'), trustTestCa());
    expect(finding.facts).toMatchObject({
      status: '204 No Content',
      server: 'kdebug-test',
      remote: `127.0.0.1:${site.endpoints.valid.port}`,
      tls: expect.stringMatching(/^TLSv1\.[23] \/ /) as string,
      timing: expect.stringMatching(/^DNS .*, connect .*, TLS .*, first byte .*, total .*$/) as string,
    });
  });
});

describe('tls: real openssl s_client', () => {
  const at = (name: keyof Site['endpoints']) => `${site.endpoints[name].host}:${site.endpoints[name].port}`;

  test.each<[string, keyof Site['endpoints'], boolean, string, RegExp]>([
    [
      'valid, trusting the test CA',
      'valid',
      true,
      'ok',
      /^certificate for valid\.tls\.test is valid for another 89 days \(notAfter \d{4}-\d\d-\d\d\), issued by CN=kdebug test CA$/,
    ],
    ['valid, without the test CA', 'valid', false, 'untrusted-issuer', /^certificate for valid\.tls\.test is issued by CN=kdebug test CA, which is not trusted here/],
    ['expiring in 3 days', 'expiring-soon', true, 'expiring-soon', /^certificate for expiring\.tls\.test expires in 3 days \(notAfter /],
    ['expired 2 days ago', 'expired', true, 'expired', /^certificate for expired\.tls\.test expired 2 days ago \(notAfter \d{4}-\d\d-\d\d\)$/],
    ['valid in 3 days', 'not-yet-valid', true, 'not-yet-valid', /^certificate for future\.tls\.test is not valid for another 3 days \(notBefore /],
    ['for another name', 'wrong-name', true, 'hostname-mismatch', /^wrong-name\.tls\.test:\d+ presented a certificate for www\.other\.test, not wrong-name\.tls\.test$/],
    ['self-signed', 'self-signed', true, 'self-signed', /^self-signed\.tls\.test:\d+ presented a self-signed certificate \(CN=self-signed\.tls\.test\)$/],
    ['from an unknown CA', 'unknown-issuer', true, 'untrusted-issuer', /^certificate for unknown-ca\.tls\.test is issued by CN=Unknown Test CA, which is not trusted here/],
    [
      'expired, wrong name and untrusted at once',
      'alias-of-expired',
      false,
      'expired',
      /^certificate for alias\.tls\.test expired 2 days ago .*; also wrong name, untrusted issuer$/,
    ],
    ['a plain-HTTP port', 'web', false, 'handshake-failed', /failed: wrong version number \(the port answered, but not with TLS: plain HTTP\?\)$/],
    ['nothing listening', 'closed', false, 'connection-refused', /^connection refused by closed\.http\.test:\d+$/],
    ['a server that never answers', 'stuck-tls', false, 'timeout', /^no answer from stuck\.tls\.test:\d+ within 2 s \(connected, but no reply to the TLS ClientHello\)$/],
  ])('%s', async (_label, name, cacert, verdict, headline) => {
    const finding = await check(tlsCheck, at(name), cacert ? trustTestCa() : {});
    expect({ verdict: finding.verdict, headline: finding.headline }).toEqual({ verdict, headline: expect.stringMatching(headline) as string });
  });

  test('by IP address: no SNI, and the IP is checked against the certificate (valid for 127.0.0.1)', async () => {
    const finding = await check(tlsCheck, `127.0.0.1:${site.endpoints.valid.port}`, trustTestCa());
    expect(finding.verdict).toBe('ok');
    expect(finding.facts).toMatchObject({ sans: ['DNS:valid.tls.test', 'IP Address:127.0.0.1'], verifyResult: '0 (ok)' });
  });

  test('a name that does not exist', async () => {
    const finding = await check(tlsCheck, 'api.invalid');
    expect(finding).toMatchObject({ verdict: 'dns-failure', headline: expect.stringMatching(/^could not resolve api\.invalid \(/) as string });
  });

  test('the certificate facts match the certificate served', async () => {
    const finding = await check(tlsCheck, at('valid'), trustTestCa());
    const { X509Certificate } = await import('node:crypto');
    const served = new X509Certificate(site.certs.certs.valid.cert);
    expect(finding.facts).toMatchObject({
      subject: 'CN=valid.tls.test',
      issuer: 'CN=kdebug test CA',
      notAfter: served.validToDate.toISOString().replace('.000Z', 'Z'),
      fingerprintSha256: served.fingerprint256,
      protocol: expect.stringMatching(/^TLSv1\.[23]$/) as string,
    });
  });
});
