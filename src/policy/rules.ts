// Who may run which checks in which namespaces. An ephemeral container is code execution inside a
// production pod and a capture can hold customer data, so nothing is allowed unless a rule says so.
//
// Evaluation order (the whole of it):
//   1. Rules are read in file order; the FIRST rule that matches the request decides it, allow or
//      deny. Put narrow deny rules above the broad allow rules they carve out of.
//   2. A rule matches a request when all of these hold:
//      - who:   the user is in `users`, OR in one of `groups`, OR the command was run in one of
//               `channels` (never in a direct message: DMs follow the user's own rules), OR `everyone`;
//      - where: `onlyIn` is absent, or lists the channel (`dm` for direct messages);
//      - what:  one of `namespaces` matches the namespace and one of `checks` matches the check.
//   3. Allow rules reach system namespaces (kube-system, kube-public, kube-node-lease and the file's
//      `systemNamespaces`) only when they list the namespace by its exact name: no glob, not `*`.
//      Allow rules reach sensitive checks (capture and the file's `sensitiveChecks`) only when they
//      list the check by name: `*` does not include them. Deny rules' globs and `*` match everything.
//   4. No rule matches: refused ("no rule allows it: default deny").
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { sensitiveCheckNames } from '../checks/index.js';
import type { RateLimit } from '../config/schema.js';
import { BUILTIN_SYSTEM_NAMESPACES, DIRECT_MESSAGES, policySchema, type PolicyFile } from './schema.js';

/** The policy file is unreadable or invalid: the message is one line naming the file and the field. */
export class PolicyError extends Error {
  override name = 'PolicyError';
}

// ---------------------------------------------------------------------------------------------
// The compiled policy

export interface PolicyRule {
  /** The rule's `name`, or "rule N" (1-based position in the file). */
  name: string;
  /** 0-based position in the file. */
  index: number;
  effect: 'allow' | 'deny';
  users: readonly string[];
  groups: readonly string[];
  channels: readonly string[];
  everyone: boolean;
  onlyIn?: readonly string[];
  namespaces: readonly string[];
  /** Absent: every cluster. */
  clusters?: readonly string[];
  checks: readonly string[];
  limits: { rate?: RateLimit; allowBudgetOverride?: boolean };
  reason?: string;
  contact?: string;
}

export interface Policy {
  contact: string;
  /** Built-in system namespaces plus the file's (names or globs). */
  systemNamespaces: readonly string[];
  /** Built-in sensitive checks plus the file's. */
  sensitiveChecks: readonly string[];
  defaults: { rate?: RateLimit; allowBudgetOverride: boolean };
  rules: readonly PolicyRule[];
  /** Where it was loaded from, for messages. */
  source: string;
}

/** What an allow verdict grants besides the check itself. */
export interface GrantedLimits {
  /** Per-user rate; undefined means the installation default (limits settings). */
  rate?: RateLimit;
  /** The user may ask to go past the per-pod ephemeral container budget. */
  allowBudgetOverride: boolean;
}

export interface PolicyRequest {
  userId: string;
  channelId: string;
  /** The namespace the command targets (after the installation default was applied). */
  namespace: string;
  /** The check's registry key, e.g. "dns". */
  check: string;
  /** The cluster it runs in; absent: "default" (one cluster). */
  cluster?: string;
  /** The user's Slack user groups among those the policy names (see GroupMembership). */
  userGroups: readonly string[];
}

export type Verdict = { allowed: true; rule: string; limits: GrantedLimits } | { allowed: false; rule?: string; reason: string; contact?: string };

export const DEFAULT_DENY = 'no rule allows it: default deny';

// ---------------------------------------------------------------------------------------------
// Loading

/** `rules.2.namespaces.0` → `rules[2].namespaces[0]` */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('') || '(root)';
}

/** Parse and validate policy text. Throws PolicyError with one line naming the field. */
export function parsePolicy(text: string, source = 'policy file'): Policy {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new PolicyError(`policy file ${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data == null || typeof data !== 'object' || Array.isArray(data)) {
    throw new PolicyError(`policy file ${source} must be a YAML mapping with version, contact and rules`);
  }
  const parsed = policySchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    // A misspelt field also shows up as a missing one; the spelling is the better thing to point at.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
    const where = fieldPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${where}.` : '';
      throw new PolicyError(`policy file ${source}: unknown field ${issue.keys.map((k) => prefix + k).join(', ')}; remove it or check its spelling`);
    }
    let message = issue.message;
    if (issue.code === 'invalid_type') message = issue.input === undefined ? 'is required' : `must be ${a(issue.expected)} (got ${a(typeName(issue.input))})`;
    throw new PolicyError(`policy file ${source}: ${where} ${message}`);
  }
  return compile(parsed.data, source);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'mapping' : typeof value;
}

/** "string" → "a string", "array" → "an array", "object" → "a mapping" (YAML words). */
function a(type: string): string {
  const word = type === 'object' || type === 'record' ? 'mapping' : type === 'array' ? 'list' : type;
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
}

function compile(file: PolicyFile, source: string): Policy {
  return {
    contact: file.contact,
    systemNamespaces: unique([...BUILTIN_SYSTEM_NAMESPACES, ...file.systemNamespaces]),
    sensitiveChecks: unique([...sensitiveCheckNames(), ...file.sensitiveChecks]),
    defaults: { ...(file.defaults.rate ? { rate: file.defaults.rate } : {}), allowBudgetOverride: file.defaults.allowBudgetOverride },
    rules: file.rules.map((r, index) => ({
      name: r.name ?? `rule ${index + 1}`,
      index,
      effect: r.effect,
      users: r.users,
      groups: r.groups,
      channels: r.channels,
      everyone: r.everyone,
      ...(r.onlyIn ? { onlyIn: r.onlyIn } : {}),
      namespaces: r.namespaces,
      ...(r.clusters ? { clusters: r.clusters } : {}),
      checks: r.checks,
      limits: r.limits ?? {},
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.contact !== undefined ? { contact: r.contact } : {}),
    })),
    source,
  };
}

