// Posts a job's outbox into its thread, in order, each operation once. A failed call throws, and
// the delivery job is retried later (honouring Slack's Retry-After) from the first unsent operation.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobThread } from '../slack/web.js';
import type { Outbox, OutboxOp } from './outbox.js';

/** The budget in Slack (see SLACK_PACE) each kind of operation waits its turn in. */
const METHOD_OF: Readonly<Record<OutboxOp['kind'], string>> = { reply: 'chat.postMessage', file: 'files.uploadV2', root: 'chat.update' };

/** A turn in Slack's budget reserved for one operation of the outbox: when it comes (epoch ms). */
export interface HeldTurn {
  seq: number;
  at: number;
}

/**
 * An operation's turn is further away than the delivery may wait for it. The turn is reserved: the
 * delivery comes back for it (held) rather than sit in one of its process's delivery slots until
 * then, while other jobs' answers, whose turns may come much sooner, wait for a free slot.
 */
export class TurnLater extends Error {
  override name = 'TurnLater';
  constructor(readonly turn: HeldTurn) {
    super(`operation ${turn.seq}'s turn in Slack's budget comes at ${new Date(turn.at).toISOString()}`);
  }
}

export interface PostOptions {
  /** Runs before the root message gets its final status (see progress-relay.ts). */
  beforeFinalStatus?: () => Promise<void>;
  /** Called when the answer's first reply is in Slack, if this delivery posted it. */
  onFirstReply?: () => void;
  /** The turn an earlier run of this delivery reserved, and came back for. */
  held?: HeldTurn;
  /** The longest it waits for a turn; past that it throws TurnLater. Default: no limit. */
  maxWaitMs?: number;
}

export async function postOutbox(
  jobId: string,
  outbox: Outbox,
  thread: JobThread,
  { beforeFinalStatus, onFirstReply, held, maxWaitMs = Infinity }: PostOptions = {},
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
    // Marked in flight before the call is made, while its turn is reserved (one round trip to Redis,
    // not two in a row).
    const [wait] = await Promise.all([
      held?.seq === seq ? Math.max(0, held.at - Date.now()) : thread.reserveTurn(METHOD_OF[op.kind]),
      outbox.begin(jobId, seq),
      op.kind === 'root' ? beforeFinalStatus?.() : undefined,
    ]);
    if (wait > maxWaitMs) {
      await outbox.notSent(jobId);
      throw new TurnLater({ seq, at: Date.now() + wait });
    }
    if (wait > 0) await sleep(wait);
    if (op.kind === 'reply') {
      await thread.reply(op, { job: jobId, seq }, false);
      if (seq === 0) onFirstReply?.();
    }
    // A file's bytes stream from Redis to Slack's upload URL, one chunk at a time.
    else if (op.kind === 'file') await thread.attach({ filename: op.filename, title: op.title, bytes: op.bytes, content: outbox.content(jobId, op) }, false);
    else await thread.updateRoot(op, false);
    await outbox.done(jobId, seq, op);
    posted += 1;
  }
  return posted;
}
