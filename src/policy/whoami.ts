// `/kdebug whoami`: the rules that apply to a user, in evaluation order, as Slack mrkdwn.
import { escapeMrkdwn } from '../core/text.js';
import { appliesHere, appliesTo, isDirectMessage, isSensitiveCheck, isSystemNamespace, type Policy, type PolicyRule } from './rules.js';
import { DIRECT_MESSAGES } from './schema.js';

const code = (s: string): string => `\`${s}\``;

function describeNamespaces(policy: Policy, rule: PolicyRule): string {
  if (rule.effect === 'deny') return rule.namespaces.includes('*') ? 'any namespace' : rule.namespaces.map(code).join(', ');
  const system = rule.namespaces.filter((n) => isSystemNamespace(policy, n));
  const others = rule.namespaces.filter((n) => !system.includes(n));
  const parts: string[] = [];
  if (others.includes('*')) parts.push('any namespace except system ones');
  else if (others.length) parts.push(others.map(code).join(', '));
  if (system.length) parts.push(`${parts.length ? 'and ' : ''}${system.map(code).join(', ')}`);
  return parts.join(' ');
}

function describeChecks(policy: Policy, rule: PolicyRule, checkNames?: readonly string[]): string {
  const named = rule.checks.filter((c) => c !== '*');
  if (!rule.checks.includes('*')) return named.map(code).join(', ');
  if (rule.effect === 'deny') return 'every check';
  const sensitiveNamed = named.filter((c) => isSensitiveCheck(policy, c));
  if (checkNames) {
    const all = checkNames.filter((c) => !isSensitiveCheck(policy, c) || sensitiveNamed.includes(c));
    return all.length ? all.map(code).join(', ') : 'no installed check';
  }
  const excluded = policy.sensitiveChecks.filter((c) => !sensitiveNamed.includes(c));
  const base = excluded.length ? `every check except ${excluded.map(code).join(', ')}` : 'every check';
  return sensitiveNamed.length ? `${base}, and ${sensitiveNamed.map(code).join(', ')}` : base;
}

function describeLimits(policy: Policy, rule: PolicyRule): string {
  if (rule.effect === 'deny') return '';
  const parts: string[] = [];
  const rate = rule.limits.rate ?? policy.defaults.rate;
  if (rate) parts.push(`at most ${rate.requests} per ${rate.windowSeconds} s`);
  if (rule.limits.allowBudgetOverride ?? policy.defaults.allowBudgetOverride) parts.push('may go past the per-pod debug container budget');
  return parts.length ? ` · ${parts.join(' · ')}` : '';
}

function describePlace(rule: PolicyRule, channelId: string | undefined): string {
  if (!rule.onlyIn) return '';
  const places = rule.onlyIn.map((p) => (p === DIRECT_MESSAGES ? 'direct messages' : `<#${p}>`)).join(', ');
  return channelId === undefined || appliesHere(rule, channelId) ? ` (only in ${places})` : ` (only in ${places}: not here)`;
}

export interface WhoamiOptions {
  /** Installed check names, to spell out what `*` means. */
  checkNames?: readonly string[];
}

/**
 * What this user may run, and where, for `/kdebug whoami`: every rule that applies to them (by
 * user, group, everyone, or this channel), in evaluation order. Slack mrkdwn with <@user> and
 * <#channel> links, already escaped: send it as it is (escaping it again would break the links).
 */
export function whoami(policy: Policy, userId: string, channelId: string | undefined, groups: readonly string[], options: WhoamiOptions = {}): string {
  // Without a channel (the App Home): every rule for the user, wherever it applies.
  const dm = channelId !== undefined && isDirectMessage(channelId);
  const here = channelId === undefined ? 'in the channels the rules name' : dm ? 'in direct messages' : `in <#${channelId}>`;
  // A rule for the people in some channels applies to this user in those channels.
  const rules = policy.rules.filter((r) => (channelId === undefined ? appliesTo(r, userId, '', groups) || r.channels.length > 0 : appliesTo(r, userId, channelId, groups)));
  const usable = rules.filter((r) => channelId === undefined || appliesHere(r, channelId));
  const lines: string[] = [];
  if (!usable.some((r) => r.effect === 'allow')) {
    lines.push(`<@${userId}>, you can't run any check ${here}: no rule allows you (default deny).`);
  } else {
    lines.push(`What <@${userId}> may run ${here} (rules in order; the first that matches decides, anything else is refused):`);
  }
  rules.forEach((rule) => {
    const verb = rule.effect === 'allow' ? 'allow' : 'deny';
    lines.push(
      `• ${code(rule.name)}${describePlace(rule, channelId)}: ${verb} ${describeChecks(policy, rule, options.checkNames)} in ${describeNamespaces(policy, rule)}${rule.clusters ? ` of cluster${rule.clusters.length > 1 ? 's' : ''} ${rule.clusters.map(code).join(', ')}` : ''}${describeLimits(policy, rule)}`,
    );
  });
  if (groups.length) lines.push(`Your groups in this policy: ${groups.map(code).join(', ')}.`);
  if (dm) lines.push('Rules for channels do not apply in direct messages.');
  lines.push(
    `System namespaces (${policy.systemNamespaces.map(code).join(', ')}) need a rule that names them; ${policy.sensitiveChecks.map(code).join(', ')} must be granted by name.`,
  );
  lines.push(`For more access, ask ${escapeMrkdwn(policy.contact)}.`);
  return lines.join('\n');
}
