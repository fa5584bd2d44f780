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
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../observability/logger.js';
import { auditEntryForCommand, type AuditCommand, type AuditLog } from './audit.js';
import { dedupeSubjectForJob, type InFlightDedupe } from './dedupe.js';
import type { RateLimiter } from './rate-limit.js';
import {
  BUILTIN_SENSITIVE_CHECKS,
  BUILTIN_SYSTEM_NAMESPACES,
  DIRECT_MESSAGES,
  policySchema,
  type PolicyFile,
  type RateLimit,
} from './schema.js';

export type { RateLimit } from './schema.js';

export const DEFAULT_POLICY_PATH = fileURLToPath(new URL('../../config/policy.yaml', import.meta.url));

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
  /** The user's Slack user groups among those the policy names (see GroupMembership). */
  userGroups: readonly string[];
}

export type Verdict =
  | { allowed: true; rule: string; limits: GrantedLimits }
  | { allowed: false; rule?: string; reason: string; contact?: string };

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
    sensitiveChecks: unique([...BUILTIN_SENSITIVE_CHECKS, ...file.sensitiveChecks]),
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
      checks: r.checks,
      limits: r.limits ?? {},
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.contact !== undefined ? { contact: r.contact } : {}),
    })),
    source,
  };
}

const unique = <T>(items: T[]): T[] => [...new Set(items)];

export function loadPolicyFile(path: string): Policy {
  return parsePolicy(readPolicyText(path), path);
}

function readPolicyText(path: string): string {
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

function appliesTo(rule: PolicyRule, userId: string, channelId: string, userGroups: readonly string[]): boolean {
  if (rule.everyone || rule.users.includes(userId)) return true;
  if (rule.groups.some((g) => userGroups.includes(g))) return true;
  return !isDirectMessage(channelId) && rule.channels.includes(channelId);
}

function appliesHere(rule: PolicyRule, channelId: string): boolean {
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
    const reason = `rule "${rule.name}" refuses ${request.check} in ${request.namespace}${rule.reason ? `: ${rule.reason}` : ''}`;
    return { allowed: false, rule: rule.name, reason, contact: rule.contact ?? policy.contact };
  }
  const hints: string[] = [];
  if (isSystemNamespace(policy, request.namespace)) hints.push(`${request.namespace} is a system namespace, which only a rule naming it exactly opens`);
  if (isSensitiveCheck(policy, request.check)) hints.push(`${request.check} must be granted by name ("*" does not include it)`);
  return { allowed: false, reason: hints.length ? `${DEFAULT_DENY} (${hints.join('; ')})` : DEFAULT_DENY, contact: policy.contact };
}

/** The refusal as the user reads it (Slack mrkdwn; pass the text through escapeText before sending). */
export function refusalText(verdict: Extract<Verdict, { allowed: false }>, request: { check: string; namespace: string }): string {
  const ask = verdict.contact ? ` Ask ${verdict.contact} if you need it.` : '';
  return `You can't run \`${request.check}\` in namespace \`${request.namespace}\`: ${verdict.reason}.${ask}`;
}

/** Every user group id the policy names: resolve the user's membership of these only. */
export function policyGroupIds(policy: Policy): string[] {
  return unique(policy.rules.flatMap((r) => [...r.groups]));
}

// ---------------------------------------------------------------------------------------------
// whoami

const code = (s: string): string => `\`${s}\``;
/** The file's free text (contact) inside whoami's mrkdwn: &, < and > escaped as Slack wants. */
const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

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

function describePlace(rule: PolicyRule, channelId: string): string {
  if (!rule.onlyIn) return '';
  const places = rule.onlyIn.map((p) => (p === DIRECT_MESSAGES ? 'direct messages' : `<#${p}>`)).join(', ');
  return appliesHere(rule, channelId) ? ` (only in ${places})` : ` (only in ${places}: not here)`;
}

export interface WhoamiOptions {
  /** Installed check names, to spell out what `*` means. */
  checkNames?: readonly string[];
}

/**
 * What this user may run, and where, for `/kdebug whoami`: every rule that applies to them (by
 * user, group, everyone, or this channel), in evaluation order. Slack mrkdwn with <@user> and
 * <#channel> links, already escaped: send it as it is (escapeText would break the links).
 */
