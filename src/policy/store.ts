// The live policy: loaded at start, reloaded when the file changes. A broken new file keeps the
// previous policy in force.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../config/package-root.js';
import type { Logger } from '../observability/logger.js';
import { evaluate, parsePolicy, policyGroupIds, policyWarnings, readPolicyText, type Policy, type PolicyRequest, type Verdict } from './rules.js';
import { whoami, type WhoamiOptions } from './whoami.js';

export const DEFAULT_POLICY_PATH = join(PACKAGE_ROOT, 'config', 'policy.yaml');

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

  whoami(userId: string, channelId: string | undefined, groups: readonly string[], options?: WhoamiOptions): string {
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
