// What the API server does to a pods/ephemeralcontainers update after decoding it: defaulting,
// ValidatePodEphemeralContainersUpdate (pkg/apis/core/validation), and the PodSecurity admission plugin
// (k8s.io/pod-security-admission/policy). Messages follow the upstream sources word for word.
import { canonical } from './patch.js';
import type { FieldError } from './status.js';
import { isPlainObject, type ContainerSpec, type Pod, type SecurityContext } from './types.js';

// --- defaulting (SetDefaults_Container, applied to ephemeral containers too) ------------------------

function defaultPullPolicy(image: string | undefined): string {
  if (!image) return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.split('/').pop() ?? image;
  const tag = lastPart.includes(':') ? lastPart.split(':').pop() : undefined;
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export function defaultContainer(c: ContainerSpec): ContainerSpec {
  const out: ContainerSpec = { ...c };
  out.resources ??= {};
  out.terminationMessagePath ??= '/dev/termination-log';
  out.terminationMessagePolicy ??= 'File';
  out.imagePullPolicy ??= defaultPullPolicy(out.image);
  return out;
}

// --- ValidatePodEphemeralContainersUpdate --------------------------------------------------------------

/** EphemeralContainerCommon fields that validateFieldAllowList rejects, in struct order. */
const FORBIDDEN_EPHEMERAL_FIELDS = ['ports', 'resources', 'resizePolicy', 'lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'];

/** Go's reflect IsZero for decoded JSON: absent, null, empty string/list/object, false, 0. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.values(value).every(isZero);
  return false;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function validateContainerName(name: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (name.length > 63) errs.push({ type: 'FieldValueInvalid', field, value: name, detail: 'must be no more than 63 characters' });
  if (!DNS1123_LABEL.test(name)) {
    errs.push({
      type: 'FieldValueInvalid',
      field,
      value: name,
      detail:
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    });
  }
  return errs;
}

/** validateEphemeralContainers: the checks on the pod's whole list of ephemeral containers. */
function validateEphemeralContainers(pod: Pod): FieldError[] {
  const errs: FieldError[] = [];
  const others = new Set([...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].map((c) => c.name));
  const all = new Set(others);
  (pod.spec.ephemeralContainers ?? []).forEach((ec, i) => {
    const path = `spec.ephemeralContainers[${i}]`;
    // validateContainerCommon
    if (!ec.name) errs.push({ type: 'FieldValueRequired', field: `${path}.name` });
    else errs.push(...validateContainerName(ec.name, `${path}.name`));
    if (!ec.image) errs.push({ type: 'FieldValueRequired', field: `${path}.image` });
    // validateContainerOnlyForPod
    if (ec.image && ec.image.trim() !== ec.image) {
      errs.push({ type: 'FieldValueInvalid', field: `${path}.image`, value: ec.image, detail: 'must not have leading or trailing whitespace' });
    }
    // Names are unique across all container types.
    if (all.has(ec.name)) errs.push({ type: 'FieldValueDuplicate', field: `${path}.name`, value: ec.name });
    else all.add(ec.name);
    // The target must be a regular or init container.
    if (ec.targetContainerName && !others.has(ec.targetContainerName)) {
      errs.push({ type: 'FieldValueNotFound', field: `${path}.targetContainerName`, value: ec.targetContainerName });
    }
    for (const field of FORBIDDEN_EPHEMERAL_FIELDS) {
      if (!isZero(ec[field])) errs.push({ type: 'FieldValueForbidden', field: `${path}.${field}`, detail: 'cannot be set for an Ephemeral Container' });
    }
    const mounts = Array.isArray(ec.volumeMounts) ? ec.volumeMounts : [];
    mounts.forEach((vm: unknown, j: number) => {
      if (!isPlainObject(vm)) return;
      for (const sub of ['subPath', 'subPathExpr']) {
        if (vm[sub]) errs.push({ type: 'FieldValueForbidden', field: `${path}.volumeMounts[${j}].${sub}`, detail: 'cannot be set for an Ephemeral Container' });
      }
    });
  });
  return errs;
}

/**
 * apiequality.Semantic.DeepEqual treats nil and empty slices/maps alike, and the non-pointer scalar
 * fields of a container (stdin, tty, workingDir...) are equal when absent and zero.
 */
function semantic(value: unknown, topLevel = false): unknown {
  if (Array.isArray(value)) return value.length ? value.map((v) => semantic(v)) : undefined;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const s = semantic(v);
    if (s === undefined || s === null) continue;
    if (isPlainObject(s) && Object.keys(s).length === 0) continue;
    if (topLevel && (s === false || s === '')) continue;
    out[k] = s;
  }
  return canonical(out);
}

