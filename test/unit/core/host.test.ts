// One host validator for every check: the same host is accepted or refused alike everywhere.
import { checks } from '../../../src/checks/index.js';
import { formatHostPort, hostProblem, parseHostPort } from '../../../src/core/host.js';

describe('parseHostPort', () => {
  test.each([
    ['db.prod', { host: 'db.prod' }],
    ['db.prod:5432', { host: 'db.prod', port: 5432 }],
    ['10.0.0.5:443', { host: '10.0.0.5', port: 443 }],
    ['fd00::5', { host: 'fd00::5' }],
    ['::1:53', { host: '::1:53' }],
    ['[fd00::5]', { host: 'fd00::5' }],
    ['[fd00::5]:8443', { host: 'fd00::5', port: 8443 }],
  ])('%s', (text, expected) => {
    expect(parseHostPort(text)).toEqual({ ok: true, ...expected });
  });

  test.each([
    ['10.1', /not a valid IPv4 address/],
    ['10.1:443', /not a valid IPv4 address/],
    ['db.prod:0', /port must be a number from 1 to 65535/],
    ['db.prod:http', /port must be a number/],
    ['[db.prod]:80', /is not an IPv6 address/],
    ['-oProxy:80', /starts with `-`/],
    ['a:b:c:80', /neither an IPv6 address nor a host name/],
    ['fe80::1%eth0', /zone ids/],
  ])('refuses %s', (text, message) => {
    const parsed = parseHostPort(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  test('formatHostPort brackets IPv6 only', () => {
    expect(formatHostPort('db', 80)).toBe('db:80');
    expect(formatHostPort('fd00::5', 80)).toBe('[fd00::5]:80');
  });
});

describe('every check that takes a host refuses a shortened IPv4 address alike', () => {
  // Before one validator, `tls 10.1:443` was accepted while ping and conn refused `10.1`.
  test.each<[string, string[]]>([
    ['ping', ['10.1']],
    ['conn', ['10.1', '80']],
    ['conn', ['10.1:80']],
    ['trace', ['10.1']],
    ['tls', ['10.1:443']],
    ['tls', ['10.1']],
    ['triage', ['10.1:443']],
  ])('%s %j', (name, positional) => {
    const result = checks.get(name)!.parseArgs(positional, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain('`10.1` is not a valid IPv4 address');
  });

  test('hostProblem accepts names, IPv4 and IPv6', () => {
    for (const host of ['localhost', 'db', 'a.b.c.d.e', '127.0.0.1', '::1', '::ffff:10.0.0.1', 'x'.repeat(63)]) expect(hostProblem(host)).toBeUndefined();
  });
});
