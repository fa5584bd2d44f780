// The Web API client both roles use, and the few calls the worker makes into a job's thread.
import { WebClient } from '@slack/web-api';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { SlackPacer } from './pacer.js';
import type { SlackMessage } from './render.js';
import { postUpload, type FileUpload } from './upload.js';

/**
 * Options of every WebClient kdebug makes (the bot's Bolt client too): a 429 fails at once with
 * Slack's Retry-After, and there are no hidden retries. A client-wide backoff would stall every
 * unrelated call behind one rate-limited method; instead each call waits for its turn in the
 * SlackPacer, and the one call that still meets a 429 is retried after its Retry-After (the
 * delivery queue does so for answers, `paced` for the rest).
 */
export const WEB_CLIENT_OPTIONS = { rejectRateLimitedCalls: true, retryConfig: { retries: 0 } };

export function createWebClient(config: Config): WebClient {
  return new WebClient(config.secrets.botToken, { slackApiUrl: config.slack.apiUrl, ...WEB_CLIENT_OPTIONS });
}

/** Which job and operation a posted reply belongs to, kept in the message's metadata. */
export interface ReplyTag {
  job: string;
  seq: number;
}

const REPLY_EVENT = 'kdebug_reply';

/** Where a job's progress goes: its root message, in a call that may be dropped when Slack's budget is short. */
export interface RootUpdates {
  /** Resolves false when the update was dropped. */
  updateRootIfFree(message: SlackMessage): Promise<boolean>;
}

/** Posts into one job's thread: files only ever go to the thread of the request that produced them. */
export class JobThread implements RootUpdates {
  constructor(
    private readonly client: WebClient,
    readonly channel: string,
    readonly rootTs: string,
    private readonly metrics?: Metrics,
    /** Every call waits for its turn in its method's budget (none without a pacer). */
    private readonly pacer?: SlackPacer,
  ) {}

  /**
   * Reserves the next turn in `method`'s budget for this thread's channel (or workspace): resolves
   * to the milliseconds until it comes (0: now, or no pacer). The call made in that turn passes
   * `paced` false.
   */
  async reserveTurn(method: string): Promise<number> {
    return this.pacer ? this.pacer.reserveTurn(method, this.channel) : 0;
  }

  /**
   * Counts a failed call by method and Slack's error code, then lets the caller handle it. `paced`:
   * waits for a turn in the method's budget first (false: the caller holds one, or needs none).
   */
  private async call<T>(method: string, fn: () => Promise<T>, paced = true): Promise<T> {
    if (paced) await this.pacer?.take(method, this.channel);
    try {
      return await fn();
    } catch (err) {
      const code = (err as { data?: { error?: string }; code?: string }).data?.error ?? (err as { code?: string }).code ?? 'unknown';
      this.metrics?.slackErrors.inc({ method, error: code });
      throw err;
    }
  }

  async updateRoot(message: SlackMessage, paced = true): Promise<void> {
    await this.call('chat.update', () => this.client.chat.update({ channel: this.channel, ts: this.rootTs, text: message.text, blocks: message.blocks }), paced);
  }

  /**
   * A root update that may be dropped (progress): sent only if chat.update's budget has a slot
   * free now, so it never delays an answer. Resolves false when it was dropped.
   */
  async updateRootIfFree(message: SlackMessage): Promise<boolean> {
    if (this.pacer && !(await this.pacer.tryTake('chat.update', this.channel))) return false;
    await this.call('chat.update', () => this.client.chat.update({ channel: this.channel, ts: this.rootTs, text: message.text, blocks: message.blocks }), false);
    return true;
  }

  async reply(message: SlackMessage, tag?: ReplyTag, paced = true): Promise<void> {
    await this.call(
      'chat.postMessage',
      () =>
        this.client.chat.postMessage({
          channel: this.channel,
          thread_ts: this.rootTs,
          text: message.text,
          blocks: message.blocks,
          unfurl_links: false,
          unfurl_media: false,
          ...(tag ? { metadata: { event_type: REPLY_EVENT, event_payload: { ...tag } } } : {}),
        }),
      paced,
    );
  }

  /**
   * Whether a reply (by its tag) or a file (by its name) that was interrupted mid-call did reach
   * the thread after all.
   */
  async alreadyPosted(posted: { reply: ReplyTag } | { file: string }): Promise<boolean> {
    const thread = await this.call('conversations.replies', () =>
      this.client.conversations.replies({ channel: this.channel, ts: this.rootTs, include_all_metadata: true, limit: 1000 }),
    );
    return (thread.messages ?? []).some((m) => {
      if ('file' in posted) return m.files?.some((f) => f.name === posted.file) ?? false;
      const payload: unknown = m.metadata?.event_type === REPLY_EVENT ? m.metadata.event_payload : undefined;
      const tag = payload as Partial<ReplyTag> | undefined;
      return tag?.job === posted.reply.job && tag.seq === posted.reply.seq;
    });
  }

  /**
   * Slack's external upload, step by step (what filesUploadV2 does, without buffering the file):
   * files.getUploadURLExternal with the length, the bytes streamed to the upload URL, then
   * files.completeUploadExternal shares the file in the thread. One upload, one turn of the
   * files.uploadV2 budget; a failure at any step is counted under it with its code.
   */
  async attach(file: FileUpload, paced = true): Promise<void> {
    await this.call(
      'files.uploadV2',
      async () => {
        const { upload_url: url, file_id: id } = await this.client.files.getUploadURLExternal({ filename: file.filename, length: file.bytes });
        if (!url || !id) throw Object.assign(new Error('files.getUploadURLExternal answered without an upload_url or file_id'), { code: 'upload_url_missing' });
        await postUpload(url, file.bytes, file.content, this.client.token);
        await this.client.files.completeUploadExternal({ files: [{ id, title: file.title }], channel_id: this.channel, thread_ts: this.rootTs });
      },
      paced,
    );
  }
}