/** A short stand-in for cmp.Diff's output: one -/+ pair per changed top-level field. */
function containerDiff(before: ContainerSpec, after: ContainerSpec): string {
  const a = semantic(before, true) as Record<string, unknown>;
  const b = semantic(after, true) as Record<string, unknown>;
  const lines: string[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = JSON.stringify(a[k]);
    const y = JSON.stringify(b[k]);
    if (x === y) continue;
    if (x !== undefined) lines.push(`- \t${k}: ${x},`);
    if (y !== undefined) lines.push(`+ \t${k}: ${y},`);
  }
  return `  core.EphemeralContainer{\n${lines.join('\n')}\n  }\n`;
}

/** ValidatePodEphemeralContainersUpdate(newPod, oldPod). `newPod` must already be defaulted. */
export function validateEphemeralContainersUpdate(newPod: Pod, oldPod: Pod): FieldError[] {
  const errs = validateEphemeralContainers(newPod);
  if (oldPod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) {
    return [{ type: 'FieldValueForbidden', field: '', detail: 'static pods do not support ephemeral containers' }];
  }
  const byName = new Map((newPod.spec.ephemeralContainers ?? []).map((c) => [c.name, c]));
  for (const old of oldPod.spec.ephemeralContainers ?? []) {
    const now = byName.get(old.name);
    if (!now) {
      errs.push({ type: 'FieldValueForbidden', field: 'spec.ephemeralContainers', detail: `existing ephemeral containers ${JSON.stringify(old.name)} may not be removed\n` });
    } else if (JSON.stringify(semantic(old, true)) !== JSON.stringify(semantic(now, true))) {
      errs.push({
        type: 'FieldValueForbidden',
        field: 'spec.ephemeralContainers',
        detail: `existing ephemeral containers ${JSON.stringify(old.name)} may not be changed\n${containerDiff(old, now)}`,
      });
    }
  }
  return errs;
}

// --- PodSecurity admission -----------------------------------------------------------------------------

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

interface CheckResult {
  reason: string;
  detail: string;
}

type Check = (podSc: SecurityContext | undefined, containers: ContainerSpec[]) => CheckResult | undefined;

const joinQuote = (items: string[]): string => (items.length ? `"${items.join('", "')}"` : '');
const pluralize = (singular: string, plural: string, n: number): string => (n === 1 ? singular : plural);
const containersPhrase = (names: string[]): string => `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
const sortedUnique = (values: Iterable<string>): string[] => [...new Set(values)].sort();

const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const validSeccomp = (t: string | undefined): boolean => t === 'RuntimeDefault' || t === 'Localhost';

const privileged: Check = (_pod, cs) => {
  const bad = cs.filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
  return bad.length ? { reason: 'privileged', detail: `${containersPhrase(bad)} must not set securityContext.privileged=true` } : undefined;
};

const capabilitiesBaseline: Check = (_pod, cs) => {
  const bad: string[] = [];
  const caps: string[] = [];
  for (const c of cs) {
    const added = (c.securityContext?.capabilities?.add ?? []).filter((cap) => !BASELINE_CAPABILITIES.has(cap));
    if (added.length) {
      bad.push(c.name);
      caps.push(...added);
    }
  }
  return bad.length
    ? { reason: 'non-default capabilities', detail: `${containersPhrase(bad)} must not include ${joinQuote(sortedUnique(caps))} in securityContext.capabilities.add` }
    : undefined;
};

/** Shared by seccompProfile_baseline and seccompProfile_restricted: explicit bad values. */
function seccompBadSetters(pod: SecurityContext | undefined, cs: ContainerSpec[]): { setters: string[]; values: string[] } {
  const setters: string[] = [];
  const values: string[] = [];
  const podType = pod?.seccompProfile?.type;
  if (pod?.seccompProfile && !validSeccomp(podType)) {
    setters.push('pod');
    values.push(podType ?? '');
  }
  const bad = cs.filter((c) => c.securityContext?.seccompProfile && !validSeccomp(c.securityContext.seccompProfile.type));
  for (const c of bad) values.push(c.securityContext?.seccompProfile?.type ?? '');
  if (bad.length) setters.push(containersPhrase(bad.map((c) => c.name)));
  return { setters, values: sortedUnique(values) };
}

const seccompProfileBaseline: Check = (pod, cs) => {
  const { setters, values } = seccompBadSetters(pod, cs);
  return setters.length ? { reason: 'seccompProfile', detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(values)}` } : undefined;
};

