// What every check declares, held to one standard: the registry is where config, renderers, exit
// codes, triage and policy read a check from, so a wrong declaration would mislead all of them.
import { checks, sensitiveCheckNames, unprivilegedCheckNames, verdictClass } from '../../../src/checks/index.js';

const all = [...checks.values()];

describe('the check registry', () => {
  test('a verdict word means the same in every check: one class, one severity', () => {
    const seen = new Map<string, { check: string; spec: unknown }>();
    for (const check of all) {
      for (const [verdict, spec] of Object.entries(check.verdicts)) {
        const first = seen.get(verdict);
        if (first) expect({ verdict, check: check.name, spec }).toEqual({ verdict, check: check.name, spec: first.spec });
        else seen.set(verdict, { check: check.name, spec });
      }
    }
    expect(seen.size).toBeGreaterThan(20);
  });

  test('severities sit in their class band: good 0, warnings 20-49, bad 50-100', () => {
    for (const check of all) {
      for (const [verdict, { class: kind, severity }] of Object.entries(check.verdicts)) {
        const [low, high] = { good: [0, 0], warning: [20, 49], bad: [50, 100] }[kind] as [number, number];
        expect({ check: check.name, verdict, inBand: severity >= low && severity <= high }).toEqual({ check: check.name, verdict, inBand: true });
      }
    }
  });

  test('every check has exactly one good verdict and documents every verdict in its help', () => {
    for (const check of all) {
      const good = Object.entries(check.verdicts).filter(([, spec]) => spec.class === 'good');
      // triage also lists conn's `open` among its parts' words, but answers `ok` when all is good.
      expect({ check: check.name, good: good.length }).toEqual({ check: check.name, good: check.name === 'triage' ? 2 : 1 });
      for (const verdict of Object.keys(check.verdicts))
        expect({ check: check.name, documented: check.help.includes(`\`${verdict}\``) }).toEqual({ check: check.name, documented: true });
    }
  });

  test('settings: every field has a default, and unknown fields are refused', () => {
    for (const check of all.filter((c) => c.settings)) {
      expect(() => {
        check.settings!.parse({});
      }).not.toThrow();
      expect(check.settings!.safeParse({ noSuchSetting: 1 }).success).toBe(false);
    }
  });

  test('sensitivity, capabilities and deadlines as the README documents them', () => {
    expect(sensitiveCheckNames()).toEqual(['capture']);
    expect(unprivilegedCheckNames().sort()).toEqual(['conn', 'dns', 'http', 'listen', 'ping', 'tls', 'triage']);
    expect(Object.fromEntries(all.filter((c) => c.defaultTimeoutSeconds).map((c) => [c.name, c.defaultTimeoutSeconds]))).toEqual({ capture: 120, trace: 90, triage: 90 });
  });

  test('verdictClass reads the check; a word it does not declare is bad', () => {
    expect(verdictClass('dns', 'ok')).toBe('good');
    expect(verdictClass('conn', 'open')).toBe('good');
    expect(verdictClass('dns', 'no-answer')).toBe('warning');
    expect(verdictClass('capture', 'no-packets')).toBe('warning');
    expect(verdictClass('trace', 'incomplete')).toBe('warning');
    expect(verdictClass('dns', 'nxdomain')).toBe('bad');
    expect(verdictClass('dns', 'failed')).toBe('bad');
    expect(verdictClass('nosuch', 'ok')).toBe('bad');
  });
});
