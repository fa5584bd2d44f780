// A loopback Slack: the Web API, file upload URLs, response URLs and Socket Mode, speaking
// Slack's wire protocol so the real @slack/web-api WebClient and @slack/bolt App run against it
// unchanged (WebClient option `slackApiUrl: emulator.apiUrl`). Test code only.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateBlocks } from './slack/blocks.js';
import { decodeArgs, extractUploadBytes, readBody, sendJson, sendText } from './slack/http.js';
import { RateLimiter, type RateLimitOptions } from './slack/rate-limits.js';
import { SocketModeServer } from './slack/socket-mode.js';
import type { ApiCall, ChannelOptions, ChannelState, Fault, ResponseUrlPost, SocketAck, StoredEphemeral, StoredFile, StoredFileRef, StoredMessage } from './slack/types.js';
import { SLACK_DEFAULTS, slashCommandFields, type SlashCommandFields } from './slack-signing.js';

export type * from './slack/types.js';
export type { RateLimitOptions } from './slack/rate-limits.js';

/** Thrown inside a Web API handler to answer `{ ok: false, error, ...extra }` with HTTP 200. */
export class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

export type ApiArgs = Record<string, unknown>;
export type ApiHandler = (args: ApiArgs) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface SlackEmulatorOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /**
   * Slack's rate limits (slack/rate-limits.ts), on by default: a call over its method's budget is
   * answered 429 with Retry-After. A test that changes them, or turns them off with `false`, says why.
   */
  rateLimits?: RateLimitOptions;
}

interface ResponseUrlState {
  channel: string;
  userId: string;
  uses: number;
  createdAt: number;
}

/** Slack's documented limits. */
const MAX_POST_TEXT = 40_000;
const MAX_UPDATE_TEXT = 4_000;
const RESPONSE_URL_MAX_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

function str(args: ApiArgs, key: string): string | undefined {
  const v = args[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** A non-empty string argument, or undefined. */
function nonEmpty(args: ApiArgs, key: string): string | undefined {
  const v = str(args, key);
  return v === undefined || v === '' ? undefined : v;
}

/** Complex arguments arrive as JSON strings from WebClient and as real values in JSON bodies. */
function jsonArg(args: ApiArgs, key: string): unknown {
  const v = args[key];
  return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
}

function invalidArguments(...problems: string[]): SlackApiError {
  return new SlackApiError('invalid_arguments', {
    response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) },
  });
}

const MIME_TYPES: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  json: 'application/json',
  yaml: 'application/x-yaml',
  csv: 'text/csv',
  png: 'image/png',
  pcap: 'application/vnd.tcpdump.pcap',
  gz: 'application/gzip',
};

export class SlackEmulator {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;

  /** Every request, in arrival order: Web API methods plus 'upload_url' and 'response_url'. */
  readonly calls: ApiCall[] = [];

  private server: Server | undefined;
  private port = 0;
  private readonly changes = new EventEmitter();
  private readonly socketMode: SocketModeServer;
  private readonly channels = new Map<string, ChannelState>();
  private readonly messagesByChannel = new Map<string, StoredMessage[]>();
  private readonly ephemeralList: StoredEphemeral[] = [];
  private readonly filesById = new Map<string, StoredFile>();
  private readonly uploadIdToFile = new Map<string, string>();
  private readonly responseUrls = new Map<string, ResponseUrlState>();
  private readonly responsePosts: ResponseUrlPost[] = [];
  private readonly faults = new Map<string, Fault[]>();
  /** Armed by interruptUploads: after how many body bytes each of the next uploads is cut off. */
  private readonly uploadCuts: number[] = [];
  private readonly customHandlers = new Map<string, ApiHandler>();
  private lastTsSec = 0;
  private lastTsSeq = 0;
  private fileSeq = 0;
  private readonly rateLimiter: RateLimiter;

