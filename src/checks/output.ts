// Reading tool output: helpers the checks that run one network tool (ping, conn, trace, listen) share.
import { firstLine } from '../core/text.js';
import type { StepResult } from './types.js';

/** Resolver failures as glibc, musl and busybox word them. */
export const RESOLVER_FAILURE =
  /Name or service not known|Temporary failure in name resolution|No address associated with hostname|Name does not resolve|Try again|Non-recoverable failure in name resolution|nodename nor servname provided|Name has no usable address/i;

/** `db.prod (10.0.0.5)` when the host is a name that resolved, else just the host. */
export function describeHost(host: string, address: string | undefined): string {
  return address && address !== host ? `${host} (${address})` : host;
}

/** 0.0456 → "0.046", 1.234 → "1.2", 123.4 → "123": enough digits to compare, no more. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms >= 100) return String(Math.round(ms));
  if (ms >= 1) return String(Math.round(ms * 10) / 10);
  return String(Number(ms.toPrecision(2)));
}

/** The step a check's interpret() reads: by id, or the only one given, and only if it looks like a result. */
export function findStep(results: unknown, id: string): StepResult | undefined {
  const list = Array.isArray(results) ? (results as unknown[]) : [];
  const valid = list.filter((r): r is StepResult => typeof r === 'object' && r !== null && typeof (r as StepResult).output === 'string');
  return valid.find((r) => r.id === id) ?? (valid.length === 1 ? valid[0] : undefined);
}

/** How a step that produced no usable result ended, for a headline: "did not finish in time", "exited with code 127: sh: ping: not found". */
export function describeFailure(tool: string, result: StepResult | undefined): string {
  if (!result) return `${tool} did not run`;
  if (result.exitCode === null) return `${tool} did not finish in time`;
  const said = firstLine(result.output);
  return `${tool} exited with code ${result.exitCode}${said ? `: ${said}` : ' and printed nothing'}`;
}
