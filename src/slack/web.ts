// The Web API client both roles use, and the few calls the worker makes into a job's thread.
import { WebClient } from '@slack/web-api';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { SlackMessage } from './render.js';

export function createWebClient(config: Config): WebClient {
  return new WebClient(config.secrets.botToken, { slackApiUrl: config.slack.apiUrl });
}

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

  async reply(message: SlackMessage): Promise<void> {
    await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({ channel: this.channel, thread_ts: this.rootTs, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false }),
    );
  }

  async attach(filename: string, content: string | Buffer, title = filename): Promise<void> {
    await this.call('files.uploadV2', () => this.client.filesUploadV2({ channel_id: this.channel, thread_ts: this.rootTs, filename, title, file: Buffer.from(content) }));
  }
}