  constructor(opts: SlackEmulatorOptions = {}) {
    this.teamId = opts.teamId ?? SLACK_DEFAULTS.teamId;
    this.teamDomain = opts.teamDomain ?? SLACK_DEFAULTS.teamDomain;
    this.botUserId = opts.botUserId ?? SLACK_DEFAULTS.botUserId;
    this.botId = opts.botId ?? SLACK_DEFAULTS.botId;
    this.appId = opts.appId ?? SLACK_DEFAULTS.appId;
    this.botToken = opts.botToken ?? `xoxb-1111-2222-${randomBytes(12).toString('hex')}`;
    this.appToken = opts.appToken ?? `xapp-1-${this.appId}-3333-${randomBytes(16).toString('hex')}`;
    this.changes.setMaxListeners(0); // one listener per pending waitFor
    this.socketMode = new SocketModeServer(this.appId, () => this.changed());
    this.rateLimiter = new RateLimiter(opts.rateLimits);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.server) throw new Error('SlackEmulator already started');
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        // An emulator bug must be loud, not look like a Slack answer.
        if (!res.headersSent) sendText(res, 500, `slack emulator failure: ${String(err)}`);
        else res.destroy();
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => this.socketMode.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await this.socketMode.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get baseUrl(): string {
    if (!this.server) throw new Error('SlackEmulator not started');
    return `http://127.0.0.1:${this.port}`;
  }

  /** For WebClient's `slackApiUrl`; ends with `/api/`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  // ---------------------------------------------------------------- setup

  addChannel(id: string, opts: ChannelOptions): void {
    this.channels.set(id, { id, ...opts });
  }

  /** Seeds a message from someone else (e.g. a human), as if typed in Slack. */
  addMessage(channel: string, msg: { user: string; text: string; thread_ts?: string; blocks?: unknown[] }): StoredMessage {
    const ch = this.channels.get(channel) ?? this.dmChannel(channel);
    if (!ch) throw new Error(`addMessage: unknown channel ${channel}`);
    return this.store({ channel: ch.id, user: msg.user, text: msg.text, blocks: msg.blocks, thread_ts: msg.thread_ts });
  }

  /**
   * The next `times` uploads to an upload URL lose their connection once `afterBytes` bytes of
   * their body have arrived, as when the network drops or the uploading process dies mid-upload
   * (recorded as an 'upload_url' call with status 0). An upload shorter than that is not cut,
   * but still uses up one of the `times`.
   */
  interruptUploads(afterBytes: number, times = 1): void {
    for (let i = 0; i < times; i++) this.uploadCuts.push(afterBytes);
  }

  /**
   * Makes the next `times` requests to `method` fail. `method` is a Web API method name, or
   * 'upload_url' / 'response_url' for those endpoints.
   */
  inject(method: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(method, queue);
  }

  /** Serves (or overrides) a Web API method; throw SlackApiError for `ok:false` answers. */
  handle(method: string, handler: ApiHandler): void {
    this.customHandlers.set(method, handler);
  }

  /** Forgets messages, files, calls, responses and faults; keeps channels, handlers and connections. */
  reset(): void {
    this.calls.length = 0;
    this.messagesByChannel.clear();
    this.ephemeralList.length = 0;
    this.filesById.clear();
    this.uploadIdToFile.clear();
    this.responseUrls.clear();
    this.responsePosts.length = 0;
    this.faults.clear();
    this.uploadCuts.length = 0;
    this.rateLimiter.reset();
    this.socketMode.acks.length = 0;
    this.changed();
  }

  // ---------------------------------------------------------------- queries

  /** All live messages in a channel (top level and replies), in posting order. */
  messages(channel: string): StoredMessage[] {
    return (this.messagesByChannel.get(channel) ?? []).filter((m) => !m.deleted);
  }

  /** Replies in a thread (root excluded), in order. */
  thread(channel: string, rootTs: string): StoredMessage[] {
    return this.messages(channel).filter((m) => m.thread_ts === rootTs && m.ts !== rootTs);
  }

