// The Web API client both roles use, and the few calls the worker makes into a job's thread.
import { WebClient } from '@slack/web-api';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { SlackMessage } from './render.js';

export function createWebClient(config: Config): WebClient {
  return new WebClient(config.secrets.botToken, { slackApiUrl: config.slack.apiUrl });
}

/**
 * For the worker's deliveries: a 429 fails at once with Slack's Retry-After (the delivery queue
 * waits that long before the next attempt, without holding a worker), and no hidden retries.
 */
export function createDeliveryClient(config: Config): WebClient {
  return new WebClient(config.secrets.botToken, { slackApiUrl: config.slack.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
}

/** Which job and operation a posted reply belongs to, kept in the message's metadata. */
export interface ReplyTag {
  job: string;
  seq: number;
}

const REPLY_EVENT = 'kdebug_reply';

/** Posts into one job's thread: files only ever go to the thread of the request that produced them. */
export class JobThread {
  constructor(
    private readonly client: WebClient,
    readonly channel: string,
    readonly rootTs: string,
    private readonly metrics?: Metrics,
  ) {}

  /** Counts a failed call by method and Slack's error code, then lets the caller handle it. */
  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { data?: { error?: string }; code?: string }).data?.error ?? (err as { code?: string }).code ?? 'unknown';
      this.metrics?.slackErrors.inc({ method, error: code });
      throw err;
    }
  }

  async updateRoot(message: SlackMessage): Promise<void> {
    await this.call('chat.update', () => this.client.chat.update({ channel: this.channel, ts: this.rootTs, text: message.text, blocks: message.blocks }));
  }

  async reply(message: SlackMessage, tag?: ReplyTag): Promise<void> {
    await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({
        channel: this.channel,
        thread_ts: this.rootTs,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        unfurl_media: false,
        ...(tag ? { metadata: { event_type: REPLY_EVENT, event_payload: { ...tag } } } : {}),
      }),
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

  async attach(filename: string, content: string | Buffer, title = filename): Promise<void> {
    await this.call('files.uploadV2', () => this.client.filesUploadV2({ channel_id: this.channel, thread_ts: this.rootTs, filename, title, file: Buffer.from(content) }));
  }
}
