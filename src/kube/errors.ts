// Turns Kubernetes API failures into messages an on-call engineer can act on.
import { ApiException } from '@kubernetes/client-node';
import { UserFacingError } from '../core/errors.js';

/** The API server's Status object, as far as we read it. */
export interface KubeStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

export function statusOf(err: unknown): { code: number; status: KubeStatus } | undefined {
  if (!(err instanceof ApiException)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = { message: body };
    }
  }
  const status = typeof body === 'object' && body !== null ? (body as KubeStatus) : {};
  return { code: err.code, status };
}

/** Network-level failures (no HTTP answer at all). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+/.test(code)) return code;
  }
  return undefined;
}

export interface ErrorContext {
  /** What kdebug was doing, e.g. "add the debug container to pod web-0". */
  action: string;
  namespace: string;
  apiServer?: string;
  /** Checks whose container needs no capability, named when Pod Security refuses one that does. */
  unprivilegedChecks?: readonly string[];
}

/**
 * Explain an API error. 403s name the missing permission, 422s quote the field causes,
 * Pod Security refusals quote the policy. 404s are left to the caller, who knows what was missing.
 */
export function explainApiError(err: unknown, ctx: ErrorContext): UserFacingError {
  if (err instanceof UserFacingError) return err;
  const parsed = statusOf(err);
  if (!parsed) {
    const code = networkCode(err);
    if (code) {
      return new UserFacingError(
        `Could not reach the Kubernetes API${ctx.apiServer ? ` at ${ctx.apiServer}` : ''} (${code}) to ${ctx.action}. Check that the worker's kubeconfig or in-cluster service account points at a reachable cluster.`,
        'kube-unreachable',
      );
    }
    return new UserFacingError(`Unexpected error while trying to ${ctx.action}: ${(err as Error)?.message ?? String(err)}`, 'internal');
  }
  const { code, status } = parsed;
  const message = status.message ?? `HTTP ${code}`;
  if (code === 401) {
    return new UserFacingError(
      `The Kubernetes API rejected kdebug's credentials (401) while trying to ${ctx.action}. The worker's token or kubeconfig is missing or expired.`,
      'kube-unauthorized',
    );
  }
  if (code === 403) {
    const policy = /violates PodSecurity "([^"]+)": (.*)$/s.exec(message);
    if (policy) {
      return new UserFacingError(
        `Pod Security Admission refused the debug container in namespace ${ctx.namespace} (policy "${policy[1]}"): ${policy[2]}. ${ctx.unprivilegedChecks?.length ? `Checks that need no extra privileges (${ctx.unprivilegedChecks.join(', ')}) can still run; for the others ask` : 'Ask'} a cluster admin about the namespace's pod-security.kubernetes.io/enforce label.`,
        'pod-security',
      );
    }
    const rbac = /cannot (\w+) resource "([^"]+)" in API group "([^"]*)"/.exec(message);
    if (rbac) {
      const [, verb, resource, group] = rbac;
      const qualified = group ? `${resource}.${group}` : resource;
      return new UserFacingError(
        `kdebug is not allowed to ${verb} ${qualified} in namespace ${ctx.namespace}, so it could not ${ctx.action}. Ask a cluster admin to grant the worker's service account "${verb}" on "${qualified}" there (the Helm chart's RBAC does this for the namespaces in targetNamespaces).`,
        'forbidden',
      );
    }
    return new UserFacingError(`Kubernetes refused to let kdebug ${ctx.action}: ${message}`, 'forbidden');
  }
  if (code === 422) {
    const causes = status.details?.causes?.map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? ''}`.trim()) ?? [];
    return new UserFacingError(`Kubernetes rejected the request to ${ctx.action} as invalid: ${causes.length ? causes.join('; ') : message}`, 'invalid');
  }
  if (code === 409) {
    return new UserFacingError(`Kubernetes reported a conflict while trying to ${ctx.action}: ${message}. Run the command again.`, 'conflict');
  }
  if (code === 429 || code >= 500) {
    return new UserFacingError(`The Kubernetes API is failing (${code}: ${message}) while kdebug tried to ${ctx.action}. Try again in a minute.`, 'kube-unavailable');
  }
  return new UserFacingError(`Kubernetes answered ${code} (${message}) while kdebug tried to ${ctx.action}.`, 'kube-error');
}