  /** One message, deleted or not, with its full edit history. */
  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messagesByChannel.get(channel)?.find((m) => m.ts === ts);
  }

  ephemerals(channel?: string): StoredEphemeral[] {
    return this.ephemeralList.filter((e) => channel === undefined || e.channel === channel);
  }

  file(id: string): StoredFile | undefined {
    return this.filesById.get(id);
  }

  files(): StoredFile[] {
    return [...this.filesById.values()];
  }

  /** 429s the emulator's rate limits answered (injected faults not included), in all and by method. */
  rateLimited(method?: string): number {
    return method === undefined ? this.rateLimiter.total : (this.rateLimiter.limited.get(method) ?? 0);
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** POSTs received on response URLs, optionally for one URL id (or full URL). */
  responses(id?: string): ResponseUrlPost[] {
    const key = id?.split('/').at(-1);
    return this.responsePosts.filter((r) => key === undefined || r.id === key);
  }

  /** Acks received over Socket Mode, in order. */
  get socketAcks(): readonly SocketAck[] {
    return this.socketMode.acks;
  }

  get socketConnections(): number {
    return this.socketMode.connectionCount;
  }

  /**
   * Resolves with fn()'s first value that is not undefined/null/false. fn is re-evaluated on
   * every emulator state change, and every 100 ms for conditions that also look elsewhere (a
   * pod's containers, a process's log); rejects after timeoutMs.
   */
  waitFor<T>(fn: () => T | undefined | null | false, timeoutMs = 5000, label = 'condition'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.changes.off('change', check);
      };
      function check(): void {
        try {
          const v = fn();
          if (v !== undefined && v !== null && v !== false) {
            cleanup();
            resolve(v);
          }
        } catch (err) {
          cleanup();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
      const timer = setTimeout(() => {
        cleanup();
        const recent = this.calls
          .slice(-10)
          .map((c) => `${c.method}→${c.status}`)
          .join(', ');
        reject(new Error(`waitFor(${label}) timed out after ${timeoutMs}ms; last calls: [${recent}]`));
      }, timeoutMs);
      const poll = setInterval(check, 100);
      this.changes.on('change', check);
      check();
    });
  }

  // ---------------------------------------------------------------- slash commands

  /** A fresh response URL for a slash command payload, tied to channel and user. */
  responseUrl(channel: string, userId: string): string {
    const id = randomBytes(12).toString('hex');
    this.responseUrls.set(id, { channel, userId, uses: 0, createdAt: Date.now() });
    return `${this.baseUrl}/response/${id}`;
  }

  /** Full slash command fields with this workspace's ids and a fresh response URL filled in. */
  slashCommand(fields: Omit<SlashCommandFields, 'response_url'> & { response_url?: string }): SlashCommandFields {
    return {
      team_id: this.teamId,
      team_domain: this.teamDomain,
      api_app_id: this.appId,
      ...fields,
      response_url: fields.response_url ?? this.responseUrl(fields.channel_id, fields.user_id),
    };
  }

  /** Pushes a slash command over Socket Mode; resolves with the app's ack (Slack allows 3s). */
  sendSocketSlashCommand(fields: Omit<SlashCommandFields, 'response_url'> & { response_url?: string }, timeoutMs = 3000): Promise<SocketAck> {
    return this.socketMode.sendEnvelope('slash_commands', slashCommandFields(this.slashCommand(fields)), timeoutMs);
  }

  /** Any other envelope type (events_api, interactive...), for completeness. */
  sendSocketEnvelope(type: string, payload: Record<string, unknown>, timeoutMs = 3000): Promise<SocketAck> {
    return this.socketMode.sendEnvelope(type, payload, timeoutMs, { accepts_response_payload: type !== 'events_api' });
  }

  /** Sends Slack's `disconnect` message so clients reconnect. */
  requestSocketDisconnect(reason = 'refresh_requested'): void {
    this.socketMode.requestDisconnect(reason);
  }

  // ---------------------------------------------------------------- HTTP routing

  private changed(): void {
    this.changes.emit('change');
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const contentType = req.headers['content-type'] ?? '';
    const [, kind, id] = url.pathname.split('/');
    // An upload's body is read as it arrives (interruptUploads can cut it off half-way).
    if (req.method === 'POST' && kind === 'upload' && url.pathname.startsWith('/upload/v1/')) {
      return this.serveUpload(url.pathname.slice('/upload/v1/'.length), req, contentType, res);
    }
    const raw = await readBody(req);
    if (kind === 'api' && id) return this.serveApi(decodeURIComponent(id), req, url, contentType, raw, res);
    if (req.method === 'POST' && kind === 'response' && id) return this.serveResponseUrl(id, raw, res);
    if (req.method === 'GET' && kind === 'files-pri' && id) return this.serveFileDownload(id, req, res);
    sendText(res, 404, 'not found');
  }

  /** Applies the next injected fault; true when it has answered the request. */
  private async applyFault(method: string, res: ServerResponse, record: (status: number, body: unknown) => void): Promise<boolean> {
    const fault = this.faults.get(method)?.shift();
    if (!fault) return false;
    if (fault.delayMs) await sleep(fault.delayMs);
    if ('status' in fault && fault.status === 429) {
      const body = { ok: false, error: 'ratelimited' };
      record(429, body);
      sendJson(res, 429, body, { 'Retry-After': String(fault.retryAfter) });
      return true;
    }
    if ('status' in fault) {
      record(fault.status, 'injected server error');
      sendText(res, fault.status, 'injected server error');
      return true;
    }
    if ('error' in fault) {
      const body = { ok: false, error: fault.error };
      record(200, body);
      sendJson(res, 200, body);
      return true;
    }
    return false; // delay only
  }

  private recordCall(method: string, args: ApiArgs, time: number, status: number, response: unknown): void {
    const { token: _token, ...rest } = args;
    this.calls.push({ method, args: rest, time, status, response });
    this.changed();
  }

  private async serveApi(method: string, req: IncomingMessage, url: URL, contentType: string, raw: Buffer, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const args = decodeArgs(contentType, raw, url.searchParams);
    const reply = (body: Record<string, unknown>, status = 200): void => {
      this.recordCall(method, args ?? {}, time, status, body);
      sendJson(res, status, body);
    };
    if (await this.applyFault(method, res, (status, body) => this.recordCall(method, args ?? {}, time, status, body))) return;
    if (args === undefined) return reply({ ok: false, error: 'invalid_json' });

    const handler = this.customHandlers.get(method) ?? this.builtinHandler(method);
    if (!handler) return reply({ ok: false, error: 'unknown_method', req_method: method });

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? str(args, 'token');
    if (!token) return reply({ ok: false, error: 'not_authed' });
    const tokenKind = token === this.botToken ? 'bot' : token === this.appToken ? 'app' : undefined;
    if (!tokenKind) return reply({ ok: false, error: 'invalid_auth' });
    // App-level tokens only open Socket Mode connections; bot tokens can't.
    const wantsAppToken = method === 'apps.connections.open';
    if ((tokenKind === 'app') !== wantsAppToken && !this.customHandlers.has(method)) {
      return reply({ ok: false, error: 'not_allowed_token_type' });
    }
    const retryAfter = this.rateLimiter.take(method, str(args, 'channel') ?? str(args, 'channel_id'));
    if (retryAfter !== undefined) {
      const body = { ok: false, error: 'ratelimited' };
      this.recordCall(method, args, time, 429, body);
      return sendJson(res, 429, body, { 'Retry-After': String(retryAfter) });
    }

    try {
      reply({ ok: true, ...(await handler(args)) });
    } catch (err) {
      if (err instanceof SlackApiError) return reply({ ok: false, error: err.error, ...err.extra });
      throw err;
    }
  }

  private builtinHandler(method: string): ApiHandler | undefined {
    const handlers: Record<string, ApiHandler> = {
      'auth.test': () => this.authTest(),
      'apps.connections.open': () => ({ url: `ws://127.0.0.1:${this.port}${this.socketMode.issueTicket()}` }),
      'chat.postMessage': (a) => this.postMessage(a),
      'chat.update': (a) => this.updateMessage(a),
      'chat.delete': (a) => this.deleteMessage(a),
      'chat.postEphemeral': (a) => this.postEphemeral(a),
      'conversations.info': (a) => this.conversationInfo(a),
      'conversations.replies': (a) => this.conversationReplies(a),
      'files.getUploadURLExternal': (a) => this.getUploadUrl(a),
      'files.completeUploadExternal': (a) => this.completeUpload(a),
    };
    return handlers[method];
  }

  // ---------------------------------------------------------------- Web API methods

  private authTest(): Record<string, unknown> {
    return {
      url: `https://${this.teamDomain}.slack.com/`,
      team: this.teamDomain,
      user: 'kdebug',
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      is_enterprise_install: false,
    };
  }

  /** Slack ids ts by time with a sequence; strictly increasing here, e.g. "1763700000.000100". */
  private nextTs(): string {
    const sec = Math.max(Math.floor(Date.now() / 1000), this.lastTsSec);
    this.lastTsSeq = sec === this.lastTsSec ? this.lastTsSeq + 100 : 100;
    this.lastTsSec = sec;
    return `${sec}.${String(this.lastTsSeq).padStart(6, '0')}`;
  }

  /** DM channels exist implicitly: a D… id, or a user id (which Slack maps to the app's DM). */
  private dmChannel(id: string): ChannelState | undefined {
    if (!/^[DUW][A-Z0-9]+$/.test(id)) return undefined;
    const dmId = id.startsWith('D') ? id : `D${id.slice(1)}`;
    let ch = this.channels.get(dmId);
    if (!ch) {
      ch = { id: dmId, botIsMember: true, isPrivate: true };
      this.channels.set(dmId, ch);
    }
    return ch;
  }

  /** Resolves a channel argument (id, DM/user id or #name) as Slack does for posting. */
  private resolveChannel(arg: string | undefined, requireMembership: boolean): ChannelState {
    if (!arg) throw new SlackApiError('channel_not_found');
    const name = arg.replace(/^#/, '');
    const ch = this.channels.get(arg) ?? this.dmChannel(arg) ?? [...this.channels.values()].find((c) => c.name === name);
    // Private channels the bot is not in are invisible to it.
    if (!ch || (ch.isPrivate && !ch.botIsMember)) throw new SlackApiError('channel_not_found');
    if (requireMembership && !ch.botIsMember) throw new SlackApiError('not_in_channel');
    return ch;
  }

  /** Parses and validates `blocks`; undefined when absent. */
  private parseBlocks(args: ApiArgs): unknown[] | undefined {
    if (args.blocks === undefined || args.blocks === '') return undefined;
    let parsed: unknown;
    try {
      parsed = jsonArg(args, 'blocks');
    } catch {
      throw new SlackApiError('invalid_blocks_format');
    }
    if (!Array.isArray(parsed)) throw new SlackApiError('invalid_blocks_format');
    const blocks: unknown[] = parsed;
    const errors = validateBlocks(blocks);
    if (errors.length > 0) {
      throw new SlackApiError('invalid_blocks', {
        errors,
        response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
      });
    }
    return blocks;
  }

  private store(m: { channel: string; user: string; text: string; blocks?: unknown[] | undefined; thread_ts?: string | undefined; files?: StoredFileRef[] }): StoredMessage {
    const msg: StoredMessage = {
      channel: m.channel,
      ts: this.nextTs(),
      user: m.user,
      text: m.text,
      history: [],
      deleted: false,
    };
    if (m.thread_ts) msg.thread_ts = m.thread_ts;
    if (m.user === this.botUserId) msg.bot_id = this.botId;
    if (m.blocks) msg.blocks = m.blocks;
    if (m.files) msg.files = m.files;
    msg.history.push(m.blocks ? { text: m.text, blocks: m.blocks } : { text: m.text });
    const list = this.messagesByChannel.get(m.channel) ?? [];
    list.push(msg);
    this.messagesByChannel.set(m.channel, list);
    this.changed();
    return msg;
  }

  /** The message object as Slack returns it from chat.* methods. */
  private wire(m: StoredMessage): Record<string, unknown> {
    const out: Record<string, unknown> = { user: m.user, type: 'message', ts: m.ts, text: m.text, team: this.teamId };
    if (m.bot_id) Object.assign(out, { bot_id: m.bot_id, app_id: this.appId });
    if (m.blocks) out.blocks = m.blocks;
    if (m.files) out.files = m.files.map((f) => this.fileObject(this.filesById.get(f.id)));
    if (m.thread_ts) {
      out.thread_ts = m.thread_ts;
      const root = this.message(m.channel, m.thread_ts);
      if (root) out.parent_user_id = root.user;
    }
    const last = m.history.at(-1);
    if (last?.editedTs) out.edited = { user: m.user, ts: last.editedTs };
    return out;
  }

  private requireContent(args: ApiArgs, blocks: unknown[] | undefined): string {
    const text = str(args, 'text') ?? '';
    if (text === '' && !blocks && args.attachments === undefined) throw new SlackApiError('no_text');
    return text;
  }

  private postMessage(args: ApiArgs): Record<string, unknown> {
    const ch = this.resolveChannel(str(args, 'channel'), true);
    const blocks = this.parseBlocks(args);
    const text = this.requireContent(args, blocks);
    if (text.length > MAX_POST_TEXT) throw new SlackApiError('msg_too_long');
    // Like Slack, an unknown thread_ts is accepted (the reply just never shows in the channel).
    const msg = this.store({ channel: ch.id, user: this.botUserId, text, blocks, thread_ts: nonEmpty(args, 'thread_ts') });
    const metadata = typeof args.metadata === 'string' ? (JSON.parse(args.metadata) as unknown) : args.metadata;
    if (metadata !== undefined) {
      const m = metadata as { event_type?: unknown; event_payload?: unknown };
      if (typeof m.event_type !== 'string' || typeof m.event_payload !== 'object' || m.event_payload === null) throw new SlackApiError('invalid_metadata_format');
      msg.metadata = { event_type: m.event_type, event_payload: m.event_payload as Record<string, unknown> };
    }
    return { channel: ch.id, ts: msg.ts, message: this.wire(msg) };
  }

  /** The thread: its root, then the replies in order (one page is enough for tests). */
  private conversationReplies(args: ApiArgs): Record<string, unknown> {
    const ch = this.resolveChannel(str(args, 'channel'), true);
    const ts = str(args, 'ts') ?? '';
    const root = this.message(ch.id, ts);
    if (!root || root.deleted) throw new SlackApiError('thread_not_found');
    const withMetadata = String(args.include_all_metadata) === 'true';
    const messages = [root, ...this.thread(ch.id, ts)].map((m) => {
      const out = this.wire(m);
      if (withMetadata && m.metadata) out.metadata = m.metadata;
      return out;
    });
    return { messages, has_more: false, response_metadata: { next_cursor: '' } };
  }

  private ownMessage(args: ApiArgs, notMineError: string): StoredMessage {
    const ch = this.resolveChannel(str(args, 'channel'), false);
    const msg = this.message(ch.id, str(args, 'ts') ?? '');
    if (!msg || msg.deleted) throw new SlackApiError('message_not_found');
    if (msg.user !== this.botUserId) throw new SlackApiError(notMineError);
    return msg;
  }

  private updateMessage(args: ApiArgs): Record<string, unknown> {
    const msg = this.ownMessage(args, 'cant_update_message');
    const blocks = this.parseBlocks(args);
    const text = this.requireContent(args, blocks);
    if (text.length > MAX_UPDATE_TEXT) throw new SlackApiError('msg_too_long');
    msg.text = text;
    // Omitted blocks are kept, as Slack does; an explicit [] removes them.
    if (blocks) {
      if (blocks.length > 0) msg.blocks = blocks;
      else delete msg.blocks;
    }
    msg.history.push({ text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}), editedTs: this.nextTs() });
    this.changed();
    return { channel: msg.channel, ts: msg.ts, text: msg.text, message: this.wire(msg) };
  }

  private deleteMessage(args: ApiArgs): Record<string, unknown> {
    const msg = this.ownMessage(args, 'cant_delete_message');
    msg.deleted = true;
    this.changed();
    return { channel: msg.channel, ts: msg.ts };
  }

  private postEphemeral(args: ApiArgs): Record<string, unknown> {
    const ch = this.resolveChannel(str(args, 'channel'), true);
    const user = nonEmpty(args, 'user');
    if (!user) throw new SlackApiError('user_not_found');
    if (ch.members && !ch.members.includes(user)) throw new SlackApiError('user_not_in_channel');
    const blocks = this.parseBlocks(args);
    const text = this.requireContent(args, blocks);
    if (text.length > MAX_POST_TEXT) throw new SlackApiError('msg_too_long');
    const e: StoredEphemeral = { channel: ch.id, user, text, message_ts: this.nextTs() };
    if (blocks) e.blocks = blocks;
    const threadTs = nonEmpty(args, 'thread_ts');
    if (threadTs) e.thread_ts = threadTs;
    this.ephemeralList.push(e);
    this.changed();
    return { message_ts: e.message_ts };
  }

  private conversationInfo(args: ApiArgs): Record<string, unknown> {
    const ch = this.resolveChannel(str(args, 'channel'), false);
    const isIm = ch.id.startsWith('D');
    return {
      channel: {
        id: ch.id,
        name: ch.name ?? (isIm ? undefined : ch.id.toLowerCase()),
        is_channel: !isIm && !ch.isPrivate,
        is_group: false,
        is_im: isIm,
        is_private: ch.isPrivate ?? false,
        is_member: ch.botIsMember,
        is_archived: false,
        ...(ch.members ? { num_members: ch.members.length } : {}),
      },
    };
  }

  private getUploadUrl(args: ApiArgs): Record<string, unknown> {
    const filename = nonEmpty(args, 'filename');
    const length = Number(str(args, 'length'));
    if (!filename) throw invalidArguments('missing required field: filename');
    if (!Number.isInteger(length) || length < 0) throw invalidArguments('missing required field: length');
    // Slack: "missing_argument … Typically only occurs when the length provided is 0."
    if (length === 0) throw new SlackApiError('missing_argument');
    const id = `F${String(++this.fileSeq).padStart(10, '0')}`;
    const uploadId = randomBytes(12).toString('hex');
    this.filesById.set(id, { id, name: filename, title: filename, declaredLength: length, completed: false });
    this.uploadIdToFile.set(uploadId, id);
    return { upload_url: `${this.baseUrl}/upload/v1/${uploadId}`, file_id: id };
  }

  /**
   * The upload URL: takes the file's bytes as a raw body or multipart form. Bytes that differ in
   * number from the `length` declared to files.getUploadURLExternal are refused with a non-200
   * (Slack's only documented signal of a failed upload), and the file stays un-uploaded, so
   * files.completeUploadExternal answers file_not_found for it.
   */
  private async serveUpload(uploadId: string, req: IncomingMessage, contentType: string, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const fileId = this.uploadIdToFile.get(uploadId);
    const cutAfter = this.uploadCuts.shift();
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      received += chunk.length;
      if (cutAfter !== undefined && received >= cutAfter) {
        this.recordCall('upload_url', { file_id: fileId, bytes: received }, time, 0, 'connection dropped mid-upload');
        req.socket.destroy();
        return;
      }
    }
    const raw = Buffer.concat(chunks);
    const record = (status: number, body: unknown): void => this.recordCall('upload_url', { file_id: fileId, bytes: raw.length }, time, status, body);
    if (await this.applyFault('upload_url', res, record)) return;
    const file = fileId === undefined ? undefined : this.filesById.get(fileId);
    if (!file) {
      record(404, 'not found');
      return sendText(res, 404, 'not found');
    }
    const bytes = await extractUploadBytes(contentType, raw);
    if (bytes.length !== file.declaredLength) {
      const body = `length mismatch: ${bytes.length} bytes received, ${file.declaredLength} declared`;
      record(400, body);
      return sendText(res, 400, body);
    }
    file.bytes = bytes;
    const body = `OK - ${file.bytes.length}`;
    record(200, body);
    sendText(res, 200, body);
  }

  /** url_private downloads: bytes for a bot-token bearer, like files.slack.com. */
  private serveFileDownload(teamAndFile: string, req: IncomingMessage, res: ServerResponse): void {
    const file = this.filesById.get(teamAndFile.split('-').at(-1) ?? '');
    if (req.headers.authorization !== `Bearer ${this.botToken}`) return sendText(res, 403, 'forbidden');
    if (!file?.bytes) return sendText(res, 404, 'not found');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(file.bytes.length) });
    res.end(file.bytes);
  }

  private completeUpload(args: ApiArgs): Record<string, unknown> {
    let entries: unknown;
    try {
      entries = jsonArg(args, 'files');
    } catch {
      throw invalidArguments('files must be a JSON array [json-pointer:/files]');
    }
    if (!Array.isArray(entries) || entries.length === 0) throw invalidArguments('missing required field: files');
    const picked = entries.map((e: unknown) => {
      const id = typeof e === 'object' && e !== null && 'id' in e && typeof e.id === 'string' ? e.id : undefined;
      if (!id) throw invalidArguments('missing required field: id [json-pointer:/files/0/id]');
      const file = this.filesById.get(id);
      // Never uploaded counts as missing, too.
      if (!file || file.bytes === undefined) throw new SlackApiError('file_not_found');
      const title = 'title' in (e as object) ? (e as { title?: unknown }).title : undefined;
      return { file, title: typeof title === 'string' && title !== '' ? title : undefined };
    });

    const channelArg = nonEmpty(args, 'channel_id');
    const threadTs = nonEmpty(args, 'thread_ts');
    if (threadTs && !channelArg) throw invalidArguments('thread_ts requires channel_id');
    const ch = channelArg ? this.resolveChannel(channelArg, true) : undefined;
    const blocks = this.parseBlocks(args);
    const comment = str(args, 'initial_comment');

    for (const { file, title } of picked) {
      file.completed = true;
      if (title) file.title = title;
      if (ch) {
        file.channel = ch.id;
        if (threadTs) file.thread_ts = threadTs;
        if (comment !== undefined) file.initial_comment = comment;
      }
    }
    if (ch) {
      const refs = picked.map(({ file }) => ({ id: file.id, name: file.name, title: file.title, size: file.bytes?.length ?? 0 }));
      this.store({ channel: ch.id, user: this.botUserId, text: comment ?? '', blocks, thread_ts: threadTs, files: refs });
    } else {
      this.changed();
    }
    return { files: picked.map(({ file }) => this.fileObject(file)) };
  }

  private fileObject(file: StoredFile | undefined): Record<string, unknown> {
    if (!file) return {};
    const ext = file.name.includes('.') ? (file.name.split('.').at(-1) ?? '').toLowerCase() : '';
    const created = Math.floor(Date.now() / 1000);
    return {
      id: file.id,
      created,
      timestamp: created,
      name: file.name,
      title: file.title,
      mimetype: MIME_TYPES[ext] ?? 'application/octet-stream',
      filetype: ext || 'binary',
      user: this.botUserId,
      user_team: this.teamId,
      size: file.bytes?.length ?? 0,
      mode: 'hosted',
      is_external: false,
      is_public: false,
      url_private: `${this.baseUrl}/files-pri/${this.teamId}-${file.id}/${encodeURIComponent(file.name)}`,
      permalink: `https://${this.teamDomain}.slack.com/files/${this.botUserId}/${file.id}/${encodeURIComponent(file.name)}`,
      shares: {},
      channels: file.channel ? [file.channel] : [],
    };
  }

  // ---------------------------------------------------------------- response URLs

  private async serveResponseUrl(id: string, raw: Buffer, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const state = this.responseUrls.get(id);
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // recorded below as an empty body
    }
    const answer = (status: number, json: unknown): void => {
      if (state) this.responsePosts.push({ id, channel: state.channel, userId: state.userId, body, time, status });
      this.recordCall('response_url', { id, ...body }, time, status, json); // emits the change
      sendJson(res, status, json);
    };
    if (await this.applyFault('response_url', res, (status, json) => this.recordCall('response_url', { id, ...body }, time, status, json))) return;
    if (!state || Date.now() - state.createdAt > RESPONSE_URL_TTL_MS) return answer(404, { ok: false, error: 'expired_url' });
    if (state.uses >= RESPONSE_URL_MAX_USES) return answer(404, { ok: false, error: 'used_url' });
    state.uses++;
    try {
      this.parseBlocks(body);
    } catch (err) {
      if (err instanceof SlackApiError) return answer(400, { ok: false, error: err.error, ...err.extra });
      throw err;
    }
    // An in_channel response becomes a visible channel message posted by the app.
    if (body.response_type === 'in_channel' && !body.delete_original && !body.replace_original) {
      this.store({
        channel: state.channel,
        user: this.botUserId,
        text: str(body, 'text') ?? '',
        blocks: Array.isArray(body.blocks) ? body.blocks : undefined,
        thread_ts: nonEmpty(body, 'thread_ts'),
      });
    }
    answer(200, { ok: true });
  }
}