const allowPrivilegeEscalation: Check = (_pod, cs) => {
  const bad = cs.filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => c.name);
  return bad.length ? { reason: 'allowPrivilegeEscalation != false', detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false` } : undefined;
};

const capabilitiesRestricted: Check = (_pod, cs) => {
  const missingDrop: string[] = [];
  const adding: string[] = [];
  const caps: string[] = [];
  for (const c of cs) {
    const capabilities = c.securityContext?.capabilities;
    if (!capabilities) {
      missingDrop.push(c.name);
      continue;
    }
    if (!(capabilities.drop ?? []).includes('ALL')) missingDrop.push(c.name);
    const added = (capabilities.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length) {
      adding.push(c.name);
      caps.push(...added);
    }
  }
  const details: string[] = [];
  if (missingDrop.length) details.push(`${containersPhrase(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
  if (adding.length) details.push(`${containersPhrase(adding)} must not include ${joinQuote(sortedUnique(caps))} in securityContext.capabilities.add`);
  return details.length ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
};

const runAsNonRoot: Check = (pod, cs) => {
  const setters: string[] = [];
  let podNonRoot = false;
  if (pod?.runAsNonRoot !== undefined) {
    if (!pod.runAsNonRoot) setters.push('pod');
    else podNonRoot = true;
  }
  const explicit = cs.filter((c) => c.securityContext?.runAsNonRoot === false).map((c) => c.name);
  const implicit = cs.filter((c) => c.securityContext?.runAsNonRoot === undefined && !podNonRoot).map((c) => c.name);
  if (explicit.length) setters.push(containersPhrase(explicit));
  if (setters.length) return { reason: 'runAsNonRoot != true', detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false` };
  if (implicit.length) return { reason: 'runAsNonRoot != true', detail: `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true` };
  return undefined;
};

const runAsUser: Check = (pod, cs) => {
  const setters: string[] = [];
  if (pod?.runAsUser === 0) setters.push('pod');
  const bad = cs.filter((c) => c.securityContext?.runAsUser === 0).map((c) => c.name);
  if (bad.length) setters.push(containersPhrase(bad));
  return setters.length ? { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` } : undefined;
};

const seccompProfileRestricted: Check = (pod, cs) => {
  const { setters, values } = seccompBadSetters(pod, cs);
  if (setters.length) {
    return { reason: 'seccompProfile', detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(values)}` };
  }
  const podSet = pod?.seccompProfile !== undefined && validSeccomp(pod.seccompProfile.type);
  const implicit = cs.filter((c) => !c.securityContext?.seccompProfile && !podSet).map((c) => c.name);
  return implicit.length
    ? { reason: 'seccompProfile', detail: `pod or ${containersPhrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"` }
    : undefined;
};

// Evaluation order of the policy registry: baseline checks in registration (file name) order, then
// either the checks that only baseline runs, or the restricted ones (which supersede those).
const BASELINE_CHECKS: Check[] = [privileged];
const BASELINE_ONLY_CHECKS: Check[] = [capabilitiesBaseline, seccompProfileBaseline];
const RESTRICTED_CHECKS: Check[] = [allowPrivilegeEscalation, capabilitiesRestricted, runAsNonRoot, runAsUser, seccompProfileRestricted];

/** The namespace's enforced level and its policy string, e.g. "restricted:latest"; undefined when unenforced. */
export function enforcedPolicy(labels: Record<string, string> | undefined): { level: PodSecurityLevel; policy: string } | undefined {
  const level = labels?.['pod-security.kubernetes.io/enforce'];
  if (level !== 'baseline' && level !== 'restricted') return undefined;
  const version = labels?.['pod-security.kubernetes.io/enforce-version'] || 'latest';
  return { level, policy: `${level}:${version}` };
}

/**
 * Evaluates the ephemeral containers being added (with the pod-level security context they inherit)
 * against `level`. Returns the `violates PodSecurity ...` text, or undefined when allowed. The pod's
 * other containers are not re-checked: they were admitted when the pod was created.
 */
export function podSecurityViolation(level: PodSecurityLevel, policy: string, pod: Pod, added: ContainerSpec[]): string | undefined {
  if (level === 'privileged' || added.length === 0) return undefined;
  const checks = [...BASELINE_CHECKS, ...(level === 'baseline' ? BASELINE_ONLY_CHECKS : RESTRICTED_CHECKS)];
  const failures = checks.map((check) => check(pod.spec.securityContext, added)).filter((r): r is CheckResult => r !== undefined);
  if (failures.length === 0) return undefined;
  return `violates PodSecurity ${JSON.stringify(policy)}: ${failures.map((f) => `${f.reason} (${f.detail})`).join(', ')}`;
}
