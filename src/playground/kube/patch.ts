// The three PATCH flavours the API server accepts for built-in types, applied to an object's JSON:
// strategic merge patch (lists merged by their patchMergeKey, with the $patch / $setElementOrder /
// $retainKeys / $deleteFromPrimitiveList directives), JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
import { badRequest, unprocessable, unsupportedMediaType } from './status.js';
import { clone, isPlainObject } from './types.js';

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'] as const;

/**
 * patchMergeKey of the Pod (and pod template) lists that merge instead of being replaced, keyed by
 * field name; every other list is replaced whole, as in k8s.io/api's struct tags.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
  schedulingGates: 'name',
};

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!k.startsWith('$')) out[k] = stripDirectives(v);
  return out;
}

function mergeList(original: unknown[], patch: unknown[], mergeKey: string): unknown[] {
  // {"$patch": "replace"} inside a list replaces the whole list with the other items.
  if (patch.some((item) => isPlainObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isPlainObject(item) && item.$patch === 'replace')).map(stripDirectives);
  }
  const result = original.map(clone);
  for (const item of patch) {
    if (!isPlainObject(item)) throw badRequest(`unable to find api field in struct for the patch item ${JSON.stringify(item)}`);
    const idx = result.findIndex((r) => isPlainObject(r) && r[mergeKey] === item[mergeKey]);
    if (item.$patch === 'delete') {
      if (idx >= 0) result.splice(idx, 1);
      continue;
    }
    if (idx >= 0) result[idx] = strategicMerge(result[idx], item);
    else result.push(strategicMerge(undefined, item));
  }
  return result;
}

/** Applies a strategic merge patch to `original` (neither is modified). */
export function strategicMerge(original: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  const base: Record<string, unknown> = isPlainObject(original) ? clone(original) : {};
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.map(String));
    for (const k of Object.keys(base)) if (!keep.has(k) && !(k in patch)) delete base[k];
  }
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const current = base[field];
      if (Array.isArray(current) && Array.isArray(v)) base[field] = current.filter((x) => !v.includes(x));
      continue;
    }
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete base[k];
      continue;
    }
    const mergeKey = MERGE_KEYS[k];
    const current = base[k];
    if (Array.isArray(v) && mergeKey && (current === undefined || Array.isArray(current))) {
      base[k] = mergeList(current ?? [], v, mergeKey);
    } else if (isPlainObject(v)) {
      if (v.$patch === 'delete') delete base[k];
      else base[k] = strategicMerge(current, v);
    } else {
      base[k] = clone(v);
    }
  }
  // $setElementOrder/<list>: items named in the order list come first, in that order.
  for (const [field, order] of orders) {
    const list = base[field];
    const mergeKey = MERGE_KEYS[field];
    if (!Array.isArray(list) || !mergeKey) continue;
    const wanted = order.map((o) => (isPlainObject(o) ? o[mergeKey] : o));
    const rank = (item: unknown): number => {
      const i = wanted.indexOf(isPlainObject(item) ? item[mergeKey] : item);
      return i < 0 ? wanted.length : i;
    };
    base[field] = list
      .map((item: unknown, i) => ({ item, i }))
      .sort((a, b) => rank(a.item) - rank(b.item) || a.i - b.i)
      .map((x) => x.item);
  }
  return base;
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, everything else (lists too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

// --- RFC 6902 ---------------------------------------------------------------------------------------

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw unprocessable(`JSON pointer ${JSON.stringify(pointer)} must start with '/'`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Returns the container holding the last token of `path`, and that token. */
function locate(doc: unknown, tokens: string[], op: string, pointer: string): { parent: unknown; last: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isPlainObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw unprocessable(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, pointer: string, op: string): unknown {
  let cur = doc;
  for (const t of parsePointer(pointer)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isPlainObject(cur)) cur = Object.hasOwn(cur, t) ? cur[t] : undefined;
    else cur = undefined;
    if (cur === undefined) throw unprocessable(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  return cur;
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean, op: string, pointer: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw unprocessable(`${op} operation does not apply: invalid array index ${JSON.stringify(token)} in ${JSON.stringify(pointer)}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw unprocessable(`${op} operation does not apply: index out of bounds: ${i} in ${JSON.stringify(pointer)}`);
  return i;
}

function addAt(doc: unknown, pointer: string, value: unknown, op = 'add'): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return clone(value);
  const { parent, last } = locate(doc, tokens, op, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, op, pointer), 0, clone(value));
  else if (isPlainObject(parent)) parent[last] = clone(value);
  else throw unprocessable(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  return doc;
}

function removeAt(doc: unknown, pointer: string, op = 'remove'): unknown {
  const tokens = parsePointer(pointer);
  const { parent, last } = locate(doc, tokens, op, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false, op, pointer), 1);
  else if (isPlainObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw unprocessable(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  return doc;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical(value[k])]),
  );
}

/** Applies an RFC 6902 JSON patch. Malformed patches are 400s; ones that do not apply are 422s. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let result = clone(doc);
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw unprocessable(`Unexpected kind: ${JSON.stringify(raw)}`);
    }
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        result = addAt(result, op.path, op.value);
        break;
      case 'remove':
        result = removeAt(result, op.path);
        break;
      case 'replace':
        getAt(result, op.path, 'replace');
        result = removeAt(result, op.path, 'replace');
        result = addAt(result, op.path, op.value, 'replace');
        break;
      case 'move': {
        const value = getAt(result, op.from ?? '', 'move');
        result = removeAt(result, op.from ?? '', 'move');
        result = addAt(result, op.path, value, 'move');
        break;
      }
      case 'copy':
        result = addAt(result, op.path, getAt(result, op.from ?? '', 'copy'), 'copy');
        break;
      case 'test':
        if (!deepEqual(getAt(result, op.path, 'test'), op.value)) {
          throw unprocessable(`testing value ${op.path} failed: test failed`);
        }
        break;
      default:
        throw unprocessable(`Unexpected kind: ${String((op as { op: unknown }).op)}`);
    }
  }
  return result;
}

/** Applies `body` (the raw request body) to `doc` according to the request's Content-Type. */
export function applyPatch(contentType: string, doc: unknown, body: string): unknown {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!(PATCH_TYPES as readonly string[]).includes(type) || type === 'application/apply-patch+yaml') {
    // Server-side apply needs managed fields; the emulator does not implement it.
    throw unsupportedMediaType([...PATCH_TYPES]);
  }
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  if (type === 'application/json-patch+json') return jsonPatch(doc, patch);
  if (!isPlainObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
  return type === 'application/merge-patch+json' ? mergePatch(doc, patch) : strategicMerge(doc, patch);
}
