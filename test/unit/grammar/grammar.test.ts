import type { CheckRegistry } from '../../../src/checks/index.js';
import type { ArgsResult, CheckDefinition } from '../../../src/checks/types.js';
import { formatDuration } from '../../../src/core/duration.js';
import {
  type DiagnosticRequest,
  GENERAL_USAGE,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  parseCommandText,
  type ParseResult,
  parseTarget,
  parseTimeout,
  parseTokens,
  usageLine,
} from '../../../src/grammar/parse.js';
import { checkHelp, generalHelp } from '../../../src/grammar/help.js';
import { isDns1123Label, isDns1123Subdomain } from '../../../src/core/kube-names.js';

// Small fake checks: the grammar only needs their names, usage, options and parseArgs.
function fakeCheck(
  name: string,
  usage: string,
  options: string[],
  parseArgs: (positional: string[], options: Record<string, string>) => ArgsResult<unknown>,
): CheckDefinition<unknown> {
  return {
    name,
    summary: `${name} summary`,
    usage,
    help: `${name} long help`,
    verdicts: { ok: { class: 'good', severity: 0 }, bad: { class: 'bad', severity: 60 } },
    capabilities: [],
    options: options.map((o) => ({ name: o, valueName: o === 'server' ? 'IP[:PORT]' : 'VALUE', description: `the ${o}` })),
    parseArgs,
    steps: () => [],
    interpret: () => ({ check: name, verdict: 'ok', headline: '', facts: {}, steps: [] }),
  };
}

const dns = fakeCheck('dns', 'dns <target> [name…] [--server IP[:PORT]]', ['server'], (positional, options) => {
  if (positional.some((p) => /\s/.test(p) || p === '')) return { ok: false, message: 'Each name must be one DNS name.' };
  if (options.server !== undefined && !/^\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(options.server)) {
    return { ok: false, message: '`--server` must be an IP address, optionally with :PORT, e.g. `10.96.0.10`.' };
  }
  return { ok: true, args: { positional, options } };
});
const tls = fakeCheck('tls', 'tls <target> <host[:port]> [--sni NAME]', ['sni'], (positional) =>
  positional.length === 1 ? { ok: true, args: positional } : { ok: false, message: 'tls needs the host to connect to, e.g. `api.example.com:443`.' },
);
const http = fakeCheck('http', 'http <target> <url>', [], () => ({ ok: true, args: {} }));

const checks: CheckRegistry = new Map([
  ['dns', dns],
  ['tls', tls],
  ['http', http],
]);

function parse(text: string, registry: CheckRegistry = checks): ParseResult {
  return parseCommandText(text, registry);
}

