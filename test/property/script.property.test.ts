// Generated sequencing scripts with hostile argv, run under real shells (/bin/sh, and busybox sh as
// in many debug images): every step's program must receive exactly the argv that was built, and
// splitOutput must recover each step's exit code and output, whatever the arguments and output hold.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Step } from '../../src/checks/types.js';
import { buildScript, newMarker, splitOutput } from '../../src/runner/script.js';

const RUNS = { numRuns: 100 };

/** An external program that writes each argument followed by NUL: the argv it received, exactly. */
const PRINTF = ['/usr/bin/printf', '/bin/printf'].find((p) => existsSync(p));

interface Shell {
  name: string;
  argv: (script: string) => [string, string[]];
}

function availableShells(): Shell[] {
  const shells: Shell[] = [];
  if (existsSync('/bin/sh')) shells.push({ name: '/bin/sh', argv: (script) => ['/bin/sh', ['-c', script]] });
  if (spawnSync('busybox', ['sh', '-c', 'exit 0']).status === 0) shells.push({ name: 'busybox sh', argv: (script) => ['busybox', ['sh', '-c', script]] });
  return shells;
}

const shells = availableShells();
const canaryDir = mkdtempSync(join(tmpdir(), 'kdebug-script-canary-'));
const canary = join(canaryDir, 'pwned');

afterAll(() => rmSync(canaryDir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Generators

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** What an argv element can be once it is in a container spec (UTF-8, no NUL). */
const argvSafe = (s: string): boolean => !s.includes('\0') && !LONE_SURROGATE.test(s);

const fragments = [
  "'",
  '"',
  "'\\''",
  "''",
  '\\',
  '\\\\',
  '\\0',
  '\\c',
  '\\n',
  '%s',
  '%b',
  '%%',
  '%',
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `; touch ${canary}`,
  `| touch ${canary}`,
  `&& touch ${canary} &&`,
  `\ntouch ${canary}\n`,
  `'; touch ${canary}; '`,
  `"; touch ${canary}; "`,
  `$(printf x)`,
  '${HOME}',
  '$HOME',
  '$0',
  '$1',
  '$@',
  '$*',
  '$?',
  '$$',
  '$#',
  '!',
  '!!',
  '*',
  '?',
  '[a-z]',
  '/*',
  '~',
  '~root',
  '{a,b}',
  '#',
  '# comment',
  ';',
  '|',
  '&',
  '>',
  '>>',
  '<',
  '<<EOF',
  '2>&1',
  '(',
  ')',
  '{',
  '}',
  '\n',
  '\r',
  '\r\n',
  '\t',
  ' ',
  '  ',
  '-',
  '--',
  '-n',
  '-e',
  '--help',
  'exit 3',
  'exec 1>&-',
  'KDEBUG-000000000000000000000000 end s0 0',
  'KDEBUG-000000000000000000000000 begin s1',
  ' begin ',
  ' end ',
  '\x01',
  '\x07',
  '\x1b[2J',
  '\x7f',
  '\x80',
  '\xff',
  '\u00e9',
  '\u2028',
  '\ufeff',
  '\uffff',
  '\ud83d\ude00',
  'e\u0301',
];

const hostileArg = fc
  .oneof(
    { arbitrary: fc.constantFrom(...fragments), weight: 3 },
    { arbitrary: fc.array(fc.constantFrom(...fragments), { minLength: 1, maxLength: 8 }).map((p) => p.join('')), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
    // Every byte value but NUL, as code points.
    { arbitrary: fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 60 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1000, maxLength: 6000 }), weight: 1 },
  )
  .filter(argvSafe);

const args = fc.array(hostileArg, { minLength: 1, maxLength: 5 });
const stepId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);

/** A step and what it must produce. */
interface Planned {
  argv: string[];
  exitCode: number;
  /** Exact output, or a pattern (for the shell's own "not found" message). */
  output: string | RegExp;
}

const recorded = (list: string[]) => list.map((a) => `${a}\0`).join('');

const plannedStep: fc.Arbitrary<Planned> = fc.oneof(
  // The recorder itself: argv straight from the script.
  { arbitrary: args.map((a) => ({ argv: [PRINTF!, '%s\\0', ...a], exitCode: 0, output: recorded(a) })), weight: 4 },
  // Another shell receiving the argv, recording it and exiting with a chosen code.
  {
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), args).map(([code, a]) => ({
      argv: ['/bin/sh', '-c', `c=$1; shift; ${PRINTF} '%s\\0' "$@"; exit "$c"`, 'recorder', String(code), ...a],
      exitCode: code,
      output: recorded(a),
    })),
    weight: 2,
  },
  // Arbitrary output on stdout or stderr (with or without a final newline, with fake markers).
  {
    arbitrary: fc.tuple(hostileArg, fc.boolean()).map(([text, toStderr]) => ({
      argv: toStderr ? ['/bin/sh', '-c', `${PRINTF} '%s' "$1" >&2`, 'emit', text] : [PRINTF!, '%s', text],
      exitCode: 0,
      output: text,
    })),
    weight: 2,
  },
  // A program that doesn't exist: the shell reports it, 127, and the next steps still run.
  { arbitrary: args.map((a) => ({ argv: ['/nonexistent/kdebug-tool', ...a], exitCode: 127, output: /not found/ })), weight: 1 },
);

