// The registry: every check kdebug knows. Adding a check means writing its module and listing it
// here; everything else (config, help, renderers, exit codes, triage, policy, error messages)
// reads what the checks declare through the functions below.
import { captureCheck } from './capture.js';
import { connCheck } from './conn.js';
import { dnsCheck } from './dns.js';
import { httpCheck } from './http.js';
import { listenCheck } from './listen.js';
import { pingCheck } from './ping.js';
import { tlsCheck } from './tls.js';
import { traceCheck } from './trace.js';
import { triageCheck } from './triage.js';
import type { CheckDefinition, VerdictClass } from './types.js';

// The registry holds checks of every argument and settings type; callers validate arguments with
// the check's own parseArgs before passing them back to it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCheck = CheckDefinition<any, any>;

const all: AnyCheck[] = [dnsCheck, httpCheck, tlsCheck, pingCheck, connCheck, listenCheck, traceCheck, captureCheck, triageCheck];

export type CheckRegistry = ReadonlyMap<string, AnyCheck>;

export const checks: CheckRegistry = new Map(all.map((check) => [check.name, check]));

/**
 * good / warning / bad for a check's verdict. A word the check does not declare (`failed`, for a
 * job that never reached a verdict) is bad.
 */
export function verdictClass(check: string, verdict: string, registry: CheckRegistry = checks): VerdictClass {
  return registry.get(check)?.verdicts[verdict]?.class ?? 'bad';
}

/** Checks the policy grants only by name (`*` never includes them). */
export function sensitiveCheckNames(registry: CheckRegistry = checks): string[] {
  return [...registry.values()].filter((c) => c.sensitive === true).map((c) => c.name);
}

/** Checks whose debug container needs no Linux capability (they run under the strictest Pod Security). */
export function unprivilegedCheckNames(registry: CheckRegistry = checks): string[] {
  return [...registry.values()].filter((c) => c.capabilities.length === 0).map((c) => c.name);
}