function requestOf(text: string, registry: CheckRegistry = checks): DiagnosticRequest {
  const r = parse(text, registry);
  if (r.kind !== 'request') throw new Error(`expected a request for ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  return r.request;
}

function usageOf(text: string, registry: CheckRegistry = checks): string {
  const r = parse(text, registry);
  if (r.kind !== 'usage') throw new Error(`expected a usage error for ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  return r.message;
}

const DNS_USAGE = '`/kdebug dns <target> [name…] [--server IP[:PORT]] [-n NAMESPACE] [-c CONTAINER] [--timeout 30s] [--all | -l SELECTOR]`';
const DNS_MORE = '`/kdebug help dns`';

describe('help', () => {
  test.each<[string, ParseResult]>([
    ['', { kind: 'help' }],
    ['   \n ', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['HELP', { kind: 'help' }],
    ['help help', { kind: 'help' }],
    ['help dns', { kind: 'help', check: 'dns' }],
    ['help DNS', { kind: 'help', check: 'dns' }],
    ['help tls extra words', { kind: 'help', check: 'tls' }],
    ['help --help', { kind: 'help' }],
    ['-h', { kind: 'help' }],
    ['--help', { kind: 'help' }],
    ['nosuch --help', { kind: 'help' }],
    ['dns --help', { kind: 'help', check: 'dns' }],
    ['dns -h', { kind: 'help', check: 'dns' }],
    ['dns web-7f9c -n prod -h', { kind: 'help', check: 'dns' }],
    ['dns --help=yes', { kind: 'help', check: 'dns' }],
    ['dns --bogus Web_1 --help', { kind: 'help', check: 'dns' }], // help wins over errors
    ['dns help', { kind: 'help', check: 'dns' }],
    ['tls HELP', { kind: 'help', check: 'tls' }],
  ])('%j → %j', (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  test('help after -- is an argument, not a request for help', () => {
    expect(requestOf('dns web -- --help').positional).toEqual(['--help']);
  });

  test('a pod really called "help" is reachable as pod/help', () => {
    expect(requestOf('dns pod/help').target).toEqual({ kind: 'pod', name: 'help' });
  });

  test.each<[string, string[]]>([
    ['help dsn', ["There's no check called `dsn`.", 'Did you mean `dns`?', 'Checks: `dns`, `tls`, `http`.', '`/kdebug help`']],
    ['help nosuch', ["There's no check called `nosuch`.", 'Checks: `dns`, `tls`, `http`.', `Usage: \`${GENERAL_USAGE}\``]],
  ])('%j is a usage error', (text, fragments) => {
    const message = usageOf(text);
    for (const f of fragments) expect(message).toContain(f);
  });

  test('help nosuch has nothing close to suggest', () => {
    expect(usageOf('help nosuch')).not.toContain('Did you mean');
  });
});

describe('requests', () => {
  test('the minimal request has no optional fields', () => {
    expect(parse('dns web-7f9c')).toEqual({
      kind: 'request',
      request: { check: 'dns', target: { kind: 'pod', name: 'web-7f9c' }, positional: [], options: {} },
    });
    expect(Object.keys(requestOf('dns web-7f9c')).sort()).toEqual(['check', 'options', 'positional', 'target']);
  });

  test('the full request', () => {
    expect(requestOf('dns deploy/web -n prod payments.prod.svc.cluster.local -c app --timeout 1m30s --server 10.96.0.10:53')).toEqual({
      check: 'dns',
      target: { kind: 'deployment', name: 'web' },
      namespace: 'prod',
      container: 'app',
      timeoutSeconds: 90,
      positional: ['payments.prod.svc.cluster.local'],
      options: { server: '10.96.0.10:53' },
    });
  });

  test.each<[string, Partial<DiagnosticRequest>]>([
    ['dns web -n prod', { namespace: 'prod' }],
    ['dns web -n=prod', { namespace: 'prod' }],
    ['dns web --namespace prod', { namespace: 'prod' }],
    ['dns web --namespace=prod', { namespace: 'prod' }],
    ['dns web -c app', { container: 'app' }],
    ['dns web -c=app', { container: 'app' }],
    ['dns web --container app', { container: 'app' }],
    ['dns web --container=app', { container: 'app' }],
    ['dns web --timeout 45', { timeoutSeconds: 45 }],
    ['dns web --timeout=2m', { timeoutSeconds: 120 }],
    ['dns web --server 10.0.0.10', { options: { server: '10.0.0.10' } }],
    ['dns web --server=10.0.0.10', { options: { server: '10.0.0.10' } }],
    ['dns web --server="10.0.0.10"', { options: { server: '10.0.0.10' } }],
    ['dns -n prod web', { namespace: 'prod', target: { kind: 'pod', name: 'web' } }], // flags before the target
    ['dns -n prod web a.example b.example', { positional: ['a.example', 'b.example'] }],
    ['dns web a.example -n prod b.example', { positional: ['a.example', 'b.example'] }], // flags between arguments
    ['dns web -- -weird -n', { positional: ['-weird', '-n'] }], // -- ends option parsing
    ['dns web -n prod -- --server', { namespace: 'prod', positional: ['--server'] }],
    ['dns web -', { positional: ['-'] }], // a lone dash is a word
    ['DNS web', { check: 'dns' }],
    ['dns web “a.example”', { positional: ['a.example'] }],
    ['dns web <http://payments.example.com|payments.example.com>', { positional: ['payments.example.com'] }],
    ['tls web api.example.com:443 --sni api.example.com', { check: 'tls', options: { sni: 'api.example.com' } }],
  ])('%j', (text, expected) => {
    expect(requestOf(text)).toMatchObject(expected);
  });

  test.each<[string, string, string]>([
    ['web-7f9c', 'pod', 'web-7f9c'],
    ['pod/web-7f9c', 'pod', 'web-7f9c'],
    ['pods/web-7f9c', 'pod', 'web-7f9c'],
    ['po/web-7f9c', 'pod', 'web-7f9c'],
    ['deploy/web', 'deployment', 'web'],
    ['deployment/web', 'deployment', 'web'],
    ['deployments/web', 'deployment', 'web'],
    ['Deploy/web', 'deployment', 'web'],
    ['sts/db', 'statefulset', 'db'],
    ['statefulset/db', 'statefulset', 'db'],
    ['statefulsets/db', 'statefulset', 'db'],
    ['ds/agent', 'daemonset', 'agent'],
    ['daemonset/agent', 'daemonset', 'agent'],
    ['daemonsets/agent', 'daemonset', 'agent'],
    ['web.v2', 'pod', 'web.v2'],
    ['deploy/web.v2', 'deployment', 'web.v2'],
  ])('target %j → %s %s', (text, kind, name) => {
    expect(requestOf(`dns ${text}`).target).toEqual({ kind, name });
    expect(parseTarget(text)).toEqual({ ok: true, target: { kind, name } });
  });

  test('the check receives the positional arguments and options', () => {
    const seen: Array<[string[], Record<string, string>]> = [];
    const spy = fakeCheck('dns', dns.usage, ['server'], (p, o) => {
      seen.push([p, o]);
      return { ok: true, args: {} };
    });
    requestOf('dns web a b --server 1.2.3.4', new Map([['dns', spy]]));
    expect(seen).toEqual([[['a', 'b'], { server: '1.2.3.4' }]]);
  });

  test('an option named __proto__ stays plain data', () => {
    const odd = fakeCheck('odd', 'odd <target>', ['__proto__'], () => ({ ok: true, args: {} }));
    const { options } = requestOf('odd web --__proto__ x', new Map([['odd', odd]]));
    expect(Object.keys(options)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(options)).toBe(Object.prototype);
  });
});

describe('usage errors', () => {
  test.each<[string, string[]]>([
    // unknown checks, with suggestions
    ['dsn web', ['no check called `dsn`', 'Did you mean `dns`?', `Usage: \`${GENERAL_USAGE}\``, 'More: `/kdebug help`']],
    ['htp web', ['Did you mean `http`?']],
    ['xyz web', ['no check called `xyz`', 'Checks: `dns`, `tls`, `http`.']],
    ['-n prod dns web', ['Start with the check to run', '`/kdebug dns web-7f9c -n prod`']],
    ['"" web', ['Start with the check to run']],
    // missing target
    ['dns', ['Which pod?', '`/kdebug dns web-7f9c -n prod`', '`/kdebug dns deploy/web -n prod`', DNS_USAGE, DNS_MORE]],
    ['dns -n prod', ['Which pod?']],
    ['dns -- ', ['Which pod?']],
    ['dns deploy/', ['Which deployment?', '`deploy/web`']],
    // bad targets
    ['dns Web-7F9c', ['Kubernetes names are lower-case: did you mean `web-7f9c`?', DNS_USAGE, DNS_MORE]],
    ['dns deploy/Web', ['did you mean `web`?']],
    ['dns web_1', ["`web_1` isn't a valid pod name"]],
    ['dns sts/db..0', ["isn't a valid statefulset name"]],
    ['dns a/b/c', ["can't target `a/b/c`"]],
    ['dns pod/a/b', ["isn't a valid pod name"]],
    ['dns svc/web', ['A service has no network namespace of its own']],
    ['dns deploymnt/web', ['Did you mean `deployment/web`?']],
    ['dns cronjob/x', ["can't target `cronjob/x`", '`deploy/NAME`', '`sts/NAME`', '`ds/NAME`']],
    ['dns ""', ['The pod name is empty.']],
    // namespace and container
    ['dns web -n Prod', ['did you mean `prod`?', DNS_USAGE]],
    ['dns web -n prod.east', ["`prod.east` isn't a valid namespace"]],
    ['dns web -c My_App', ["`My_App` isn't a valid container name"]],
    ['dns web -n ' + 'a'.repeat(64), ['64 characters long', 'at most 63']],
    // flag values
    ['dns web -n', ['`-n` needs a value, e.g. `--namespace prod`.', DNS_USAGE, DNS_MORE]],
    ['dns web -n -c app', ['`-n` needs a value']],
    ['dns web -n=', ['`-n` needs a value']],
    ['dns web --namespace ""', ['`--namespace` needs a value']],
    ['dns web --timeout', ['`--timeout` needs a value, e.g. `--timeout 30s`.']],
    ['dns web --server', ['`--server` needs a value, e.g. `--server IP[:PORT]`.']],
    // duplicates, counting aliases as the same flag
    ['dns web -n prod -n dev', ['`--namespace` is given twice', '`-n prod`', '`-n dev`', 'give it once']],
    ['dns web -n prod --namespace=dev', ['`--namespace` is given twice', '`-n prod`', '`--namespace dev`']],
    ['dns web -c a --container b', ['`--container` is given twice']],
    ['dns web --timeout 30s --timeout 45', ['`--timeout` is given twice']],
    ['dns web --server 1.1.1.1 --server 8.8.8.8', ['`--server` is given twice']],
    // unknown flags
    ['dns web --sever 1.1.1.1', ["`--sever` isn't an option of `dns`.", 'Did you mean `--server`?', DNS_USAGE, DNS_MORE]],
    ['dns web --namspace prod', ['Did you mean `--namespace`?']],
    ['dns web --Namespace prod', ['Did you mean `--namespace`?']],
    ['dns web --timout 30s', ['Did you mean `--timeout`?']],
    [
      'dns web --zzzzzz 1',
      [
        "`--zzzzzz` isn't an option of `dns`.",
        'Options: `--server`, `-n`, `--namespace`, `-c`, `--container`, `--timeout`, `--override-budget`, `--all`, `-l`, `--selector`, `--cluster`.',
      ],
    ],
    ['tls web api.example.com --server 1.1.1.1', ["`--server` isn't an option of `tls`.", '`--sni`']],
    ['dns web -x', ["`-x` isn't an option of `dns`."]],
    // timeouts
    ['dns web --timeout 4', ['too short', 'between 5s and 10m']],
    ['dns web --timeout 11m', ['too long', 'between 5s and 10m']],
    ['dns web --timeout soon', ["Can't read the timeout `soon`", '`1m30s`']],
    // the check's own validation
    ['dns web --server bogus', ['`--server` must be an IP address', DNS_USAGE, DNS_MORE]],
    ['tls web', ['tls needs the host to connect to', '`/kdebug tls <target> <host[:port]> [--sni NAME] [-n NAMESPACE]', '`/kdebug help tls`']],
    // tokenizing
    ['dns web "payments', ['never closed', DNS_USAGE, DNS_MORE]],
    ['nosuch "web', ['never closed', `Usage: \`${GENERAL_USAGE}\``, 'More: `/kdebug help`']],
  ])('%j', (text, fragments) => {
    const message = usageOf(text);
    for (const f of fragments) expect(message).toContain(f);
  });

  test('every usage error ends with the usage line and the help pointer', () => {
    expect(usageOf('dns web --sever 1.1.1.1').split('\n').slice(-2)).toEqual([`Usage: ${DNS_USAGE}`, `More: ${DNS_MORE}`]);
    expect(usageOf('dsn web').split('\n').slice(-2)).toEqual([`Usage: \`${GENERAL_USAGE}\``, 'More: `/kdebug help`']);
  });

  test('a check whose parseArgs throws or misbehaves gives a usage error, not an exception', () => {
    const boom = fakeCheck('boom', 'boom <target>', [], () => {
      throw new Error('bug');
    });
    const silent = fakeCheck('silent', 'silent <target>', [], () => ({ ok: false, message: '' }));
    const registry = new Map([
      ['boom', boom],
      ['silent', silent],
    ]);
    expect(usageOf('boom web', registry)).toContain("Those arguments don't work for `boom`.");
    expect(usageOf('silent web', registry)).toContain("Those arguments don't work for `silent`.");
  });

  test("a usage line in the check's own message is not repeated", () => {
    const chatty = fakeCheck('chatty', 'chatty <target>', [], () => ({ ok: false, message: 'Bad name.\nUsage: `/kdebug chatty <target>`' }));
    const message = usageOf('chatty web', new Map([['chatty', chatty]]));
    expect(message).toBe('Bad name.\nUsage: `/kdebug chatty <target> [-n NAMESPACE] [-c CONTAINER] [--timeout 30s] [--all | -l SELECTOR]`\nMore: `/kdebug help chatty`');
  });

  test('long garbage is shortened in messages', () => {
    const message = usageOf(`${'q'.repeat(5000)} web`);
    expect(message.length).toBeLessThan(400);
  });
});

describe('timeouts', () => {
  test('bounds are exported', () => {
    expect(MIN_TIMEOUT_SECONDS).toBe(5);
    expect(MAX_TIMEOUT_SECONDS).toBe(600);
  });

  test.each<[string, number]>([
    ['45', 45],
    ['30s', 30],
    ['2m', 120],
    ['1m30s', 90],
    ['5', 5], // lower bound included
    ['5s', 5],
    ['10m', 600], // upper bound included
    ['600', 600],
    ['9m60s', 600],
    ['0m45s', 45],
    ['30S', 30],
  ])('%j → %i s', (text, seconds) => {
    expect(parseTimeout(text)).toEqual({ ok: true, seconds });
    expect(requestOf(`dns web --timeout ${text}`).timeoutSeconds).toBe(seconds);
  });

  test.each<[string, string]>([
    ['4', 'too short'],
    ['4s', 'too short'],
    ['0', 'too short'],
    ['601', 'too long'],
    ['10m1s', 'too long'],
    ['11m', 'too long'],
    ['1h', 'too long'],
    ['9'.repeat(400), 'too long'],
    ['abc', "Can't read"],
    ['1.5m', "Can't read"],
    ['30s1m', "Can't read"],
    ['-5', "Can't read"],
    ['s', "Can't read"],
    ['30 s', "Can't read"],
  ])('%j is rejected (%s)', (text, fragment) => {
    const r = parseTimeout(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(fragment);
  });

  test("the upper bound is the installation's jobs.maxTimeoutSeconds, not a fixed 10 minutes", () => {
    // Before: the grammar refused anything past 600 s whatever the config allowed.
    const parsed = parseCommandText('dns web --timeout 15m', checks, { maxTimeoutSeconds: 3600 });
    expect(parsed).toMatchObject({ kind: 'request', request: { timeoutSeconds: 900 } });
    const capped = parseCommandText('dns web --timeout 2m', checks, { maxTimeoutSeconds: 60 });
    expect(capped.kind === 'usage' && capped.message).toContain('too long: it must be between 5s and 1m');
    expect(generalHelp(checks, { maxTimeoutSeconds: 3600 })).toContain('from 5s to 60m');
    expect(checkHelp(checks.get('dns')!, { maxTimeoutSeconds: 3600 })).toContain('from 5s to 60m');
  });

  test('--timeout=-5 reaches the timeout check; --timeout -5 reads -5 as a flag', () => {
    expect(usageOf('dns web --timeout=-5')).toContain("Can't read");
    expect(usageOf('dns web --timeout -5')).toContain('needs a value');
  });

  test.each([
    [5, '5s'],
    [90, '1m30s'],
    [600, '10m'],
  ])('formatDuration(%i) = %s', (s, text) => expect(formatDuration(s)).toBe(text));
});

describe('parseTokens (CLI argv)', () => {
  test('parses argv the same way, without re-tokenizing', () => {
    expect(parseTokens(['dns', 'web', '-n', 'prod', '<http://x|x>', 'a "b'], new Map([['dns', fakeCheck('dns', dns.usage, [], () => ({ ok: true, args: {} }))]]))).toEqual({
      kind: 'request',
      request: { check: 'dns', target: { kind: 'pod', name: 'web' }, namespace: 'prod', positional: ['<http://x|x>', 'a "b'], options: {} },
    });
  });

  test('words with spaces reach the check as one argument', () => {
    expect(parseTokens(['dns', 'web', 'a b'], checks)).toMatchObject({ kind: 'usage', message: expect.stringContaining('one DNS name') as string });
  });

  test.each<[string[], ParseResult['kind']]>([
    [[], 'help'],
    [['help'], 'help'],
    [['help', 'dns'], 'help'],
    [['dns', 'web'], 'request'],
    [['dns'], 'usage'],
  ])('%j → %s', (argv, kind) => {
    expect(parseTokens(argv, checks).kind).toBe(kind);
  });
});

describe('help texts', () => {
  test('general help lists usage, checks, targets, flags and examples', () => {
    const text = generalHelp(checks);
    for (const f of [
      GENERAL_USAGE,
      '/kdebug help <check>',
      '`dns`: dns summary',
      usageLine(dns),
      '`tls`: tls summary',
      '`deploy/web`',
      '`sts/db`',
      '`ds/agent`',
      '`-n NAMESPACE`, `--namespace NAMESPACE`',
      '`-c CONTAINER`, `--container CONTAINER`',
      '`--timeout 30s`',
      'from 5s to 10m',
      '`/kdebug dns web-7f9c -n prod`',
      '`/kdebug dns deploy/web -n prod payments.prod.svc.cluster.local`',
    ]) {
      expect(text).toContain(f);
    }
  });

  test('general help without dns uses another check in its examples', () => {
    const text = generalHelp(new Map([['tls', tls]]));
    expect(text).toContain('`/kdebug tls web-7f9c -n prod`');
    expect(text).not.toContain('/kdebug dns');
    expect(generalHelp(new Map())).toContain('No checks are installed.');
  });

  test('check help shows usage, own help, options, verdicts and the common flags', () => {
    const text = checkHelp(dns);
    for (const f of [DNS_USAGE, 'dns long help', '`--server IP[:PORT]`: the server', '*Verdicts*: `ok`, `bad`', '`--namespace NAMESPACE`', '`deploy/web`']) {
      expect(text).toContain(f);
    }
    expect(text).not.toContain('Needs capabilities');
    expect(checkHelp({ ...dns, capabilities: ['NET_RAW'] })).toContain('*Needs capabilities*: `NET_RAW`');
  });
});

describe('never throws', () => {
  // A small deterministic PRNG, so a failure is reproducible.
  function mulberry32(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const boom = fakeCheck('boom', 'boom <target>', ['x'], () => {
    throw new Error('bug');
  });
  const odd = fakeCheck('odd', 'odd <target>', ['__proto__', 'constructor', 'namespace'], () => ({ ok: true, args: {} }));
  const registry: CheckRegistry = new Map([...checks, ['boom', boom], ['odd', odd]]);

  const pieces = [
    'dns',
    'tls',
    'http',
    'boom',
    'odd',
    'help',
    'HELP',
    '-h',
    '--help',
    '-n',
    '-c',
    '--namespace',
    '--container',
    '--timeout',
    '--server',
    '--sni',
    '--x',
    '--__proto__',
    '--constructor',
    '--toString',
    '__proto__',
    'constructor',
    '--',
    '-',
    '=',
    '"',
    "'",
    '\u201C',
    '\u201D',
    '\u2018',
    '\u2019',
    '<',
    '>',
    '|',
    '&amp;',
    '&lt;',
    '&gt;',
    '&',
    '<http://x.y|x.y>',
    '<mailto:a@b|a@b>',
    '<@U1>',
    '<!here>',
    'pod/',
    'deploy/',
    'sts/',
    'ds/',
    'svc/',
    '/',
    'web-7f9c',
    'Web',
    'prod',
    'a.b',
    '30s',
    '1m30s',
    '10m',
    '0',
    '4',
    '601',
    '1.2.3.4',
    'é',
    '😀',
    '\u0000',
    '\u00a0',
    '\\',
    'x'.repeat(300),
    '9'.repeat(50),
  ];
  const separators = [' ', ' ', ' ', '', '\t', '\n', '  ', '='];

  function randomText(rand: () => number): string {
    let text = '';
    const count = Math.floor(rand() * 14);
    for (let i = 0; i < count; i++) {
      if (rand() < 0.2) {
        text += String.fromCharCode(Math.floor(rand() * 0x3000)); // arbitrary code units, including lone surrogates
      } else {
        text += pieces[Math.floor(rand() * pieces.length)]!;
      }
      text += separators[Math.floor(rand() * separators.length)]!;
    }
    return text;
  }

  function assertValid(result: ParseResult, input: unknown): void {
    const where = JSON.stringify(input);
    switch (result.kind) {
      case 'request': {
        const r = result.request;
        expect(registry.has(r.check)).toBe(true);
        expect(['pod', 'deployment', 'statefulset', 'daemonset']).toContain(r.target.kind);
        expect(isDns1123Subdomain(r.target.name)).toBe(true);
        if (r.namespace !== undefined) expect(isDns1123Label(r.namespace)).toBe(true);
        if (r.container !== undefined) expect(isDns1123Label(r.container)).toBe(true);
        if (r.timeoutSeconds !== undefined) {
          expect(r.timeoutSeconds).toBeGreaterThanOrEqual(MIN_TIMEOUT_SECONDS);
          expect(r.timeoutSeconds).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
        }
        expect(Array.isArray(r.positional)).toBe(true);
        for (const value of Object.values(r.options)) expect(typeof value).toBe('string');
        // The request holds only what the check accepted.
        expect(registry.get(r.check)!.parseArgs(r.positional, r.options).ok).toBe(true);
        break;
      }
      case 'help':
        if (result.check !== undefined) expect(registry.has(result.check)).toBe(true);
        break;
      case 'usage':
        expect(typeof result.message).toBe('string');
        if (!result.message.includes('\nUsage: `')) throw new Error(`usage message without a usage line for ${where}: ${result.message}`);
        break;
      default:
        throw new Error(`not a ParseResult for ${where}: ${JSON.stringify(result)}`);
    }
  }

  test('parseCommandText on 5000 random strings', () => {
    const rand = mulberry32(20240601);
    const kinds = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const text = randomText(rand);
      let result: ParseResult;
      try {
        result = parseCommandText(text, registry);
      } catch (err) {
        throw new Error(`parseCommandText threw on ${JSON.stringify(text)}: ${String(err)}`, { cause: err });
      }
      assertValid(result, text);
      kinds.add(result.kind);
    }
    // The generator is varied enough to reach every outcome.
    expect([...kinds].sort()).toEqual(['help', 'request', 'usage']);
  });

  test('parseTokens on 3000 random token lists', () => {
    const rand = mulberry32(7);
    for (let i = 0; i < 3000; i++) {
      const tokens = Array.from({ length: Math.floor(rand() * 8) }, () => randomText(rand).trim());
      let result: ParseResult;
      try {
        result = parseTokens(tokens, registry);
      } catch (err) {
        throw new Error(`parseTokens threw on ${JSON.stringify(tokens)}: ${String(err)}`, { cause: err });
      }
      assertValid(result, tokens);
    }
  });

  test('an empty registry', () => {
    for (const text of ['', 'help', 'help dns', 'dns web', '-n x', '--help']) assertValid(parseCommandText(text, new Map()), text);
    expect(usageOf('dns web', new Map())).toContain('No checks are installed.');
  });
});

describe('--override-budget and --local', () => {
  test('--override-budget is a switch on a pod request', () => {
    const parsed = parseCommandText('dns web-0 -n prod --override-budget', checks);
    expect(parsed).toMatchObject({ kind: 'request', request: { overrideBudget: true, target: { kind: 'pod', name: 'web-0' } } });
    expect(usageOf('dns web-0 --override-budget=yes')).toContain('`--override-budget` takes no value.');
  });

  test('--local requests have no target, refuse pod flags and accept local-only options', () => {
    expect(parseTokens(['dns', 'a.example'], checks, { local: true })).toMatchObject({ kind: 'local', request: { check: 'dns', positional: ['a.example'] } });
    const podFlag = parseTokens(['dns', '-n', 'prod'], checks, { local: true });
    expect(podFlag.kind === 'usage' && podFlag.message).toMatch(/with --local the check runs on this machine/);
    const budget = parseTokens(['dns', '--override-budget'], checks, { local: true });
    expect(budget.kind === 'usage' && budget.message).toMatch(/with --local there is no pod/);
  });
});

test('an option that names a file on this machine is refused from Slack', async () => {
  const { checks: real } = await import('../../../src/checks/index.js');
  const parsed = parseCommandText('http web-0 https://api.prod/ --cacert /etc/ssl/ca.pem', real);
  expect(parsed.kind === 'usage' && parsed.message).toMatch(/^`--cacert` names a file on your machine, so it only works with `kdebug run http --local`\./);
  expect(parseTokens(['http', 'https://api.prod/', '--cacert', '/etc/ssl/ca.pem'], real, { local: true }).kind).toBe('local');
});

describe('--all and -l SELECTOR', () => {
  test('--all on a workload asks for every pod of it', () => {
    expect(requestOf('dns deploy/web --all -n prod payments')).toMatchObject({ all: true, target: { kind: 'deployment', name: 'web' }, positional: ['payments'] });
    expect(requestOf('dns sts/db payments --all')).toMatchObject({ all: true, target: { kind: 'statefulset', name: 'db' } });
    expect(requestOf('dns deploy/web').all).toBeUndefined();
  });

  test('-l makes the selector the target and implies --all; every word is the check’s', () => {
    expect(requestOf('dns -l app=web,tier!=db payments -n prod')).toMatchObject({ all: true, target: { kind: 'selector', name: 'app=web,tier!=db' }, positional: ['payments'] });
    expect(requestOf('dns --selector=app=web --all')).toMatchObject({ all: true, target: { kind: 'selector', name: 'app=web' }, positional: [] });
  });

  test('--all on a pod, a bad selector, and --all with --local are refused with what to do', () => {
    expect(usageOf('dns web-7f9c --all')).toMatch(
      /^--all runs `dns` on every pod of a workload: name one \(`deploy\/NAME`, `sts\/NAME`, `ds\/NAME`\) or give a label selector \(`-l app=web`\) instead of the pod `web-7f9c`\./,
    );
    expect(usageOf('dns -l "app in (a,b)"')).toMatch(/^`app in \(a` isn't a label requirement kdebug takes\. Use `key=value`/);
    expect(usageOf('dns -l app=Web_1.x=y')).toMatch(/isn't a valid label value/);
    expect(usageOf('dns -l -bad=x')).toMatch(/needs a value/);
    const local = parseTokens(['dns', '--all'], checks, { local: true });
    expect(local.kind === 'usage' && local.message).toMatch(/^`--all` is about a workload's pods; with --local there is no pod\./);
  });
});

test('a check’s switch takes no value: `tls web api:443 --chain`', async () => {
  const { checks: real } = await import('../../../src/checks/index.js');
  expect(parseCommandText('tls web-0 api.prod:443 --chain', real)).toMatchObject({ kind: 'request', request: { options: { chain: 'yes' }, positional: ['api.prod:443'] } });
  const withValue = parseCommandText('tls web-0 api.prod:443 --chain=yes', real);
  expect(withValue.kind === 'usage' && withValue.message).toMatch(/^`--chain` takes no value\./);
  expect(checkHelp(real.get('tls')!)).toContain('• `--chain`: Every certificate the server sent, in detail');
});

test('--cluster picks the cluster; its name is a DNS label', () => {
  expect(requestOf('dns web-0 -n prod --cluster prod-us')).toMatchObject({ cluster: 'prod-us', target: { kind: 'pod', name: 'web-0' } });
  expect(usageOf('dns web-0 --cluster Prod-US')).toMatch(/^Kubernetes names are lower-case: did you mean `prod-us`\?/);
});
