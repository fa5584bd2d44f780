// interpret() must never throw, whatever a tool printed: a reply has to go out. Every check's
// parser is built not to throw; this is the last guard around it, shared by all checks.
import type { Finding, StepResult } from './types.js';

export interface Fallback {
  check: string;
  /** The verdict when the output could not be read at all (the check's "no answer" word). */
  verdict: string;
  /** The tool named in the headline, e.g. "dig". */
  tool: string;
}

const isStepResult = (r: unknown): r is StepResult => typeof r === 'object' && r !== null && Array.isArray((r as StepResult).argv);

export function interpretSafely(fallback: Fallback, results: unknown, interpret: () => Finding): Finding {
  try {
    return interpret();
  } catch (err) {
    return {
      check: fallback.check,
      verdict: fallback.verdict,
      headline: `Could not interpret the output of ${fallback.tool}: ${err instanceof Error ? err.message : String(err)}`,
      facts: {},
      steps: Array.isArray(results) ? results.filter(isStepResult) : [],
    };
  }
}
