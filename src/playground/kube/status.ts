// metav1.Status error bodies, worded exactly as k8s.io/apimachinery/pkg/api/errors builds them, so clients
// (and the code under test) see the same messages, reasons and details as from a real API server.

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** Thrown inside the emulator to answer a request with a Status body. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

export function status(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

/** A group/resource as errors print it: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function details(gr: GroupResource, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (gr.group) d.group = gr.group;
  d.kind = gr.resource;
  return d;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(status(404, 'NotFound', `${qualified(gr)} "${name}" not found`, details(gr, name)));
}

/** The 404 for a path the server does not serve (e.g. a disabled subresource). Details are empty. */
export function notFoundPath(): ApiError {
  return new ApiError(status(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function forbidden(gr: GroupResource, name: string | undefined, reason: string): ApiError {
  const what = name ? `${qualified(gr)} "${name}"` : qualified(gr);
  return new ApiError(status(403, 'Forbidden', `${what} is forbidden: ${reason}`, details(gr, name)));
}

export function badRequest(message: string): ApiError {
  return new ApiError(status(400, 'BadRequest', message));
}

export function conflict(gr: GroupResource, name: string, reason: string): ApiError {
  return new ApiError(status(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${reason}`, details(gr, name)));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`));
}

/** errors.NewGenericServerResponse(422, ...), what a JSON patch that cannot be applied gets. */
export function unprocessable(serverMessage: string): ApiError {
  return new ApiError(
    status(422, 'Invalid', 'the server rejected our request due to an error in our request', { causes: [{ reason: 'UnexpectedServerResponse', message: serverMessage }] }),
  );
}

export function unauthorized(): Status {
  return status(401, 'Unauthorized', 'Unauthorized');
}

/** Watch cache answer for a resourceVersion older than its history (sent as an ERROR watch event). */
export function expired(requested: number, oldest: number): Status {
  return status(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

// --- field.Error / field.ErrorList, as pkg/util/validation/field formats them -------------------------

export type FieldErrorType = 'FieldValueNotFound' | 'FieldValueRequired' | 'FieldValueDuplicate' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueForbidden';

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
};

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** Absent for Required and Forbidden, whose messages never print a value. */
  value?: unknown;
  detail?: string;
}

/** Go's %q / %v rendering of a bad value, close enough for strings, numbers and booleans. */
function goValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** field.Error.ErrorBody(): "Not found: \"x\"", "Forbidden: cannot be set ...", "Required value". */
export function errorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  if (e.type !== 'FieldValueRequired' && e.type !== 'FieldValueForbidden' && e.value !== undefined) {
    s += `: ${goValue(e.value)}`;
  }
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${errorBody(e)}`;
}

/** errors.NewInvalid: `Pod "web-0" is invalid: <err>` or `... is invalid: [<err>, <err>]`. */
export function invalid(kind: string, group: string, name: string, errs: FieldError[]): ApiError {
  // utilerrors.NewAggregate de-duplicates identical messages and brackets lists of more than one.
  const messages = [...new Set(errs.map(fieldErrorString))];
  const aggregate = messages.length === 1 ? messages[0] : `[${messages.join(', ')}]`;
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const d: StatusDetails = { name };
  if (group) d.group = group;
  d.kind = kind;
  d.causes = errs.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }));
  return new ApiError(status(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${aggregate}`, d));
}