export function whoami(policy: Policy, userId: string, channelId: string, groups: readonly string[], options: WhoamiOptions = {}): string {
  const dm = isDirectMessage(channelId);
  const here = dm ? 'in direct messages' : `in <#${channelId}>`;
  const rules = policy.rules.filter((r) => appliesTo(r, userId, channelId, groups));
  const usable = rules.filter((r) => appliesHere(r, channelId));
  const lines: string[] = [];
  if (!usable.some((r) => r.effect === 'allow')) {
    lines.push(`<@${userId}>, you can't run any check ${here}: no rule allows you (default deny).`);
  } else {
    lines.push(`What <@${userId}> may run ${here} (rules in order; the first that matches decides, anything else is refused):`);
  }
  rules.forEach((rule) => {
    const verb = rule.effect === 'allow' ? 'allow' : 'deny';
    lines.push(
      `• ${code(rule.name)}${describePlace(rule, channelId)}: ${verb} ${describeChecks(policy, rule, options.checkNames)} in ${describeNamespaces(policy, rule)}${describeLimits(policy, rule)}`,
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

// ---------------------------------------------------------------------------------------------
// Slack user group membership

/** Lists the user ids in one Slack user group. */
export type GroupLister = (groupId: string) => Promise<readonly string[]>;

/** The part of WebClient that GroupMembership needs (scope usergroups:read). */
export interface UsergroupsClient {
  usergroups: { users: { list(args: { usergroup: string; team_id?: string }): Promise<{ users?: string[] }> } };
}

export function slackGroupLister(client: UsergroupsClient, teamId?: string): GroupLister {
  return async (groupId) => {
    const result = await client.usergroups.users.list({ usergroup: groupId, ...(teamId ? { team_id: teamId } : {}) });
    return result.users ?? [];
  };
}

export interface GroupMembershipOptions {
  list: GroupLister;
  /** How long a group's member list is used before it is fetched again. Default 60 s. */
  ttlSeconds?: number;
  /** When a fetch fails, an older list is still used up to this age. Default 600 s. */
  maxStaleSeconds?: number;
  now?: () => number;
  logger?: Logger;
}

interface CachedGroup {
  members: ReadonlySet<string>;
  fetchedAt: number;
}

/**
 * Which of the policy's user groups a user belongs to, through usergroups.users.list with a short
 * cache. Fails closed: a group that can't be listed (and has no recent list) counts as "not a member".
 */
export class GroupMembership {
  private readonly cache = new Map<string, CachedGroup>();
  private readonly inflight = new Map<string, Promise<CachedGroup | undefined>>();
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: GroupMembershipOptions) {
    this.ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.maxStaleMs = (options.maxStaleSeconds ?? 600) * 1000;
    this.now = options.now ?? Date.now;
  }

  async groupsOf(userId: string, groupIds: readonly string[]): Promise<string[]> {
    const lists = await Promise.all(groupIds.map(async (id) => [id, await this.members(id)] as const));
    return lists.filter(([, group]) => group?.members.has(userId)).map(([id]) => id);
  }

  /** Forget cached member lists (one group, or all). */
  invalidate(groupId?: string): void {
    if (groupId === undefined) this.cache.clear();
    else this.cache.delete(groupId);
  }

  private async members(groupId: string): Promise<CachedGroup | undefined> {
    const cached = this.cache.get(groupId);
    if (cached && this.now() - cached.fetchedAt < this.ttlMs) return cached;
    let pending = this.inflight.get(groupId);
    if (!pending) {
      pending = this.fetch(groupId, cached).finally(() => this.inflight.delete(groupId));
      this.inflight.set(groupId, pending);
    }
    return pending;
  }

  private async fetch(groupId: string, stale: CachedGroup | undefined): Promise<CachedGroup | undefined> {
    try {
      const fresh = { members: new Set(await this.options.list(groupId)), fetchedAt: this.now() };
      this.cache.set(groupId, fresh);
      return fresh;
    } catch (err) {
      const usable = stale && this.now() - stale.fetchedAt < this.maxStaleMs ? stale : undefined;
      const error = (err as { data?: { error?: string } })?.data?.error ?? (err as Error)?.message ?? String(err);
      this.options.logger?.warn(
        { group: groupId, err: error, usingStale: usable !== undefined },
        usable ? 'could not list a Slack user group; using its last member list' : 'could not list a Slack user group; treating its members as non-members',
      );
      return usable;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The live policy: loaded at start, reloaded when the file changes

export type ReloadResult = { ok: true; changed: boolean; policy: Policy; warnings: string[] } | { ok: false; error: string };

export interface PolicyStoreOptions {
  path: string;
  logger: Logger;
  /** Reload when the file changes (default true). */
  watch?: boolean;
  /** Quiet time after the last change before reloading. Default 250 ms. */
  debounceMs?: number;
  /** Installed check names, to warn about rules naming checks that don't exist. */
  knownChecks?: Iterable<string>;
  /** Called after every reload attempt caused by a change (tests, metrics). */
  onReload?: (result: ReloadResult) => void;
}

export class PolicyStore {
  private current: Policy;
  private lastText: string;
  /** Set while the file on disk is broken (the previous policy is in force). */
  private lastError: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly knownChecks: string[] | undefined;

  /** Loads the file; throws PolicyError when it is missing or invalid (start-up must stop then). */
  constructor(private readonly options: PolicyStoreOptions) {
    this.knownChecks = options.knownChecks ? [...options.knownChecks] : undefined;
    this.lastText = readPolicyText(options.path);
    this.current = parsePolicy(this.lastText, options.path);
    this.logLoaded('policy loaded', this.current);
    if (options.watch ?? true) this.startWatching();
  }

  get policy(): Policy {
    return this.current;
  }

  evaluate(request: PolicyRequest): Verdict {
    return evaluate(this.current, request);
  }

  whoami(userId: string, channelId: string, groups: readonly string[], options?: WhoamiOptions): string {
    return whoami(this.current, userId, channelId, groups, options);
  }

  groupIds(): string[] {
    return policyGroupIds(this.current);
  }

  /** Read the file again. A broken file keeps the current policy and logs one error per broken version. */
  reload(): ReloadResult {
    let text: string;
    try {
      text = readPolicyText(this.options.path);
    } catch (err) {
      return this.failed(`\u0000unreadable:${(err as Error).message}`, (err as Error).message);
    }
    if (text === this.lastText) {
      return this.lastError === undefined ? { ok: true, changed: false, policy: this.current, warnings: [] } : { ok: false, error: this.lastError };
    }
    try {
      const policy = parsePolicy(text, this.options.path);
      this.lastText = text;
      this.lastError = undefined;
      this.current = policy;
      return { ok: true, changed: true, policy, warnings: this.logLoaded('policy reloaded', policy) };
    } catch (err) {
      return this.failed(text, (err as Error).message);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private failed(text: string, error: string): ReloadResult {
    if (text !== this.lastText) {
      this.lastText = text;
      this.lastError = error;
      this.options.logger.error({ policyFile: this.options.path, err: error }, `policy not reloaded, keeping the previous one: ${error}`);
    }
    return { ok: false, error };
  }

  private logLoaded(message: string, policy: Policy): string[] {
    const warnings = this.knownChecks ? policyWarnings(policy, this.knownChecks) : [];
    this.options.logger.info({ policyFile: policy.source, rules: policy.rules.length }, message);
    for (const warning of warnings) this.options.logger.warn({ policyFile: policy.source }, `policy: ${warning}`);
    return warnings;
  }

  // The directory is watched, not the file: editors save by renaming a new file over the old one,
  // and Kubernetes updates a mounted ConfigMap by swapping a symlink, which a file watch misses.
  private startWatching(): void {
    const file = basename(this.options.path);
    try {
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, name) => {
        if (name !== null && name !== file && name !== '..data') return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          const result = this.reload();
          if (!result.ok || result.changed) this.options.onReload?.(result);
        }, this.options.debounceMs ?? 250);
        this.timer.unref();
      });
      this.watcher.on('error', (err) => this.options.logger.warn({ policyFile: this.options.path, err: err.message }, 'policy file watch failed; changes need a restart'));
    } catch (err) {
      this.options.logger.warn({ policyFile: this.options.path, err: (err as Error).message }, 'cannot watch the policy file; changes need a restart');
    }
  }
}

/** The policy file to load: the configured path, or the shipped config/policy.yaml when empty. */
export function resolvePolicyPath(configured: string | undefined): string {
  return configured ? configured : DEFAULT_POLICY_PATH;
}

// ---------------------------------------------------------------------------------------------
// Admission: the bot's checks, in order, for one slash command that parsed into a job

/** The job fields admission needs (structurally a DiagnosticJob). */
export interface AdmissionJob {
  id: string;
  check: string;
  target: { kind: string; name: string };
  namespace: string;
  container?: string;
  positional: readonly string[];
  options: Readonly<Record<string, string>>;
  requestedBy: { teamId: string; userId: string };
}

export interface AdmissionDeps {
  policy: Pick<PolicyStore, 'evaluate' | 'groupIds'>;
  groups: Pick<GroupMembership, 'groupsOf'>;
  limits: { rate: Pick<RateLimiter, 'hit'>; dedupe: Pick<InFlightDedupe, 'claim' | 'release'> };
  audit: Pick<AuditLog, 'record'>;
}

export type Admission =
  | {
      ok: true;
      verdict: Extract<Verdict, { allowed: true }>;
      /** Call once the job is on the queue: writes the `enqueued` audit record. */
      enqueued(): Promise<void>;
      /** Call when it could not be queued after all (root message or queue failed): frees the dedupe claim, audits `not-enqueued`. */
      notEnqueued(reason: string): Promise<void>;
    }
  | {
      ok: false;
      outcome: 'refused' | 'duplicate' | 'rate-limited';
      /** Ready-to-send ephemeral reply (Slack mrkdwn, escaped). */
      reply: string;
      /** duplicate: the job already running; its thread has the results. */
      existingJobId?: string;
    };

const escapeReply = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Policy, then in-flight dedupe, then the user's rate limit; one audit record for a refusal.
 * A duplicate does not use up the rate limit (nothing new runs), and a rate-limited request
 * gives its dedupe claim back. Throws only when Redis or the audit log fail unexpectedly.
 */
export async function admit(deps: AdmissionDeps, command: AuditCommand, job: AdmissionJob, receivedAt: number = Date.now()): Promise<Admission> {
  const base = { jobId: job.id, check: job.check, target: `${job.target.kind}/${job.target.name}`, namespace: job.namespace, startedAt: receivedAt };
  const userGroups = await deps.groups.groupsOf(job.requestedBy.userId, deps.policy.groupIds());
  const verdict = deps.policy.evaluate({ userId: job.requestedBy.userId, channelId: command.channel_id, namespace: job.namespace, check: job.check, userGroups });
  if (!verdict.allowed) {
    const policy = { allowed: false, ...(verdict.rule !== undefined ? { rule: verdict.rule } : {}), reason: verdict.reason };
    await deps.audit.record(auditEntryForCommand(command, 'refused', { ...base, policy }));
    return { ok: false, outcome: 'refused', reply: escapeReply(refusalText(verdict, job)) };
  }
  const policy = { allowed: true, rule: verdict.rule };

  const subject = dedupeSubjectForJob(job);
  const dedupe = await deps.limits.dedupe.claim(subject, job.id);
  if (!dedupe.first) {
    await deps.audit.record(auditEntryForCommand(command, 'duplicate', { ...base, policy, existingJobId: dedupe.existingJobId }));
    return {
      ok: false,
      outcome: 'duplicate',
      existingJobId: dedupe.existingJobId,
      reply: escapeReply(`The same \`${job.check}\` on ${job.target.kind}/${job.target.name} in \`${job.namespace}\` is already running for you (job ${dedupe.existingJobId}); its results will be in that thread.`),
    };
  }

  const rate = await deps.limits.rate.hit(job.requestedBy.teamId, job.requestedBy.userId, verdict.limits.rate);
  if (!rate.ok) {
    await deps.limits.dedupe.release(subject, job.id);
    await deps.audit.record(auditEntryForCommand(command, 'rate-limited', { ...base, policy, retryAfterSeconds: rate.retryAfterSeconds }));
    return {
      ok: false,
      outcome: 'rate-limited',
      reply: `You've started ${rate.limit.requests} diagnostics in the last ${rate.limit.windowSeconds} s, the most allowed. Try again in ${rate.retryAfterSeconds} s.`,
    };
  }

  return {
    ok: true,
    verdict,
    enqueued: async () => {
      await deps.audit.record(auditEntryForCommand(command, 'enqueued', { ...base, policy }));
    },
    notEnqueued: async (reason: string) => {
      await deps.limits.dedupe.release(subject, job.id);
      await deps.audit.record(auditEntryForCommand(command, 'not-enqueued', { ...base, policy, reason }));
    },
  };
}
