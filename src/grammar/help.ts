// Help texts for `/kdebug help` and `/kdebug help <check>`. Plain text with Slack mrkdwn
// (*bold*, `code`, • bullets) that still reads well in a terminal.
//
// Not entity-escaped: usage lines contain `<target>`, so whoever posts this to Slack must escape
// &, < and > (as for any text sent to Slack), or Slack would read `<target>` as a link.

import type { AnyCheck, CheckRegistry } from '../checks/index.js';
import { formatDuration } from '../core/duration.js';
import { exampleCheckName, GENERAL_USAGE, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, usageLine } from './parse.js';

export interface HelpOptions {
  /** The longest --timeout this installation allows (config jobs.maxTimeoutSeconds). */
  maxTimeoutSeconds?: number;
}

const TARGETS = [
  '*Targets*',
  '• `web-7f9c` or `pod/web-7f9c`: a pod',
  '• `deploy/web` (or `deployment/web`): a pod of a deployment',
  '• `sts/db` (`statefulset/`) and `ds/agent` (`daemonset/`): a pod of a statefulset or daemonset',
  '• add `--all` to a workload, or give `-l app=web` instead of a target: *every* pod of it, compared in one answer (which pods differ, and what they share: a node, a zone, a ReplicaSet)',
].join('\n');

const commonFlags = ({ maxTimeoutSeconds = MAX_TIMEOUT_SECONDS }: HelpOptions): string =>
  [
    '*Flags for every check*',
    "• `-n NAMESPACE`, `--namespace NAMESPACE`: the target's namespace",
    '• `-c CONTAINER`, `--container CONTAINER`: whose network to share when the pod has several containers',
    `• \`--timeout 30s\`: how long the check may run, from ${formatDuration(MIN_TIMEOUT_SECONDS)} to ${formatDuration(maxTimeoutSeconds)} (\`45\`, \`30s\`, \`2m\`, \`1m30s\`)`,
    '• `--all`: every pod of the workload (`deploy/`, `sts/`, `ds/`), not just one; `-l SELECTOR`, `--selector SELECTOR`: every pod with these labels (`app=web,tier!=db`)',
    "• `--cluster NAME`: the cluster to run in, when kdebug serves several (`/kdebug clusters` lists them; default: the channel's)",
    '• `-h`, `--help`: this help',
    '• `--`: everything after it is an argument, even if it starts with `-`',
    'Flags go anywhere after the check name, as `-n prod`, `-n=prod`, `--namespace prod` or `--namespace=prod`.',
  ].join('\n');

function examples(check: string): string[] {
  const lines = [`/kdebug ${check} web-7f9c -n prod`];
  // The dns example shows an argument after the target; other checks' arguments are their own business.
  if (check === 'dns') lines.push('/kdebug dns deploy/web -n prod payments.prod.svc.cluster.local');
  else lines.push(`/kdebug ${check} deploy/web -n prod`);
  lines.push(`/kdebug ${check} deploy/web --all -n prod`);
  return lines.map((l) => `\`${l}\``);
}

/** `/kdebug help`: what kdebug does, the grammar, and one line per check. */
export function generalHelp(checks: CheckRegistry, options: HelpOptions = {}): string {
  const checkLines = [...checks].map(([key, check]) => `• \`${key}\`: ${check.summary}\n    \`${usageLine(check)}\``);
  return [
    '*kdebug* runs network diagnostics inside a pod, from a short-lived debug container that shares its network.',
    '',
    '*Usage*',
    `\`${GENERAL_USAGE}\``,
    '`/kdebug help <check>`: details of one check',
    '`/kdebug whoami`: what you may run where · `/kdebug clusters`: the clusters whose workers are alive',
    '',
    '*Checks*',
    checkLines.length > 0 ? checkLines.join('\n') : 'No checks are installed.',
    '',
    TARGETS,
    '',
    commonFlags(options),
    '',
    '*Examples*',
    ...examples(exampleCheckName(checks)),
  ].join('\n');
}

/** `/kdebug help <check>`: its usage, own help text, options, verdicts, then targets and common flags. */
export function checkHelp(check: AnyCheck, options: HelpOptions = {}): string {
  const parts = [`*${check.name}*: ${check.summary}`, `\`${usageLine(check)}\``, '', check.help.trim()];
  if (check.options.length > 0) {
    parts.push('', '*Options*', ...check.options.map((o) => `• \`--${o.name}${o.switch ? '' : ` ${o.valueName}`}\`: ${o.description}`));
  }
  const verdicts = Object.keys(check.verdicts);
  if (verdicts.length > 0) parts.push('', `*Verdicts*: ${verdicts.map((v) => `\`${v}\``).join(', ')}`);
  if (check.capabilities.length > 0) {
    parts.push(`*Needs capabilities*: ${check.capabilities.map((c) => `\`${c}\``).join(', ')}`);
  }
  // No examples here: the check's own help text carries them.
  parts.push('', TARGETS, '', commonFlags(options));
  return parts.join('\n');
}
