// Several steps share one debug container, so a small POSIX sh script runs them in order.
// Every argv element is single-quoted (the only sh quoting with no special characters inside),
// and each step's output is framed by lines carrying a per-job random marker: tool output
// cannot guess the marker, so it cannot forge a step boundary or an exit code.
import { randomBytes } from 'node:crypto';
import type { Step, StepResult } from '../checks/types.js';

/** Quote one argument for POSIX sh: 'it'\''s' */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('arguments cannot contain NUL bytes');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function newMarker(): string {
  return `KDEBUG-${randomBytes(12).toString('hex')}`;
}

/**
 * The marker inside a container command built by scriptCommand. A retried job reads its output
 * with the marker of the container it added before, not with a new one.
 */
export function markerOf(command: readonly string[]): string | undefined {
  return /KDEBUG-[0-9a-f]{24}/.exec(command.join('\n'))?.[0];
}

const STEP_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The script for `sh -c`: runs each step with stdin closed and stderr joined to stdout. */
export function buildScript(steps: readonly Step[], marker: string): string {
  const lines = ['exec 2>&1'];
  for (const step of steps) {
    if (!STEP_ID.test(step.id)) throw new Error(`invalid step id ${JSON.stringify(step.id)}`);
    if (step.argv.length === 0) throw new Error(`step ${step.id} has no command`);
    lines.push(
      `printf '%s begin %s\\n' ${shQuote(marker)} ${shQuote(step.id)}`,
      `${step.argv.map(shQuote).join(' ')} </dev/null`,
      `printf '\\n%s end %s %s\\n' ${shQuote(marker)} ${shQuote(step.id)} "$?"`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The container command: a POSIX shell running the script. */
export function scriptCommand(steps: readonly Step[], marker: string): string[] {
  return ['sh', '-c', buildScript(steps, marker)];
}

/** True once `log` ends with the last step's end line: the script has nothing more to print. */
export function scriptFinished(log: string, steps: readonly Step[], marker: string): boolean {
  const last = steps.at(-1);
  if (!last || !log.endsWith('\n')) return false;
  const line = log.slice(log.lastIndexOf('\n', log.length - 2) + 1, -1);
  const prefix = `${marker} end ${last.id} `;
  return line.startsWith(prefix) && /^\d+$/.test(line.slice(prefix.length));
}

/**
 * Split a container log back into step results. A step without an end line never finished
 * (deadline, or the container was killed): it keeps the output seen so far and exitCode null.
 */
export function splitOutput(log: string, steps: readonly Step[], marker: string): StepResult[] {
  const results = new Map<string, StepResult>();
  const beginPrefix = `${marker} begin `;
  const endPrefix = `${marker} end `;
  let current: { step: Step; start: number } | undefined;
  let lineStart = 0;
  while (lineStart < log.length) {
    const newline = log.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? log.length : newline;
    const line = log.slice(lineStart, lineEnd);
    if (line.startsWith(beginPrefix)) {
      const step = steps.find((s) => s.id === line.slice(beginPrefix.length));
      if (step) current = { step, start: lineEnd + 1 };
    } else if (line.startsWith(endPrefix) && current && newline !== -1) {
      // A log cut short (limitBytes) can end inside an end line: only a whole line counts.
      const [id, code] = line.slice(endPrefix.length).split(' ');
      if (id === current.step.id && code !== undefined && /^\d+$/.test(code)) {
        // The end line is printed after a newline of its own, so drop exactly that one.
        const output = log.slice(current.start, Math.max(current.start, lineStart - 1));
        results.set(id, { ...current.step, exitCode: Number(code), output });
        current = undefined;
      }
    }
    lineStart = lineEnd + 1;
  }
  if (current) results.set(current.step.id, { ...current.step, exitCode: null, output: log.slice(current.start) });
  return steps.map((step) => results.get(step.id) ?? { ...step, exitCode: null, output: '' });
}
