import { editDistance, MAX_SUGGESTION_DISTANCE, suggest } from '../../../src/grammar/suggest.js';

describe('editDistance (Damerau-Levenshtein, optimal string alignment)', () => {
  test.each([
    ['', '', 0],
    ['dns', 'dns', 0],
    ['', 'dns', 3],
    ['dns', '', 3],
    ['dns', 'dn', 1], // deletion
    ['dns', 'dnss', 1], // insertion
    ['dns', 'dms', 1], // substitution
    ['dsn', 'dns', 1], // adjacent transposition costs 1, not 2
    ['--sever', '--server', 1],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3], // OSA: a transposed pair is not edited again
    ['😀a', 'a😀', 1], // compares characters, not UTF-16 code units
  ])('%j ↔ %j = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('suggest', () => {
  const checks = ['dns', 'tls', 'tcp', 'http', 'ping'];
  const kinds = ['statefulset', 'daemonset', 'deploy', 'deployment'];

  test.each<[string, string[], string | undefined]>([
    ['dsn', checks, 'dns'], // transposition
    ['dnss', checks, 'dns'],
    ['DNS', checks, 'dns'], // case-insensitive, returns the candidate's spelling
    ['htp', checks, 'http'],
    ['pign', checks, 'ping'],
    ['tl', checks, 'tls'], // distance 1 to tls, 2 to tcp: the closest wins
    ['t', checks, undefined], // tls and tcp equally close, and both start with t
    ['xyzzy', checks, undefined],
    ['', checks, undefined],
    ['--sever', ['--server', '--namespace', '-n'], '--server'],
    ['--namspace', ['--server', '--namespace', '-n'], '--namespace'],
    ['stat', kinds, 'statefulset'], // unique prefix
    ['daemon', kinds, 'daemonset'],
    ['dep', kinds, undefined], // ambiguous prefix
    ['dns', [], undefined],
    ['x'.repeat(100_000), checks, undefined], // huge input stays cheap
  ])('suggest(%j) → %j', (input, candidates, expected) => {
    expect(suggest(input, candidates)).toBe(expected);
  });

  test('the distance limit is 2', () => {
    expect(MAX_SUGGESTION_DISTANCE).toBe(2);
    expect(suggest('abcde', ['abxyz'])).toBeUndefined(); // distance 3
    expect(suggest('abcde', ['abcyz'])).toBe('abcyz'); // distance 2
  });

  test('duplicate candidates do not make a suggestion ambiguous', () => {
    expect(suggest('dsn', ['dns', 'dns'])).toBe('dns');
  });
});
