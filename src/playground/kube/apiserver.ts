// The REST surface: authentication, request attributes (verb / group / resource / subresource, as RBAC
// sees them), authorization via the test's deny list, and the handlers for discovery, get / list /
// watch, the pods/ephemeralcontainers subresource and pods/log.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { constants as http2, type Http2ServerRequest } from 'node:http2';
import type { ContainerLog, Kubelet } from './kubelet.js';
import { applyPatch, canonical } from './patch.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, badRequest, conflict, forbidden, invalid, methodNotAllowed, notFound, notFoundPath, status, unauthorized, type GroupResource, type Status } from './status.js';
import { apiVersionOf, RESOURCES, type ObjectStore, type ResourceName, type WatchEvent } from './store.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SERVER_VERSION, table } from './tables.js';
import { clone, isPlainObject, type ContainerSpec, type KubeObject, type Pod } from './types.js';
import { defaultContainer, enforcedPolicy, podSecurityViolation, validateEphemeralContainersUpdate } from './validation.js';

/** One API request as the authorizer sees it (Kubernetes authorization verbs). */
export interface RecordedRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface DenyRule {
  verb: string;
  resource: string;
  subresource?: string;
}

/**
 * A request and its response over either protocol: HTTP/1.1, or HTTP/2 through node's
 * compatibility API, which a TLS client offering h2 gets, as from a real API server.
 */
export type ApiRequest = IncomingMessage | Http2ServerRequest;

/** What the handlers use of a response: the same on both protocols (ServerResponse or Http2ServerResponse). */
export interface ApiResponse {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(): unknown;
  end(chunk: string): unknown;
  destroy(): unknown;
  /** HTTP/2 only: the response's stream. */
  readonly stream?: { close(code: number): void };
  /** Sends the headers now (a watch or a followed log with nothing to say yet). Http2ServerResponse has it, its typings do not. */
  flushHeaders?(): void;
  on(event: 'close', listener: () => void): unknown;
}

/** A fault to inject into matching requests (see KubeEmulator.injectFault). */
export type ApiFault =
  /** Answer with this HTTP status and the API server's Status body. */
  | { status: 429 | 500 | 502 | 503 | 504; delayMs?: number }
  /** Answer normally, only late (longer than a client's timeout, say). */
  | { delayMs: number }
  /** Watches: cut the stream (no clean end) after this long. */
  | { dropAfterMs: number }
  /** Watches: send the ERROR event a real server sends when the resourceVersion expired (410). */
  | { expired: true };

/** What the handlers need from the emulator. */
export interface ApiServerState {
  store: ObjectStore;
  kubelet: Kubelet;
  token: string;
  user: string;
  ephemeralContainersEnabled: boolean;
  bookmarkIntervalMs: number;
  /** A watch without timeoutSeconds ends after this times a random 1 to 2 (the API server's --min-request-timeout). */
  minRequestTimeoutSeconds: number;
  /** How long a followed log stays open after its container exited (see KubeEmulator.setFollowEndDelay). */
  followEndDelayMs: () => number;
  requests: RecordedRequest[];
  isDenied(req: RecordedRequest): boolean;
  /** The next injected fault for this request, if any (each is used up once). */
  takeFault(req: RecordedRequest): ApiFault | undefined;
  /** Deletes a pod the way the emulator's deletePod() does (kills its processes, frees its network). */
  deletePod(namespace: string, name: string): KubeObject | undefined;
  /** Responses kept open (watches, followed logs), closed by stop(). */
  streams: Set<ApiResponse>;
}

interface ResourceRequest {
  info: (typeof RESOURCES)[ResourceName];
  resource: ResourceName;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);
const SUBRESOURCES: Partial<Record<ResourceName, string[]>> = { pods: ['ephemeralcontainers', 'log', 'status'] };

function send(res: ApiResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ApiResponse, s: Status): void {
  send(res, s.code, s);
}

