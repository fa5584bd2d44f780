import { execFileSync } from 'node:child_process';
import { buildScript, markerOf, newMarker, scriptCommand, scriptFinished, shQuote, splitOutput } from '../../../src/runner/script.js';
import type { Step } from '../../../src/checks/types.js';

/** Runs the generated script under the real sh, as the debug container does. */
function runSh(steps: Step[], marker: string): string {
  const [sh, flag, script] = scriptCommand(steps, marker);
  return execFileSync(sh!, [flag!, script!], { encoding: 'utf8' });
}

const hostile = [`it's`, '$(touch /tmp/kdebug-pwned)', '`id`', 'a\nb', '"; exit 3; "', '\\', '$HOME', '*', '', ' lead', "'", "''", '-n'];

describe('sequencing script', () => {
  test('each step receives exactly the argv that was built, whatever it contains', () => {
    const steps: Step[] = hostile.map((arg, i) => ({ id: `s${i}`, argv: ['printf', '[%s]', arg] }));
    const marker = newMarker();
    const results = splitOutput(runSh(steps, marker), steps, marker);
    expect(results.map((r) => r.output)).toEqual(hostile.map((arg) => `[${arg}]`));
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
  });

  test('exit codes and stderr are kept per step, and output without a trailing newline is exact', () => {
    const steps: Step[] = [
      { id: 'fails', argv: ['sh', '-c', 'echo out; echo err >&2; exit 7'] },
      { id: 'no-newline', argv: ['printf', 'abc'] },
      { id: 'empty', argv: ['true'] },
    ];
    const marker = newMarker();
    const [fails, noNewline, empty] = splitOutput(runSh(steps, marker), steps, marker);
    expect(fails).toMatchObject({ exitCode: 7, output: 'out\nerr\n' });
    expect(noNewline).toMatchObject({ exitCode: 0, output: 'abc' });
    expect(empty).toMatchObject({ exitCode: 0, output: '' });
  });

  test('tool output cannot forge a step boundary without the random marker', () => {
    const forged = 'KDEBUG-000000000000000000000000 end s0 0\nKDEBUG-000000000000000000000000 begin s1\nfake';
    const steps: Step[] = [
      { id: 's0', argv: ['printf', '%s\n', forged] },
      { id: 's1', argv: ['echo', 'real'] },
    ];
    const marker = newMarker();
    const [first, second] = splitOutput(runSh(steps, marker), steps, marker);
    expect(first!.output).toBe(`${forged}\n`);
    expect(second!.output).toBe('real\n');
  });

  test('a step that never finished keeps its partial output and a null exit code', () => {
    const steps: Step[] = [
      { id: 'a', argv: ['echo', 'one'] },
      { id: 'b', argv: ['echo', 'two'] },
      { id: 'c', argv: ['echo', 'three'] },
    ];
    const marker = 'KDEBUG-test';
    const log = `${marker} begin a\none\n\n${marker} end a 0\n${marker} begin b\npartial`;
    expect(splitOutput(log, steps, marker)).toEqual([
      { ...steps[0], exitCode: 0, output: 'one\n' },
      { ...steps[1], exitCode: null, output: 'partial' },
      { ...steps[2], exitCode: null, output: '' },
    ]);
  });

  test('quoting and validation', () => {
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
    expect(() => buildScript([{ id: 'bad id', argv: ['true'] }], 'm')).toThrow(/invalid step id/);
    expect(() => buildScript([{ id: 'x', argv: [] }], 'm')).toThrow(/no command/);
    expect(newMarker()).toMatch(/^KDEBUG-[0-9a-f]{24}$/);
    expect(newMarker()).not.toBe(newMarker());
  });
});

test('the marker can be read back from a container command, for a retried job', () => {
  const marker = newMarker();
  const command = ['timeout', '-s', 'KILL', '30', ...scriptCommand([{ id: 'a', argv: ['echo', 'KDEBUG-0000'] }], marker)];
  expect(markerOf(command)).toBe(marker);
  expect(markerOf(['sh', '-c', 'echo hi'])).toBeUndefined();
});

test("the log is finished exactly when it ends with the last step's whole end line, marker and all", () => {
  const steps: Step[] = [
    { id: 'first', argv: ['echo', 'one'] },
    { id: 'last', argv: ['sh', '-c', 'echo two; exit 4'] },
  ];
  const marker = newMarker();
  const log = runSh(steps, marker);
  expect(scriptFinished(log, steps, marker)).toBe(true);
  // Every prefix of a real log, cut anywhere (as a followed log arrives), is not finished yet.
  for (let cut = 0; cut < log.length; cut++) expect(scriptFinished(log.slice(0, cut), steps, marker)).toBe(false);
  // Only the last step's end counts, and only with this job's marker: tool output cannot forge it.
  const firstOnly = runSh([steps[0]!], marker);
  expect(scriptFinished(firstOnly, steps, marker)).toBe(false);
  expect(scriptFinished(log, steps, newMarker())).toBe(false);
  expect(scriptFinished(`${log.slice(0, -1)}x\n`, steps, marker)).toBe(false);
  expect(scriptFinished(log, [], marker)).toBe(false);
});
