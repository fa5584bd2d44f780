// Offline validation of rendered Kubernetes objects against the Kubernetes API's own schemas, in two
// independent passes, because no API server (and so no `kubectl --validate` / server-side dry run) is
// reachable from CI:
//
// 1. JSON Schema: the `kubernetes-models` npm package (and `@kubernetes-models/prometheus-operator`
//    for ServiceMonitor) ships validators compiled from the Kubernetes OpenAPI document (and from the
//    Prometheus Operator's CRD schemas). They check types, required fields, enums and formats
//    (quantities, int-or-string, int32/int64) — but, like the OpenAPI document itself, they let unknown
//    fields through.
// 2. Unknown fields: the API server's strict field validation (what `kubectl apply --validate=strict`
//    asks for) rejects them. `@kubernetes/client-node` (already a kdebug dependency; its models are
//    generated from the Kubernetes release-1.36 OpenAPI document) carries, for every API type, the list
//    of its fields and their types (`attributeTypeMap`). The walk below rejects any field that the type
//    does not declare, recursively, so a misspelled `securityContex:` or a field at the wrong level fails.
//    Custom resources (ServiceMonitor) have no client-node model and get pass 1 only.
import * as k8s from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

interface ValidationError {
  instancePath?: string;
  message?: string;
}
interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** The `kubernetes-models` module path for an apiVersion + kind. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

async function jsonSchemaErrors(obj: KubeObject): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(obj.apiVersion, obj.kind))) as Record<string, unknown>;
  } catch {
    return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  }
  const Cls = mod[obj.kind] as ModelClass | undefined;
  if (typeof Cls !== 'function') return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Cls(obj).validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: ValidationError[] }).errors;
    if (details?.length) return details.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
    return [(err as Error).message];
  }
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ModelCtor = { attributeTypeMap?: Attribute[] };

const models = k8s as unknown as Record<string, ModelCtor | undefined>;

function attributesOf(type: string): Attribute[] | undefined {
  const ctor = models[type];
  return Array.isArray(ctor?.attributeTypeMap) ? ctor.attributeTypeMap : undefined;
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
}

/** Checks `value` against a client-node type name; pushes "path: problem" lines. */
function walk(value: unknown, type: string, path: string, errors: string[]): void {
  if (value === null || value === undefined) return;
  const arrayOf = /^Array<(.+)>$/.exec(type);
  if (arrayOf) {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected an array, got ${describe(value)}`);
    value.forEach((item, i) => walk(item, arrayOf[1]!, `${path}[${i}]`, errors));
    return;
  }
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapOf) {
    if (typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${path}: expected a map, got ${describe(value)}`);
    for (const [k, v] of Object.entries(value)) walk(v, mapOf[1]!, `${path}.${k}`, errors);
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value !== 'string') errors.push(`${path}: expected a string, got ${describe(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: expected a number, got ${describe(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${path}: expected a boolean, got ${describe(value)}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number') errors.push(`${path}: expected an int or a string, got ${describe(value)}`);
      return;
    case 'any':
    case 'object':
      return;
  }
  const attributes = attributesOf(type);
  if (!attributes) return void errors.push(`${path}: no model for type ${type}`);
  if (typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${path}: expected an object (${type}), got ${describe(value)}`);
  const known = new Map(attributes.map((a) => [a.baseName, a.type]));
  for (const [key, child] of Object.entries(value)) {
    const childType = known.get(key);
    if (!childType) errors.push(`${path}.${key}: unknown field (not in ${type})`);
    else walk(child, childType, `${path}.${key}`, errors);
  }
}

/** The client-node model of a built-in kind, e.g. V1Deployment; undefined for custom resources. */
export function builtinModel(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').pop()!;
  const name = `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
  return attributesOf(name) ? name : undefined;
}

function unknownFieldErrors(obj: KubeObject): string[] {
  const model = builtinModel(obj.apiVersion, obj.kind);
  if (!model) return [];
  const errors: string[] = [];
  walk(obj, model, obj.kind, errors);
  return errors;
}

/** Every schema problem of one object, as "Kind/name: path problem" lines; empty when valid. */
export async function validateObject(obj: KubeObject): Promise<string[]> {
  const id = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const errors = [...(await jsonSchemaErrors(obj)), ...unknownFieldErrors(obj)];
  return errors.map((e) => `${id}: ${e}`);
}
