import { tokenize } from '../../../src/grammar/parse.js';

function tokens(text: string): string[] {
  const r = tokenize(text);
  if (!r.ok) throw new Error(`tokenize(${JSON.stringify(text)}) failed: ${r.message}`);
  return r.tokens;
}

describe('tokenize: words', () => {
  test.each<[string, string[]]>([
    ['', []],
    ['   ', []],
    ['dns web-7f9c -n prod', ['dns', 'web-7f9c', '-n', 'prod']],
    ['  dns   web  ', ['dns', 'web']],
    ['dns\tweb\nprod', ['dns', 'web', 'prod']],
    ['dns\u00a0web', ['dns', 'web']], // Slack sometimes sends non-breaking spaces
    ['a\\b', ['a\\b']], // backslash is not an escape
    ['-n=prod', ['-n=prod']],
  ])('%j → %j', (text, expected) => {
    expect(tokens(text)).toEqual(expected);
  });
});

describe('tokenize: quotes', () => {
  test.each<[string, string[]]>([
    ['"a b" c', ['a b', 'c']],
    ["'a b' c", ['a b', 'c']],
    ['\u201Ca b\u201D', ['a b']], // “ ” smart double quotes
    ['\u2018a b\u2019', ['a b']], // ‘ ’ smart single quotes
    ['\u201Ca b"', ['a b']], // a quote closes with any quote of its family
    ['"a b\u201C', ['a b']],
    ['"it\'s"', ["it's"]], // the other family is literal inside quotes
    ['\'say "hi"\'', ['say "hi"']],
    ['--server="10.0.0.10"', ['--server=10.0.0.10']], // quotes can sit inside a word
    ['x"y z"w', ['xy zw']],
    ['""', ['']], // an empty quoted word is still a word
    ["a '' b", ['a', '', 'b']],
    ['"  "', ['  ']],
  ])('%j → %j', (text, expected) => {
    expect(tokens(text)).toEqual(expected);
  });

  test.each<[string, string[]]>([
    ['dns web "payments', ['never closed', '`payments`']],
    ["it's", ['never closed']],
    ['\u201Cabc', ['never closed']],
    ['abc "', ['never closed', 'at the end']],
    ['"a" "b', ['never closed', '`b`']],
  ])('unbalanced %j is an error', (text, fragments) => {
    const r = tokenize(text);
    expect(r.ok).toBe(false);
    if (!r.ok) for (const f of fragments) expect(r.message).toContain(f);
  });
});

describe('tokenize: Slack markup and entities', () => {
  test.each<[string, string[]]>([
    ['<http://x.y|x.y>', ['x.y']], // Slack auto-linked a bare host name: keep what was typed
    ['<http://x.y>', ['http://x.y']],
    ['<http://x.y/a|x.y/b>', ['http://x.y/a']],
    ['<https://x.y/path>', ['https://x.y/path']],
    ['<mailto:a@b|a@b>', ['a@b']],
    ['<mailto:a@b>', ['a@b']],
    ['<@U123|bob>', ['@bob']],
    ['<@U123>', ['@U123']],
    ['<#C123|general>', ['#general']],
    ['<#C123>', ['#C123']],
    ['<!here>', ['@here']],
    ['<!subteam^S1|@ops>', ['@ops']],
    ['<!date^1700000000^{date}|Nov 14>', ['Nov 14']], // a label may hold spaces; it stays one word
    ['dns web <http://payments.example.com|payments.example.com> -n prod', ['dns', 'web', 'payments.example.com', '-n', 'prod']],
    ['"<http://x.y>"', ['http://x.y']], // unwrapped inside quotes too
    ['--url=<http://x.y>', ['--url=http://x.y']],
    ['<http://a.b/?x=1&amp;y=2|a.b>', ['http://a.b/?x=1&y=2']],
    ["<http://x.y/it's|x>", ["http://x.y/it's"]], // a quote inside markup is not a quote
    ['a&amp;b', ['a&b']],
    ['&lt;target&gt;', ['<target>']], // an escaped < is text, not markup
    ['&quot;', ['&quot;']], // Slack only escapes &, < and >
    ['<abc', ['<abc']], // not markup: no closing >
    ['< x>', ['<', 'x>']],
  ])('%j → %j', (text, expected) => {
    expect(tokens(text)).toEqual(expected);
  });
});
