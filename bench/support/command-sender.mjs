// Worker thread of bench/incident-load.mjs: sends signed slash commands to the bot and times each
// one's ack (POST → HTTP response) on a thread of its own. The benchmark's main thread runs the
// Slack and Kubernetes emulators, which are busy during a burst: timed there, an ack would include
// the wait for that thread's event loop, which Slack's servers do not have.
//
// The requests go through one keep-alive pool of at most workerData.connections (node:http's
// Agent), as a reverse proxy's upstream pool holds them: once that many are open, a burst opens no
// more. (fetch's pool, used before, opened a new connection whenever a request found none idle at
// that instant, so bursts over "open" connections still opened a dozen or more.)
//
// Message in: { id, url, signingSecret, commands: [slash command fields…], inFlight }.
// Message out: { id, timings: [{ sent, acked, status }…] } in the order of `commands` (ms since epoch),
// or { id, error } when a request failed.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
// Node strips the types of this .ts file itself: it has no relative imports for ts-hooks to resolve.
import { signedHeaders, slashCommandBody } from '../../src/playground/slack-signing.ts';

const pool = new Agent({ keepAlive: true, maxSockets: workerData.connections, maxFreeSockets: workerData.connections });

/** POSTs one signed slash command; resolves with the HTTP status once the whole response is read. */
function post(url, signingSecret, fields) {
  const body = slashCommandBody(fields);
  const headers = { ...signedHeaders(signingSecret, body, 'application/x-www-form-urlencoded'), 'Content-Length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: pool, headers, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no response within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

parentPort.on('message', async ({ id, url, signingSecret, commands, inFlight }) => {
  try {
    const timings = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(inFlight, commands.length) }, async () => {
        while (next < commands.length) {
          const i = next++;
          const sent = Date.now();
          const status = await post(url, signingSecret, commands[i]);
          timings[i] = { sent, acked: Date.now(), status };
        }
      }),
    );
    parentPort.postMessage({ id, timings });
  } catch (err) {
    parentPort.postMessage({ id, error: `${err.message}${err.code ? ` (${err.code})` : ''}` });
  }
});
