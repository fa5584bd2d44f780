// The middle step of Slack's external file upload: POST the bytes to the upload URL that
// files.getUploadURLExternal returned. The body is streamed from an async iterable with the length
// declared up front (Content-Length), one chunk at a time, each written out before the next is
// asked for (so the source may reuse one buffer for all of them): a file of any size holds about
// one chunk in memory. @slack/web-api's filesUploadV2 would buffer the file whole.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A file to attach, its bytes streamed rather than held. */
export interface FileUpload {
  filename: string;
  title: string;
  /** Exactly how many bytes `content` yields: Slack's `length`, and the upload's Content-Length. */
  bytes: number;
  /** The bytes, in chunks; a chunk may be overwritten once the next one is asked for. */
  content: AsyncIterable<Uint8Array>;
}

/** The upload fails when no byte moves either way for this long. */
const IDLE_TIMEOUT_MS = 60_000;
/** How much of a failed upload's answer goes into the error. */
const MAX_ERROR_BODY = 500;

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Writes one chunk and waits until it has gone out (or the request failed). */
function writeOut(req: ClientRequest, chunk: Uint8Array | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => {
      cleanup();
      reject(codedError('the upload connection closed', 'ECONNRESET'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('close', onClose);
      req.off('error', onError);
    };
    req.once('close', onClose);
    req.once('error', onError);
    const done = (err?: Error | null) => {
      cleanup();
      if (err) reject(err);
      else resolve();
    };
    if (chunk) req.write(chunk, done);
    else req.end(done);
  });
}

async function text(res: IncomingMessage, limit: number): Promise<string> {
  let body = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (body.length < limit) body += chunk.toString('utf8');
  }
  return body.slice(0, limit);
}

/**
 * POSTs exactly `bytes` bytes from `content` to Slack's `uploadUrl` as a raw body; resolves once
 * Slack answered 200. Anything else (another status, a reset connection, a source shorter or longer
 * than declared, no progress for a minute) rejects with an Error whose `code` says which.
 */
export async function postUpload(uploadUrl: string, bytes: number, content: AsyncIterable<Uint8Array>, token?: string): Promise<void> {
  const url = new URL(uploadUrl);
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!send) throw codedError(`Slack returned an upload URL kdebug cannot use (${url.protocol})`, 'upload_url_invalid');
  const req = send(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(bytes),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
  });
  req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(codedError(`the upload made no progress for ${IDLE_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')));
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // Awaited once the body is sent; a failure before that is reported by the writes.
  answered.catch(() => undefined);
  try {
    let sent = 0;
    for await (const chunk of content) {
      sent += chunk.length;
      if (sent > bytes) throw codedError(`the file has more than the ${bytes} bytes declared`, 'upload_length_mismatch');
      await writeOut(req, chunk);
    }
    if (sent !== bytes) throw codedError(`the file ended after ${sent} of the ${bytes} bytes declared`, 'upload_length_mismatch');
    await writeOut(req, undefined);
  } catch (err) {
    req.destroy();
    throw err;
  }
  const res = await answered;
  const body = await text(res, MAX_ERROR_BODY);
  if (res.statusCode !== 200) throw codedError(`the upload URL answered HTTP ${res.statusCode}: ${body}`, `http_${res.statusCode}`);
}
