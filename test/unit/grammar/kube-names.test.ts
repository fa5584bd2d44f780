import {
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  inlineCode,
  isDns1123Label,
  isDns1123Subdomain,
  kubeNameProblem,
  MAX_LABEL_LENGTH,
  MAX_SUBDOMAIN_LENGTH,
} from '../../../src/core/kube-names.js';

const label63 = 'a'.repeat(63);
const subdomain253 = [label63, label63, label63, 'a'.repeat(61)].join('.'); // 63*3 + 61 + 3 dots = 253

describe('isDns1123Label (namespaces, containers)', () => {
  test.each([
    ['prod', true],
    ['a', true],
    ['0', true],
    ['kube-system', true],
    ['web-7f9c', true],
    ['123', true],
    [label63, true],
    ['a'.repeat(64), false],
    ['', false],
    ['Prod', false],
    ['-prod', false],
    ['prod-', false],
    ['prod.east', false], // dots are for subdomains only
    ['prod_east', false],
    ['prod east', false],
    ['prod\n', false],
    ['pröd', false],
  ])('%j → %s', (value, valid) => {
    expect(isDns1123Label(value)).toBe(valid);
  });
});

describe('isDns1123Subdomain (pods, workloads)', () => {
  test.each([
    ['web-7f9c', true],
    ['web.v2', true],
    ['a.b.c', true],
    ['web-7f9c-5d4b8c9f7-x2x9z', true],
    [subdomain253, true],
    [`${subdomain253}a`, false],
    ['', false],
    ['Web', false],
    ['.web', false],
    ['web.', false],
    ['web..v2', false], // each part must be a label
    ['web.-v2', false],
    ['web-.v2', false],
    ['web/v2', false],
    ['web_v2', false],
    ['web:8080', false],
  ])('%j → %s', (value, valid) => {
    expect(isDns1123Subdomain(value)).toBe(valid);
  });

  test('fixture lengths are what they claim', () => {
    expect(subdomain253).toHaveLength(MAX_SUBDOMAIN_LENGTH);
    expect(label63).toHaveLength(MAX_LABEL_LENGTH);
  });

  test('the exported patterns carry no length limit (callers pair them with the maximums)', () => {
    expect(DNS1123_LABEL.test('a'.repeat(100))).toBe(true);
    expect(DNS1123_SUBDOMAIN.test('a'.repeat(300))).toBe(true);
    expect(DNS1123_LABEL.test('a.b')).toBe(false);
    expect(DNS1123_SUBDOMAIN.test('a.b')).toBe(true);
  });
});

describe('kubeNameProblem', () => {
  test('valid names have no problem', () => {
    expect(kubeNameProblem('web-7f9c', 'subdomain', 'pod name')).toBeUndefined();
    expect(kubeNameProblem('prod', 'label', 'namespace')).toBeUndefined();
  });

  test.each<[string, 'label' | 'subdomain', string, string[]]>([
    ['Web-7F9c', 'subdomain', 'pod name', ['Kubernetes names are lower-case: did you mean `web-7f9c`?']],
    ['PROD', 'label', 'namespace', ['did you mean `prod`?']],
    ['', 'label', 'namespace', ['The namespace is empty.']],
    ['web_7f9c', 'subdomain', 'pod name', ["`web_7f9c` isn't a valid pod name", "'-' and '.'", 'starting and ending with a letter or digit']],
    ['prod.east', 'label', 'namespace', ["`prod.east` isn't a valid namespace", "lower-case letters, digits and '-',"]],
    ['a'.repeat(64), 'label', 'container name', ['64 characters long', 'at most 63']],
    ['a'.repeat(254), 'subdomain', 'pod name', ['254 characters long', 'at most 253']],
  ])('%j as %s', (value, rule, what, fragments) => {
    const message = kubeNameProblem(value, rule, what);
    for (const f of fragments) expect(message).toContain(f);
  });

  test('no lower-case hint when lower-casing would not fix it', () => {
    expect(kubeNameProblem('Web_1', 'subdomain', 'pod name')).not.toContain('did you mean');
  });
});

describe('inlineCode', () => {
  test('wraps in backticks', () => expect(inlineCode('web')).toBe('`web`'));
  test('removes backticks and line breaks that would break the span', () => {
    expect(inlineCode('a`b\nc')).toBe('`a b c`');
  });
  test('shortens long input', () => {
    const shown = inlineCode('x'.repeat(500));
    expect(shown).toBe(`\`${'x'.repeat(59)}…\``);
  });
});
