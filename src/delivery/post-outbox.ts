// Posts a job's outbox into its thread, in order, each operation once. A failed call throws, and
// the delivery job is retried later (honouring Slack's Retry-After) from the first unsent operation.
// `beforeFinalStatus` runs before the root message gets its final status (see progress-relay.ts).
import type { JobThread } from '../slack/web.js';
import type { Outbox } from './outbox.js';

export async function postOutbox(
  jobId: string,
  outbox: Outbox,
  thread: JobThread,
  beforeFinalStatus?: () => Promise<void>,
  /** Called once, when the first reply of this delivery is in Slack. */
  onFirstReply?: () => void,
): Promise<number> {
  const [interrupted, pending] = await Promise.all([outbox.inflight(jobId), outbox.pending(jobId)]);
  let posted = 0;
  for (const { seq, op } of pending) {
    // An earlier attempt died during this very call: Slack may already have it. (A root update is
    // idempotent: doing it again is harmless.)
    const sent = op.kind === 'file' ? { file: op.filename } : { reply: { job: jobId, seq } };
    if (seq === interrupted && op.kind !== 'root' && (await thread.alreadyPosted(sent))) {
      await outbox.done(jobId, seq, op);
      continue;
    }
    // Marked in flight before the call is made, while the call waits for its turn.
    const marked = outbox.begin(jobId, seq);
    if (op.kind === 'reply') {
      await thread.reply(op, { job: jobId, seq }, marked);
      if (posted === 0) onFirstReply?.();
    }
    // A file's bytes stream from Redis to Slack's upload URL, one chunk at a time.
    else if (op.kind === 'file') await thread.attach({ filename: op.filename, title: op.title, bytes: op.bytes, content: outbox.content(jobId, op) }, marked);
    else {
      await Promise.all([marked, beforeFinalStatus?.()]);
      await thread.updateRoot(op);
    }
    await outbox.done(jobId, seq, op);
    posted += 1;
  }
  return posted;
}