const unique = <T>(items: T[]): T[] => [...new Set(items)];

/** The file's text; PolicyError when it can't be read. */
export function readPolicyText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; point the policy path setting at a readable YAML file`);
  }
}

/** Checks the rules name that are not installed: a typo there silently grants nothing, so say so. */
export function policyWarnings(policy: Policy, knownChecks: Iterable<string>): string[] {
  const known = new Set(knownChecks);
  const warnings: string[] = [];
  for (const rule of policy.rules) {
    for (const check of rule.checks) {
      if (check !== '*' && !known.has(check)) warnings.push(`rule "${rule.name}" lists check "${check}", which is not installed`);
    }
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const globCache = new Map<string, RegExp>();

/** `*` any run of characters, `?` exactly one; everything else literal. */
export function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  let re = globCache.get(pattern);
  if (!re) {
    const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\-]/g, '\\$&'))).join('');
    re = new RegExp(`^${body}$`, 's');
    globCache.set(pattern, re);
  }
  return re.test(value);
}

/** Direct messages with the bot have channel ids starting with D. */
export function isDirectMessage(channelId: string): boolean {
  return channelId.startsWith('D');
}

export function isSystemNamespace(policy: Policy, namespace: string): boolean {
  return policy.systemNamespaces.some((p) => globMatches(p, namespace));
}

export function isSensitiveCheck(policy: Policy, check: string): boolean {
  return policy.sensitiveChecks.includes(check);
}

/** Who: the rule names the user, one of their groups, everyone, or this (non-DM) channel. */
export function appliesTo(rule: PolicyRule, userId: string, channelId: string, userGroups: readonly string[]): boolean {
  if (rule.everyone || rule.users.includes(userId)) return true;
  if (rule.groups.some((g) => userGroups.includes(g))) return true;
  return !isDirectMessage(channelId) && rule.channels.includes(channelId);
}

/** Where: the rule's onlyIn, if any, includes this channel (or `dm`). */
export function appliesHere(rule: PolicyRule, channelId: string): boolean {
  if (!rule.onlyIn) return true;
  return isDirectMessage(channelId) ? rule.onlyIn.includes(DIRECT_MESSAGES) : rule.onlyIn.includes(channelId);
}

function coversNamespace(policy: Policy, rule: PolicyRule, namespace: string): boolean {
  if (rule.effect === 'allow' && isSystemNamespace(policy, namespace)) return rule.namespaces.includes(namespace);
  return rule.namespaces.some((p) => globMatches(p, namespace));
}

function coversCheck(policy: Policy, rule: PolicyRule, check: string): boolean {
  if (rule.checks.includes(check)) return true;
  if (!rule.checks.includes('*')) return false;
  return rule.effect === 'deny' || !isSensitiveCheck(policy, check);
}

/** The rule that decides the request: the first in file order that matches it. */
export function matchingRule(policy: Policy, request: PolicyRequest): PolicyRule | undefined {
  return policy.rules.find(
    (rule) =>
      appliesTo(rule, request.userId, request.channelId, request.userGroups) &&
      appliesHere(rule, request.channelId) &&
      coversNamespace(policy, rule, request.namespace) &&
      (!rule.clusters || rule.clusters.some((pattern) => globMatches(pattern, request.cluster ?? 'default'))) &&
      coversCheck(policy, rule, request.check),
  );
}

export function evaluate(policy: Policy, request: PolicyRequest): Verdict {
  const rule = matchingRule(policy, request);
  if (rule?.effect === 'allow') {
    const rate = rule.limits.rate ?? policy.defaults.rate;
    return {
      allowed: true,
      rule: rule.name,
      limits: { ...(rate ? { rate } : {}), allowBudgetOverride: rule.limits.allowBudgetOverride ?? policy.defaults.allowBudgetOverride },
    };
  }
  if (rule) {
    const where = request.cluster ? `${request.cluster}/${request.namespace}` : request.namespace;
    const reason = `rule "${rule.name}" refuses ${request.check} in ${where}${rule.reason ? `: ${rule.reason}` : ''}`;
    return { allowed: false, rule: rule.name, reason, contact: rule.contact ?? policy.contact };
  }
  const hints: string[] = [];
  if (isSystemNamespace(policy, request.namespace)) hints.push(`${request.namespace} is a system namespace, which only a rule naming it exactly opens`);
  if (isSensitiveCheck(policy, request.check)) hints.push(`${request.check} must be granted by name ("*" does not include it)`);
  return { allowed: false, reason: hints.length ? `${DEFAULT_DENY} (${hints.join('; ')})` : DEFAULT_DENY, contact: policy.contact };
}

/** The refusal as the user reads it (Slack mrkdwn; pass the text through escapeMrkdwn before sending). */
export function refusalText(verdict: Extract<Verdict, { allowed: false }>, request: { check: string; namespace: string; cluster?: string }): string {
  const ask = verdict.contact ? ` Ask ${verdict.contact} if you need it.` : '';
  const cluster = request.cluster ? ` of cluster \`${request.cluster}\`` : '';
  return `You can't run \`${request.check}\` in namespace \`${request.namespace}\`${cluster}: ${verdict.reason}.${ask}`;
}

/** Every user group id the policy names: resolve the user's membership of these only. */
export function policyGroupIds(policy: Policy): string[] {
  return unique(policy.rules.flatMap((r) => [...r.groups]));
}
