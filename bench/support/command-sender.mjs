// Worker thread of bench/incident-load.mjs: sends signed slash commands to the bot and times each
// one's ack (POST → HTTP response) on a thread of its own. The benchmark's main thread runs the
// Slack and Kubernetes emulators, which are busy during a burst: timed there, an ack would include
// the wait for that thread's event loop, which Slack's servers do not have.
//
// Message in: { id, url, signingSecret, commands: [slash command fields…], inFlight }.
// Message out: { id, timings: [{ sent, acked, status }…] } in the order of `commands` (ms since epoch),
// or { id, error } when a request failed.
import { parentPort } from 'node:worker_threads';
// Node strips the types of this .ts file itself: it has no relative imports for ts-hooks to resolve.
import { sendSlashCommand } from '../../src/playground/slack-signing.ts';

parentPort.on('message', async ({ id, url, signingSecret, commands, inFlight }) => {
  try {
    const timings = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(inFlight, commands.length) }, async () => {
        while (next < commands.length) {
          const i = next++;
          const sent = Date.now();
          const { status } = await sendSlashCommand(url, signingSecret, commands[i]);
          timings[i] = { sent, acked: Date.now(), status };
        }
      }),
    );
    parentPort.postMessage({ id, timings });
  } catch (err) {
    parentPort.postMessage({ id, error: `${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}` });
  }
});
