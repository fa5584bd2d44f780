// labelSelector and fieldSelector query parameters, with the API server's matching rules
// (notably: `key!=v` and `key notin (...)` also match objects that do not have the label at all).
import { badRequest } from './status.js';
import { isPlainObject, type KubeObject } from './types.js';

type LabelRequirement = { op: 'exists' | 'notexists'; key: string } | { op: 'in' | 'notin'; key: string; values: string[] } | { op: 'gt' | 'lt'; key: string; value: number };

export type Selector = (obj: KubeObject) => boolean;

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts.map((p) => p.trim());
}

function parseRequirement(raw: string): LabelRequirement {
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(raw))) return { op: 'notexists', key: m[1]! };
  if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`).exec(raw))) {
    const values = m[4]!.split(',').map((v) => v.trim());
    if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) throw badRequest(`unable to parse requirement: invalid label value in ${JSON.stringify(raw)}`);
    return { op: m[3] as 'in' | 'notin', key: m[1]!, values };
  }
  if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(raw))) {
    return { op: m[3] === '!=' ? 'notin' : 'in', key: m[1]!, values: [m[4] ?? ''] };
  }
  if ((m = new RegExp(`^(${KEY})\\s*(>|<)\\s*(-?\\d+)$`).exec(raw))) {
    return { op: m[3] === '>' ? 'gt' : 'lt', key: m[1]!, value: Number(m[4]) };
  }
  if ((m = new RegExp(`^(${KEY})$`).exec(raw))) return { op: 'exists', key: m[1]! };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(raw)} is not a valid label selector requirement`);
}

function matchesRequirement(labels: Record<string, string>, r: LabelRequirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case 'exists':
      return has;
    case 'notexists':
      return !has;
    case 'in':
      return has && r.values.includes(value ?? '');
    case 'notin':
      return !has || !r.values.includes(value ?? '');
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value ?? '')) return false;
      return r.op === 'gt' ? Number(value) > r.value : Number(value) < r.value;
    }
  }
}

/** Parses a labelSelector (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`). Throws a 400 when malformed. */
export function parseLabelSelector(selector: string | null | undefined): Selector {
  if (!selector?.trim()) return () => true;
  const reqs = splitTopLevel(selector).map(parseRequirement);
  return (obj) => reqs.every((r) => matchesRequirement(obj.metadata.labels ?? {}, r));
}

// Fields each resource can be selected by (the API server's *ToSelectableFields functions).
const SELECTABLE_FIELDS: Record<string, string[]> = {
  pods: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  namespaces: ['metadata.name', 'status.phase'],
  nodes: ['metadata.name', 'spec.unschedulable'],
};
const DEFAULT_FIELDS = ['metadata.name', 'metadata.namespace'];
// Booleans the API server selects by as "true" or "false", an absent one as "false".
const BOOLEAN_FIELDS = new Set(['spec.hostNetwork', 'spec.unschedulable']);

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) cur = isPlainObject(cur) ? cur[part] : undefined;
  if (BOOLEAN_FIELDS.has(path)) return String(cur === true);
  // Selectable fields are strings; anything else selects as empty.
  return typeof cur === 'string' || typeof cur === 'number' ? String(cur) : '';
}

/** Parses a fieldSelector (`=`, `==`, `!=`) for `resource`. Unknown fields get the API server's 400. */
export function parseFieldSelector(resource: string, selector: string | null | undefined): Selector {
  if (!selector?.trim()) return () => true;
  const allowed = SELECTABLE_FIELDS[resource] ?? DEFAULT_FIELDS;
  const reqs = splitTopLevel(selector).map((raw) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const field = m[1]!;
    if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: m[2] === '!=', value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}