const plans = fc
  .tuple(fc.uniqueArray(stepId, { minLength: 1, maxLength: 5 }), fc.array(plannedStep, { minLength: 5, maxLength: 5 }))
  .map(([ids, planned]) => ids.map((id, i) => ({ id, ...planned[i]! })));

// Linux caps one argv string (the whole script, for `sh -c`) at 128 KiB.
const MAX_SCRIPT_BYTES = 120_000;

function run(shell: Shell, script: string): string {
  const [file, argv] = shell.argv(script);
  return execFileSync(file, argv, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
}

// ---------------------------------------------------------------------------------------------

describe('sequencing script under real shells', () => {
  test('a POSIX sh and a printf recorder are available (apt-get install -y busybox for the second shell)', () => {
    if (shells.length === 0) throw new Error('neither /bin/sh nor busybox sh is available: the script property tests cannot run');
    if (!PRINTF) throw new Error('no external printf (/usr/bin/printf) to record argv with; install coreutils');
    expect(shells.map((s) => s.name)).toContain('/bin/sh');
  });

  describe.each(shells.map((s) => [s.name, s] as const))('%s', (_name, shell) => {
    test('every step receives exactly the argv that was built, and splitOutput recovers exit codes and output', () => {
      fc.assert(
        fc.property(plans, (planned) => {
          const steps: Step[] = planned.map(({ id, argv }) => ({ id, argv }));
          const marker = newMarker();
          const script = buildScript(steps, marker);
          fc.pre(Buffer.byteLength(script) < MAX_SCRIPT_BYTES);
          const results = splitOutput(run(shell, script), steps, marker);
          expect(results.map((r) => r.id)).toEqual(planned.map((p) => p.id));
          results.forEach((result, i) => {
            const plan = planned[i]!;
            expect(result.argv).toEqual(plan.argv);
            expect(result.exitCode).toBe(plan.exitCode);
            if (typeof plan.output === 'string') expect(result.output).toBe(plan.output);
            else expect(result.output).toMatch(plan.output);
          });
          expect(existsSync(canary)).toBe(false);
        }),
        RUNS,
      );
    });

    test('a log cut off between lines (container killed) never invents an exit code: finished steps keep theirs, the rest are null', () => {
      fc.assert(
        fc.property(plans, fc.double({ min: 0, max: 1, noNaN: true }), (planned, fraction) => {
          const steps: Step[] = planned.map(({ id, argv }) => ({ id, argv }));
          const marker = newMarker();
          const script = buildScript(steps, marker);
          fc.pre(Buffer.byteLength(script) < MAX_SCRIPT_BYTES);
          const full = run(shell, script);
          // Each framing line is one write(), so a killed container's log ends at a line boundary.
          const boundaries = [0, ...[...full.matchAll(/\n/g)].map((m) => m.index + 1)];
          const cut = full.slice(0, boundaries[Math.floor(fraction * (boundaries.length - 1))]);
          const complete = splitOutput(full, steps, marker);
          splitOutput(cut, steps, marker).forEach((result, i) => {
            if (result.exitCode !== null) {
              expect(result.exitCode).toBe(complete[i]!.exitCode);
              expect(result.output).toBe(complete[i]!.output);
              return;
            }
            // Unfinished: what was seen is the start of what the step went on to write.
            const begin = `${marker} begin ${result.id}\n`;
            const at = full.indexOf(begin);
            expect(at).toBeGreaterThanOrEqual(0);
            expect(full.slice(at + begin.length).startsWith(result.output)).toBe(true);
          });
        }),
        { numRuns: 50 },
      );
    });
  });

  // The pod log is read with limitBytes (kubernetes.maxLogBytes), which can cut the log inside an
  // end line: "end s0 " must not read as exit code 0, nor "end s0 1" (of "end s0 127") as 1.
  test('a log truncated inside an end line does not yield an exit code', () => {
    const steps: Step[] = [{ id: 's0', argv: ['x'] }];
    for (const cut of ['M begin s0\nout\n\nM end s0 ', 'M begin s0\nout\n\nM end s0 1']) {
      expect(splitOutput(cut, steps, 'M')[0]!.exitCode).toBeNull();
    }
  });

  test('no hostile argument ever ran a command of its own', () => {
    expect(readdirSync(canaryDir)).toEqual([]);
  });
});
