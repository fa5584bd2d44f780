// Outputs recorded from the real tools (test/fixtures/<check>/*.json, each with the argv that
// produced it and how), read the same way by every check's tests.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface RecordedStep {
  command: string[];
  exitCode: number | null;
  output: string;
  note: string;
}

/** The recorded fixtures of one check: file names, and a reader for each. */
export function recordedFixtures<T extends RecordedStep = RecordedStep>(check: string): { files: string[]; read: (file: string) => T } {
  const dir = fileURLToPath(new URL(`../fixtures/${check}/`, import.meta.url));
  return {
    files: readdirSync(dir).filter((f) => f.endsWith('.json')),
    read: (file) => JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as T,
  };
}

/** Timings vary between recordings: `{ms}` in an expected text matches any number. */
export function withTimings(expected: string): RegExp {
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('\\{ms\\}', '[\\d.]+');
  return new RegExp(`^${escaped}$`);
}
