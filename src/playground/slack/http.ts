// Small HTTP helpers: body reading, argument decoding and multipart extraction.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}

/**
 * Decodes Web API arguments like Slack does: form-urlencoded (what WebClient sends; complex
 * values arrive as JSON strings) or a JSON object, merged over query-string arguments.
 * Returns undefined when a JSON body does not parse (Slack answers `invalid_json`).
 */
export function decodeArgs(contentType: string, raw: Buffer, query: URLSearchParams): Record<string, unknown> | undefined {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (raw.length === 0) return args;
  if (contentType.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      return { ...args, ...(parsed as Record<string, unknown>) };
    } catch {
      return undefined;
    }
  }
  return { ...args, ...Object.fromEntries(new URLSearchParams(raw.toString('utf8'))) };
}

/**
 * The file bytes of an upload-URL POST. WebClient's filesUploadV2 sends multipart/form-data
 * with the bytes as a file part (field "body"); Slack also accepts a raw body, so do both.
 */
export async function extractUploadBytes(contentType: string, raw: Buffer): Promise<Buffer> {
  if (!contentType.startsWith('multipart/form-data')) return raw;
  // Node's fetch Request already implements a spec-compliant multipart parser.
  const form = await new Request('http://upload.invalid/', {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: new Uint8Array(raw),
  }).formData();
  for (const value of form.values()) {
    if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  }
  const first = form.values().next();
  return Buffer.from(typeof first.value === 'string' ? first.value : '', 'utf8');
}
