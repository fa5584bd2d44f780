// The buttons under an answer: Re-run, and the natural next check chosen from the finding, so the
// thread carries the next step instead of people copying commands around. A button's value is the
// command text itself, exactly what a person could type: a click is handled as that person typing
// it (same grammar, policy, limits and audit), so a forged value can do no more than typing can.
import { isIP } from 'node:net';
import type { ActionsBlock, Button } from '@slack/types';
import { verdictClass } from '../checks/index.js';
import type { Finding } from '../checks/types.js';
import { tokenize } from '../grammar/parse.js';
import type { DiagnosticJob } from '../queue/job.js';

/** Action ids of the buttons: `kdebug_run_0`, `kdebug_run_1`… (unique within a message, as Slack requires). */
export const RUN_ACTION_PREFIX = 'kdebug_run_';
export const RUN_ACTION = /^kdebug_run_\d+$/;

/** Slack's limit on a button's value. */
const MAX_VALUE = 2000;

export interface NextStep {
  label: string;
  /** The command after `/kdebug`, e.g. "listen web-0 -n prod 8080". */
  text: string;
}

type JobFields = Pick<DiagnosticJob, 'check' | 'target' | 'namespace' | 'positional' | 'commandText' | 'all' | 'options' | 'container'>;

/** The port a URL or host:port points at, if it says. */
function portOf(text: string | undefined): number | undefined {
  if (!text) return undefined;
  try {
    const url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `tcp://${text}`);
    if (url.port) return Number(url.port);
    return url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : undefined;
  } catch {
    return undefined;
  }
}

/** What was typed after `/kdebug`. */
const typedText = (job: JobFields) => job.commandText.replace(/^\/\S+\s*/, '');

/** The typed command with a flag added, before a bare `--` (after it, a flag would be an argument). */
function withFlag(job: JobFields, flag: string): string {
  const text = typedText(job);
  const end = text.search(/(^|\s)--(\s|$)/);
  return end === -1 ? `${text} ${flag}` : `${text.slice(0, end)} ${flag}${text.slice(end)}`;
}

/** `-n prod -c app`, to aim a follow-up check at the same place. */
function placeFlags(job: JobFields): string {
  return `-n ${job.namespace}${job.container ? ` -c ${job.container}` : ''}`;
}

/**
 * Re-run first, then what an on-call engineer would run next after this finding. `pod` is the pod
 * the check ran in (for a workload, the one it picked): follow-ups that look inside a pod go there.
 */
export function nextSteps(job: JobFields, finding: Pick<Finding, 'check' | 'verdict' | 'facts'> | undefined, pod?: string): NextStep[] {
  const steps: NextStep[] = [{ label: 'Re-run', text: typedText(job) }];
  if (!finding || verdictClass(finding.check, finding.verdict) === 'good') return steps;
  // `pod/NAME`: a pod picked from a workload may be newer than the bot's inventory, and this form skips its "did you mean".
  const podName = pod ?? (job.target.kind === 'pod' ? job.target.name : undefined);
  const here = podName ? `pod/${podName}` : undefined;
  const { check, verdict } = finding;

  if ((check === 'http' && verdict === 'timeout') || verdict === 'connection-refused') {
    const port = check === 'conn' && job.positional[1] ? Number(job.positional[1]) : portOf(job.positional[0]);
    if (here) steps.push({ label: 'Listening on this pod?', text: `listen ${here} ${placeFlags(job)}` });
    if (here && port) steps.push({ label: `Capture 20 s on port ${port}`, text: `capture ${here} ${placeFlags(job)} port ${port} --duration 20s` });
  }
  if (check === 'http' && verdict === 'tls-error' && here && URL.canParse(job.positional[0] ?? '')) {
    const url = new URL(job.positional[0]!);
    steps.push({ label: 'Certificate details', text: `tls ${here} ${placeFlags(job)} ${url.hostname}:${url.port || 443}` });
  }
  if (check === 'tls' && !job.options.chain) steps.push({ label: 'Show the full chain', text: withFlag(job, '--chain') });
  if (check === 'dns' && (verdict === 'nxdomain' || verdict === 'servfail') && here && job.options.server === undefined) {
    const nameservers = finding.facts.nameservers;
    const server = Array.isArray(nameservers) ? nameservers[0] : undefined;
    if (server && isIP(server)) steps.push({ label: `Ask the cluster DNS (${server}) directly`, text: withFlag(job, `--server ${server}`) });
  }
  if (!job.all && job.target.kind !== 'pod' && job.target.kind !== 'selector') {
    steps.push({ label: 'Same check on every pod (--all)', text: withFlag(job, '--all') });
  }
  return steps;
}

/** The actions block for these steps; steps whose command does not fit a button's value are left out. */
export function nextStepButtons(steps: readonly NextStep[]): ActionsBlock | undefined {
  const buttons: Button[] = steps
    .filter((s) => s.text.length <= MAX_VALUE && tokenize(s.text).ok)
    .map((s, i) => ({ type: 'button', action_id: `${RUN_ACTION_PREFIX}${i}`, text: { type: 'plain_text', text: s.label.slice(0, 75) }, value: s.text }));
  return buttons.length ? { type: 'actions', block_id: 'kdebug_next', elements: buttons } : undefined;
}