function readBody(req: ApiRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Maps /api/v1/... and /apis/apps/v1/... onto a resource request, or undefined for unknown paths. */
function parseResourcePath(path: string): ResourceRequest | undefined {
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: '' | 'apps';
  let rest: string[];
  if (seg[0] === 'api' && seg[1] === 'v1') [group, rest] = ['', seg.slice(2)];
  else if (seg[0] === 'apis' && seg[1] === 'apps' && seg[2] === 'v1') [group, rest] = ['apps', seg.slice(3)];
  else return undefined;

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (!resource || extra.length) return undefined;
  const info = (RESOURCES as Record<string, (typeof RESOURCES)[ResourceName]>)[resource];
  if (!info || info.group !== group) return undefined;
  if (namespace !== undefined && !info.namespaced) return undefined;
  if (subresource && !SUBRESOURCES[resource as ResourceName]?.includes(subresource)) return undefined;
  return { info, resource: resource as ResourceName, namespace, name, subresource };
}

function verbOf(method: string, r: ResourceRequest, query: URLSearchParams): RecordedRequest['verb'] | undefined {
  const watch = query.get('watch');
  switch (method) {
    case 'GET':
      if (r.name) return 'get';
      return watch === 'true' || watch === '1' ? 'watch' : 'list';
    case 'PATCH':
      return 'patch';
    case 'PUT':
      return 'update';
    case 'POST':
      return 'create';
    case 'DELETE':
      return r.name ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

function groupResource(r: ResourceRequest): GroupResource {
  return { group: r.info.group, resource: r.info.resource };
}

/** The RBAC authorizer's denial text. */
function rbacReason(user: string, req: RecordedRequest): string {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const scope = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope';
  return `User "${user}" cannot ${req.verb} resource "${resource}" in API group "${req.apiGroup}" ${scope}`;
}

function wantsTable(req: ApiRequest): boolean {
  return /as=Table/.test(req.headers.accept ?? '');
}

/** Lists omit each item's kind and apiVersion, as the API server's list responses do. */
function listItem(obj: KubeObject): KubeObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = obj;
  return rest as KubeObject;
}

/**
 * Cuts a response short, as a failing server or a dropped connection does: HTTP/1.1 closes the
 * connection; HTTP/2 resets the response's stream with INTERNAL_ERROR, as Go's server does when a
 * handler fails mid-response, and the connection's other streams go on.
 */
function cut(res: ApiResponse): void {
  if (res.stream) res.stream.close(http2.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

export function createHandler(state: ApiServerState): (req: ApiRequest, res: ApiResponse) => void {
  return (req, res) => {
    handle(state, req, res).catch((err: unknown) => {
      if (res.headersSent) {
        cut(res);
        return;
      }
      if (err instanceof ApiError) sendStatus(res, err.status);
      else sendStatus(res, status(500, 'InternalError', `an error on the server ("${(err as Error).message}") has prevented the request from succeeding`));
    });
  };
}

async function handle(state: ApiServerState, req: ApiRequest, res: ApiResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';

  // Authentication: a wrong token is always 401; no token is anonymous, which may only read /version.
  const auth = req.headers.authorization;
  if (auth !== `Bearer ${state.token}` && (auth !== undefined || !PUBLIC_PATHS.has(path))) {
    sendStatus(res, unauthorized());
    return;
  }

  // Non-resource endpoints: version and discovery.
  const address = `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 0}`;
  const nonResource: Record<string, () => unknown> = {
    '/version': () => SERVER_VERSION,
    '/api': () => apiVersions(address),
    '/api/v1': () => apiResourceList('', state.ephemeralContainersEnabled),
    '/apis': () => apiGroupList(),
    '/apis/apps': () => apiGroup(),
    '/apis/apps/v1': () => apiResourceList('apps', state.ephemeralContainersEnabled),
  };
  const doc = nonResource[path];
  if (doc) {
    if (method !== 'GET') throw methodNotAllowed();
    send(res, 200, doc());
    return;
  }
  if (path === '/healthz' || path === '/livez' || path === '/readyz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
    return;
  }

  const r = parseResourcePath(path);
  if (!r) throw notFoundPath();
  const verb = verbOf(method, r, url.searchParams);
  if (!verb) throw methodNotAllowed();

  // Request attributes as RBAC sees them. A namespace's own name is its namespace for authorization.
  const attrs: RecordedRequest = { verb, apiGroup: r.info.group, resource: r.info.resource };
  if (r.subresource) attrs.subresource = r.subresource;
  const ns = r.resource === 'namespaces' ? r.name : r.namespace;
  if (ns !== undefined) attrs.namespace = ns;
  if (r.name !== undefined) attrs.name = r.name;
  state.requests.push(attrs);
  if (state.isDenied(attrs)) throw forbidden(groupResource(r), r.name, rbacReason(state.user, attrs));
  const fault = state.takeFault(attrs);
  if (fault && 'delayMs' in fault && fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  if (fault && 'status' in fault) {
    const reasons: Record<number, string> = { 429: 'TooManyRequests', 500: 'InternalError', 502: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
    throw new ApiError(
      status(
        fault.status,
        reasons[fault.status] ?? 'InternalError',
        fault.status === 429 ? 'the server has received too many requests and has asked us to try again later' : 'the server is currently unable to handle the request',
      ),
    );
  }
  if (fault && 'expired' in fault) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 1 (2)') })}\n`);
    return;
  }
  if (fault && 'dropAfterMs' in fault) setTimeout(() => cut(res), fault.dropAfterMs);

  if (r.subresource === 'ephemeralcontainers') {
    // Old clusters (or the feature gate off) do not serve the subresource at all.
    if (!state.ephemeralContainersEnabled) throw notFoundPath();
    if (verb === 'get') return void send(res, 200, getObject(state, r));
    if (verb === 'patch' || verb === 'update') return void send(res, 200, await updateEphemeralContainers(state, r, req, verb));
    throw methodNotAllowed();
  }
  if (r.subresource === 'log') {
    if (verb !== 'get') throw methodNotAllowed();
    return streamLog(state, r, url.searchParams, res);
  }
  if (r.subresource === 'status') {
    if (verb !== 'get') throw methodNotAllowed();
    return void send(res, 200, getObject(state, r));
  }

  switch (verb) {
    case 'get': {
      const obj = getObject(state, r);
      if (wantsTable(req)) send(res, 200, table(r.resource, [obj], obj.metadata.resourceVersion, url.searchParams.get('includeObject')));
      else send(res, 200, obj);
      return;
    }
    case 'list':
      return list(state, r, url.searchParams, req, res);
    case 'watch':
      return watch(state, r, url.searchParams, req, res);
    case 'delete':
      if (r.resource === 'pods' && r.namespace && r.name) {
        const deleted = state.deletePod(r.namespace, r.name);
        if (!deleted) throw notFound(groupResource(r), r.name);
        return void send(res, 200, deleted);
      }
      throw methodNotAllowed();
    default:
      throw methodNotAllowed();
  }
}

function getObject(state: ApiServerState, r: ResourceRequest): KubeObject {
  const obj = state.store.get(r.resource, r.info.namespaced ? r.namespace : undefined, r.name ?? '');
  if (!obj) throw notFound(groupResource(r), r.name ?? '');
  return obj;
}

function selectorFor(r: ResourceRequest, query: URLSearchParams): (obj: KubeObject) => boolean {
  const labels = parseLabelSelector(query.get('labelSelector'));
  const fields = parseFieldSelector(r.resource, query.get('fieldSelector'));
  return (obj) => labels(obj) && fields(obj);
}

function list(state: ApiServerState, r: ResourceRequest, query: URLSearchParams, req: ApiRequest, res: ApiResponse): void {
  const matches = selectorFor(r, query);
  const rv = state.store.resourceVersion;
  let items = state.store.list(r.resource, r.namespace).filter(matches);

  // Paging: the continue token remembers the offset and the resourceVersion of the first page.
  let offset = 0;
  let listRv = rv;
  const token = query.get('continue');
  if (token) {
    try {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: number; rv: string };
      offset = parsed.offset;
      listRv = parsed.rv;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data at input byte 0');
    }
  }
  const limit = Number(query.get('limit') ?? 0);
  let cont: string | undefined;
  let remaining: number | undefined;
  if (limit > 0 && items.length - offset > limit) {
    cont = Buffer.from(JSON.stringify({ offset: offset + limit, rv: listRv })).toString('base64url');
    remaining = items.length - offset - limit;
  }
  items = items.slice(offset, limit > 0 ? offset + limit : undefined);

  if (wantsTable(req)) {
    send(res, 200, table(r.resource, items, listRv, query.get('includeObject'), cont));
    return;
  }
  send(res, 200, {
    kind: `${r.info.kind}List`,
    apiVersion: apiVersionOf(r.info),
    metadata: { resourceVersion: listRv, ...(cont ? { continue: cont, remainingItemCount: remaining } : {}) },
    items: items.map(listItem),
  });
}

function watch(state: ApiServerState, r: ResourceRequest, query: URLSearchParams, req: ApiRequest, res: ApiResponse): void {
  const matches = selectorFor(r, query);
  const asTable = wantsTable(req);
  const rvParam = query.get('resourceVersion');
  const fromRv = rvParam ? Number(rvParam) : undefined;
  if (rvParam && !Number.isInteger(fromRv)) throw badRequest(`invalid resource version: ${rvParam}`);

  // No length: HTTP/1.1 sends it chunked, HTTP/2 as DATA frames.
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders?.();
  state.streams.add(res);

  const write = (event: WatchEvent): void => {
    let object = event.object as unknown;
    if (asTable && event.type !== 'ERROR' && event.type !== 'BOOKMARK') {
      object = table(r.resource, [event.object as KubeObject], (event.object as KubeObject).metadata.resourceVersion, query.get('includeObject'));
    }
    res.write(`${JSON.stringify({ type: event.type, object })}\n`);
  };
  const bookmark = (annotations?: Record<string, string>): void => {
    write({
      type: 'BOOKMARK',
      object: {
        kind: r.info.kind,
        apiVersion: apiVersionOf(r.info),
        metadata: { resourceVersion: state.store.resourceVersion, ...(annotations ? { annotations } : {}) },
      } as unknown as KubeObject,
    });
  };

  const started = state.store.watch({
    resource: r.resource,
    ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    matches,
    ...(fromRv !== undefined && query.get('sendInitialEvents') !== 'true' ? { resourceVersion: fromRv } : {}),
    send: write,
  });
  if ('expired' in started) {
    // The watch cache answers 200 and a single ERROR event carrying the 410 Status.
    write({ type: 'ERROR', object: started.expired });
    state.streams.delete(res);
    res.end();
    return;
  }

  const bookmarks = query.get('allowWatchBookmarks') === 'true';
  // With sendInitialEvents, a bookmark marks the end of the initial ADDED events.
  if (bookmarks && query.get('sendInitialEvents') === 'true') bookmark({ 'k8s.io/initial-events-end': 'true' });
  const timers: NodeJS.Timeout[] = [];
  if (bookmarks) timers.push(setInterval(() => bookmark(), state.bookmarkIntervalMs));
  // Like the API server, a watch always ends: at timeoutSeconds, else at a random 1 to 2 times
  // --min-request-timeout, so that clients spread their reconnections.
  const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0) || state.minRequestTimeoutSeconds * (1 + Math.random());
  const finish = (): void => {
    started.stop();
    for (const t of timers) clearInterval(t);
    state.streams.delete(res);
    if (!res.writableEnded) res.end();
  };
  if (timeoutSeconds > 0) timers.push(setTimeout(finish, timeoutSeconds * 1000));
  res.on('close', finish);
}

/** PATCH or PUT pods/{name}/ephemeralcontainers: only spec.ephemeralContainers may change. */
async function updateEphemeralContainers(state: ApiServerState, r: ResourceRequest, req: ApiRequest, verb: 'patch' | 'update'): Promise<Pod> {
  const body = await readBody(req);
  const namespace = r.namespace ?? '';
  const name = r.name ?? '';
  const current = state.store.get('pods', namespace, name) as Pod | undefined;
  if (!current) throw notFound(groupResource(r), name);

  let patched: unknown;
  if (verb === 'patch') {
    patched = applyPatch(req.headers['content-type'] ?? '', clone(current), body);
  } else {
    try {
      patched = JSON.parse(body);
    } catch (err) {
      throw badRequest(`error decoding request body: ${(err as Error).message}`);
    }
  }
  if (!isPlainObject(patched)) throw badRequest('the request body must be a Pod');
  const spec = isPlainObject(patched.spec) ? patched.spec : {};
  const ecs = spec.ephemeralContainers ?? [];
  if (!Array.isArray(ecs) || !ecs.every(isPlainObject)) {
    throw badRequest('json: cannot unmarshal into Go struct field PodSpec.spec.ephemeralContainers of type []v1.EphemeralContainer');
  }
  for (const ec of ecs) {
    for (const field of ['command', 'args'] as const) {
      const v = ec[field];
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw badRequest(`json: cannot unmarshal into Go struct field EphemeralContainer.spec.ephemeralContainers.${field} of type []string`);
      }
    }
  }
  const meta = isPlainObject(patched.metadata) ? patched.metadata : {};
  if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(groupResource(r), name, 'the object has been modified; please apply your changes to the latest version and try again');
  }

  // The subresource's strategy keeps everything of the stored pod except spec.ephemeralContainers.
  const next = clone(current);
  next.spec.ephemeralContainers = (ecs as ContainerSpec[]).map(defaultContainer);
  if (next.spec.ephemeralContainers.length === 0) delete next.spec.ephemeralContainers;

  const errs = validateEphemeralContainersUpdate(next, current);
  if (errs.length) throw invalid('Pod', '', name, errs);

  // PodSecurity admission runs after validation, on the containers being added.
  const existing = new Set((current.spec.ephemeralContainers ?? []).map((c) => c.name));
  const added = (next.spec.ephemeralContainers ?? []).filter((c) => !existing.has(c.name));
  const nsObj = state.store.get('namespaces', undefined, namespace);
  const policy = enforcedPolicy(nsObj?.metadata.labels);
  if (policy) {
    const violation = podSecurityViolation(policy.level, policy.policy, next, added);
    if (violation) throw forbidden(groupResource(r), name, violation);
  }

  // An update that changes nothing does not bump the resourceVersion.
  if (JSON.stringify(canonical(next.spec)) === JSON.stringify(canonical(current.spec))) return current;
  const stored = state.store.update('pods', next);
  state.kubelet.sync(namespace, name);
  return stored;
}

/** The API server's LogLocation checks, then the kubelet's (validateContainerLogStatus), then the log itself. */
function streamLog(state: ApiServerState, r: ResourceRequest, query: URLSearchParams, res: ApiResponse): void {
  const pod = getObject(state, r) as Pod;
  const podName = pod.metadata.name;
  let container = query.get('container') ?? '';
  const regular = pod.spec.containers.map((c) => c.name);
  const init = (pod.spec.initContainers ?? []).map((c) => c.name);
  const ephemeral = (pod.spec.ephemeralContainers ?? []).map((c) => c.name);
  // validateContainer (pkg/registry/core/pod/strategy.go, 1.33): one regular container is the
  // default whatever else the pod has; otherwise every container is listed, init ones first.
  if (!container) {
    if (regular.length === 1) container = regular[0]!;
    else if (regular.length === 0) throw badRequest(`a container name must be specified for pod ${podName}`);
    else throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${[...init, ...regular, ...ephemeral].join(' ')}]`);
  }
  if (![...regular, ...init, ...ephemeral].includes(container)) throw badRequest(`container ${container} is not valid for pod ${podName}`);

  const statuses = [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? []), ...(pod.status.ephemeralContainerStatuses ?? [])];
  const cs = statuses.find((s) => s.name === container);
  if (query.get('previous') === 'true') throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
  if (!cs) throw badRequest(`container "${container}" in pod "${podName}" is not available`);
  const waiting = cs.state.waiting;
  if (waiting && !cs.state.running && !cs.state.terminated) {
    const why = waiting.reason === 'ErrImagePull' ? "image can't be pulled" : waiting.reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : waiting.reason;
    throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${why}`);
  }

  const log: ContainerLog = state.kubelet.log(r.namespace ?? '', podName, container);
  const follow = query.get('follow') === 'true' || query.get('follow') === '1';
  const timestamps = query.get('timestamps') === 'true';
  const tailLines = query.get('tailLines');
  const limitBytes = Number(query.get('limitBytes') ?? 0);
  const sinceSeconds = Number(query.get('sinceSeconds') ?? 0);
  const sinceTime = query.get('sinceTime');
  const since = sinceSeconds > 0 ? Date.now() - sinceSeconds * 1000 : sinceTime ? Date.parse(sinceTime) : undefined;

  const format = (line: { time: string; text: string }): string => (timestamps ? `${line.time} ${line.text}` : line.text);
  let lines = log.lines.filter((l) => since === undefined || Date.parse(l.time) >= since);
  if (tailLines !== null && Number(tailLines) >= 0) lines = Number(tailLines) === 0 ? [] : lines.slice(-Number(tailLines));

  let sentBytes = 0;
  let cursor = log.lines.length;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  /** Writes text up to limitBytes; returns false once the limit is reached. */
  const emit = (text: string): boolean => {
    if (limitBytes > 0) {
      const room = limitBytes - sentBytes;
      const buf = Buffer.from(text, 'utf8');
      if (buf.length >= room) {
        res.write(buf.subarray(0, room));
        sentBytes = limitBytes;
        return false;
      }
      sentBytes += buf.length;
    }
    res.write(text);
    return true;
  };
  const initial = lines.map(format).join('');
  const withinLimit = initial ? emit(initial) : true;
  if (!follow || !withinLimit) {
    res.end();
    return;
  }

  // Follow: stream new lines until the container exits (or the client goes away). The headers go
  // now, so the client knows the log is streaming before the container prints anything more.
  res.flushHeaders?.();
  state.streams.add(res);
  let ending: NodeJS.Timeout | undefined;
  // Like a kubelet, which checks on a followed container now and then, the follow ends some time
  // after the exit (followEndDelayMs, 0 unless a test sets it), the log long whole by then.
  const endAfterExit = (): void => {
    ending ??= setTimeout(done, state.followEndDelayMs());
  };
  const unsubscribe = log.subscribe(() => {
    const fresh = log.lines.slice(cursor);
    cursor = log.lines.length;
    const text = fresh.map(format).join('');
    if (text && !emit(text)) done();
    else if (log.finished) endAfterExit();
  });
  function done(): void {
    clearTimeout(ending);
    unsubscribe();
    state.streams.delete(res);
    if (!res.writableEnded) res.end();
  }
  res.on('close', done);
  if (log.finished) endAfterExit();
}
