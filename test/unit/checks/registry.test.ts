// What every check declares, held to one standard: the registry is where config, renderers, exit
// codes, triage and policy read a check from, so a wrong declaration would mislead all of them.
import { FIGURE_MAX } from '../../../src/checks/fanout/facts.js';
import { checks, sensitiveCheckNames, unprivilegedCheckNames, verdictClass } from '../../../src/checks/index.js';
import type { Finding } from '../../../src/checks/types.js';
import { recordedFindings } from '../../support/recorded-findings.js';

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

  test('every check says how its findings on many pods compare (--all)', () => {
    expect(all.filter((c) => !c.fanout).map((c) => c.name)).toEqual([]);
    const traits = (names: (c: (typeof all)[number]) => boolean) =>
      all
        .filter(names)
        .map((c) => c.name)
        .sort();
    expect(traits((c) => c.fanout?.sameness !== undefined)).toEqual(['dns', 'http', 'tls', 'triage']);
    expect(traits((c) => c.fanout?.latencyMs !== undefined)).toEqual(['dns', 'http', 'ping']);
  });

  test.each(all.map((c) => c.name))('%s: a short figure for every recorded finding, and for one without facts', (name) => {
    const check = checks.get(name)!;
    const recorded = recordedFindings(name);
    expect(recorded.length).toBeGreaterThan(5);
    // What interpretSafely answers when a tool's output could not be read at all.
    const unreadable: Finding = { check: name, verdict: Object.keys(check.verdicts).at(-1)!, headline: 'Could not interpret the output', facts: {}, steps: [] };
    for (const { file, finding } of [...recorded, { file: '(no facts)', finding: unreadable }]) {
      const figure = check.fanout!.figure(finding);
      expect({ file, figure, fits: figure.length > 0 && figure.length <= FIGURE_MAX }).toEqual({ file, figure, fits: true });
      const sameness = check.fanout!.sameness?.(finding);
      if (sameness) expect({ file, value: sameness.value.length <= FIGURE_MAX, key: sameness.key !== '' }).toEqual({ file, value: true, key: true });
      const latency = check.fanout!.latencyMs?.(finding);
      if (latency !== undefined) expect({ file, latency: Number.isFinite(latency) && latency >= 0 }).toEqual({ file, latency: true });
    }
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
