// A loopback Slack: the Web API, file upload URLs, response URLs and Socket Mode, speaking
// Slack's wire protocol so the real @slack/web-api WebClient and @slack/bolt App run against it
// unchanged (WebClient option `slackApiUrl: emulator.apiUrl`). It also plays the users: button
// clicks, options loads, modal submissions and App Home visits reach the app as Slack sends them,
// over Socket Mode or signed to its Request URL. Test code only.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { elementsOf, isRecord, optionsOf, validateBlocks } from './slack/blocks.js';
import { decodeArgs, extractUploadBytes, readBody, sendJson, sendText } from './slack/http.js';
import { RateLimiter, type RateLimitOptions } from './slack/rate-limits.js';
import { SocketModeServer } from './slack/socket-mode.js';
import type {
  ApiCall,
  ChannelOptions,
  ChannelState,
  Fault,
  Interaction,
  ResponseUrlPost,
  SlackView,
  SocketAck,
  StoredEphemeral,
  StoredFile,
  StoredFileRef,
  StoredMessage,
  Submission,
  ViewType,
} from './slack/types.js';
import { autoId, submittedState, validateOptionsAnswer, validateView, withIds, type InputValue } from './slack/views.js';
import { SLACK_DEFAULTS, sendSignedRequest, slashCommandFields, type SignedResponse, type SlashCommandFields } from './slack-signing.js';

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
  /** The app's signing secret, which signs what the emulator sends to the Request URL. */
  signingSecret?: string;
  /**
   * Slack's rate limits (slack/rate-limits.ts), on by default: a call over its method's budget is
   * answered 429 with Retry-After. A test that changes them, or turns them off with `false`, says why.
   */
  rateLimits?: RateLimitOptions;
}

interface ResponseUrlState {
  channel: string;
  userId: string;
  /** The message an interaction came from: replace_original and delete_original act on it. */
  messageTs?: string;
  uses: number;
  createdAt: number;
}

interface TriggerState {
  user: string;
  issuedAt: number;
  used: boolean;
}

/** A button on a message, or in a modal or Home tab the user sees. */
interface MessageButton {
  channel: string;
  messageTs: string;
}
interface ViewButton {
  viewId: string;
  /** What the user has filled in so far (by action_id), sent as the view's state like Slack does. */
  values?: Record<string, InputValue>;
}
interface ButtonClick {
  user: string;
  actionId: string;
  /** Replaces the button's value, as a forged payload would. */
  value?: string;
}

/** Slack's documented limits. */
const MAX_POST_TEXT = 40_000;
const MAX_UPDATE_TEXT = 4_000;
const RESPONSE_URL_MAX_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;
const TRIGGER_TTL_MS = 3000;
/** How long Slack waits for the app to acknowledge an interaction or event. */
const ACK_TIMEOUT_MS = 3000;
const MAX_MODAL_STACK = 3;
/** Slack asks for external options once this many characters are typed, unless min_query_length says otherwise. */
const DEFAULT_MIN_QUERY_LENGTH = 3;

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

/**
 * The element with `actionId` (of one of `types`) in some blocks, and its block's id (Slack's
 * stand-in, stable for `seed`, when the block has none). Fails loudly: the user can't click what isn't there.
 */
function findElement(blocks: unknown[], actionId: string, types: string[], where: string, seed: string): { blockId: string; element: Record<string, unknown> } {
  const seen: string[] = [];
  for (const [i, block] of blocks.entries()) {
    if (!isRecord(block)) continue;
    for (const { element } of elementsOf(block, '')) {
      if (!isRecord(element) || typeof element.action_id !== 'string') continue;
      if (element.action_id === actionId && types.includes(String(element.type))) {
        return { blockId: typeof block.block_id === 'string' ? block.block_id : autoId(`${seed}/${i}`), element };
      }
      seen.push(`${String(element.type)} ${element.action_id}`);
    }
  }
  throw new Error(`no ${types.join(' or ')} with action_id ${actionId} in ${where} (it has: ${seen.join(', ') || 'nothing to click'})`);
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
  readonly signingSecret: string;

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
  private requestUrl: string | undefined;
  private readonly triggers = new Map<string, TriggerState>();
  private readonly viewsById = new Map<string, { user: string; view: SlackView }>();
  /** Each user's open modal: its views, root first (only the last one shows). */
  private readonly modalStacks = new Map<string, string[]>();
  private readonly homeViews = new Map<string, string>();
  /** What the app's options loads offered, by `${viewId}/${actionId}`: a user picks from these. */
  private readonly offeredOptions = new Map<string, Record<string, unknown>[]>();
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
    this.signingSecret = opts.signingSecret ?? randomBytes(16).toString('hex');
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

  /**
   * The app's Request URL (e.g. http://127.0.0.1:PORT/slack/events), where user actions and events
   * go, signed with signingSecret, while the app has no Socket Mode connection open.
   */
  setRequestUrl(url: string | undefined): void {
    this.requestUrl = url;
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
    this.triggers.clear();
    this.viewsById.clear();
    this.modalStacks.clear();
    this.homeViews.clear();
    this.offeredOptions.clear();
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

  /** The user's open modal, root view first; the last one is what the user sees. Empty when none is open. */
  views(user: string): SlackView[] {
    return (this.modalStacks.get(user) ?? []).map((id) => this.viewsById.get(id)!.view);
  }

  /** The view on top of the user's open modal. */
  openModal(user: string): SlackView | undefined {
    return this.views(user).at(-1);
  }

  /**
   * Calls `listener` after every change the emulator sees (a message, an edit, a file, a view, a
   * response URL post, an API call…), synchronously; returns the function that stops it. For the
   * playground's page server, which tells its browsers to look again.
   */
  onChange(listener: () => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  /** The Home tab views.publish last set for the user. */
  homeView(user: string): SlackView | undefined {
    const id = this.homeViews.get(user);
    return id === undefined ? undefined : this.viewsById.get(id)?.view;
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

  /** A fresh response URL for a slash command payload, tied to channel and user (and the message a button was clicked on). */
  responseUrl(channel: string, userId: string, messageTs?: string): string {
    const id = randomBytes(12).toString('hex');
    this.responseUrls.set(id, { channel, userId, uses: 0, createdAt: Date.now(), ...(messageTs === undefined ? {} : { messageTs }) });
    return `${this.baseUrl}/response/${id}`;
  }

  /** A fresh trigger_id for the user, as in a slash command or interaction payload: views.open and views.push take it once, within 3 s. */
  triggerId(user: string): string {
    const id = `${Date.now()}.${this.teamId.replace(/\D/g, '')}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { user, issuedAt: Date.now(), used: false });
    return id;
  }

  /** Full slash command fields with this workspace's ids, a fresh response URL and a trigger_id filled in. */
  slashCommand(fields: Omit<SlashCommandFields, 'response_url'> & { response_url?: string }): SlashCommandFields {
    return {
      team_id: this.teamId,
      team_domain: this.teamDomain,
      api_app_id: this.appId,
      ...fields,
      response_url: fields.response_url ?? this.responseUrl(fields.channel_id, fields.user_id),
      trigger_id: fields.trigger_id ?? this.triggerId(fields.user_id),
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

  // ---------------------------------------------------------------- user actions

  /**
   * The user clicks the button with `actionId` on a message or in a view they see: the app gets
   * Slack's block_actions payload (with a trigger_id, and a response_url bound to the message).
   * `value` replaces the button's own, as in a tampered payload the app must not take on trust
   * (signed all the same, so only the app's own checks can refuse it).
   */
  clickButton(opts: MessageButton & ButtonClick): Promise<Interaction & { responseUrl: string }>;
  clickButton(opts: ViewButton & ButtonClick): Promise<Interaction>;
  async clickButton(opts: (MessageButton | ViewButton) & ButtonClick): Promise<Interaction> {
    const triggerId = this.triggerId(opts.user);
    const base = { type: 'block_actions', ...this.actor(opts.user), trigger_id: triggerId };
    const action = (blockId: string, button: Record<string, unknown>): Record<string, unknown> => {
      const value = opts.value ?? button.value;
      return {
        action_id: opts.actionId,
        block_id: blockId,
        text: button.text,
        ...(value === undefined ? {} : { value }),
        ...(button.style === undefined ? {} : { style: button.style }),
        type: 'button',
        action_ts: (Date.now() / 1000).toFixed(6),
      };
    };
    if ('viewId' in opts) {
      const view = this.visibleView(opts.viewId, opts.user);
      const { blockId, element } = findElement(view.blocks, opts.actionId, ['button'], `view ${view.id}`, view.id);
      const values = submittedState(view.blocks, opts.values ?? {}, (actionId) => this.offeredOptions.get(`${view.id}/${actionId}`) ?? [], false);
      const payload = { ...base, container: { type: 'view', view_id: view.id }, view: { ...view, state: { values } }, actions: [action(blockId, element)] };
      return { payload, answer: await this.deliver('interactive', payload), triggerId };
    }
    const msg = this.message(opts.channel, opts.messageTs);
    if (!msg || msg.deleted) throw new Error(`clickButton: there is no message ${opts.messageTs} in ${opts.channel}`);
    const ch = this.channels.get(msg.channel);
    if (ch?.members && !ch.members.includes(opts.user)) throw new Error(`clickButton: ${opts.user} is not in ${msg.channel}, so cannot see the message`);
    const { blockId, element } = findElement(msg.blocks ?? [], opts.actionId, ['button'], `message ${msg.ts}`, msg.ts);
    const responseUrl = this.responseUrl(msg.channel, opts.user, msg.ts);
    const payload = {
      ...base,
      container: { type: 'message', message_ts: msg.ts, channel_id: msg.channel, is_ephemeral: false, ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}) },
      channel: { id: msg.channel, name: ch?.name ?? (msg.channel.startsWith('D') ? 'directmessage' : msg.channel.toLowerCase()) },
      message: this.wire(msg),
      state: { values: {} },
      response_url: responseUrl,
      actions: [action(blockId, element)],
    };
    return { payload, answer: await this.deliver('interactive', payload), triggerId, responseUrl };
  }

  /**
   * The user types `value` into the external select `actionId` of a view: the app gets Slack's
   * block_suggestion and its answer is returned, or the call fails where Slack shows the user an
   * error (no answer within 3 s, options Slack refuses). What it offers is what submitView can pick.
   */
  async requestOptions(opts: {
    viewId: string;
    actionId: string;
    value: string;
    user: string;
    /** What the user has filled in so far (by action_id), sent as the view's state like Slack does. */
    values?: Record<string, InputValue>;
  }): Promise<Record<string, unknown>> {
    const visible = this.visibleView(opts.viewId, opts.user);
    const view = opts.values
      ? { ...visible, state: { values: submittedState(visible.blocks, opts.values, (actionId) => this.offeredOptions.get(`${visible.id}/${actionId}`) ?? [], false) } }
      : visible;
    const { blockId, element } = findElement(view.blocks, opts.actionId, ['external_select', 'multi_external_select'], `view ${view.id}`, view.id);
    const minQuery = typeof element.min_query_length === 'number' ? element.min_query_length : DEFAULT_MIN_QUERY_LENGTH;
    if (opts.value.length < minQuery) throw new Error(`requestOptions: Slack asks for options once ${minQuery} characters are typed, not at "${opts.value}"`);
    const payload = {
      type: 'block_suggestion',
      ...this.actor(opts.user),
      container: { type: 'view', view_id: view.id },
      view,
      action_id: opts.actionId,
      block_id: blockId,
      value: opts.value,
    };
    const answer = await this.deliver('interactive', payload);
    const problems = validateOptionsAnswer(answer);
    if (problems.length > 0 || !answer) throw new Error(`requestOptions: Slack would show the user an error for the app's answer: ${problems.join('; ')}`);
    this.offeredOptions.set(`${view.id}/${opts.actionId}`, optionsOf(answer));
    this.changed();
    return answer;
  }

  /**
   * The user fills the inputs of the modal view they see (`values` by action_id: a text, an
   * option's value, several values for multi-selects and checkboxes; inputs left out keep their
   * initial value) and presses Submit. The app's response_action then applies as in Slack:
   * 'errors' keeps the view open, 'update' replaces it, 'push' stacks one, 'clear' closes the
   * modal, nothing closes the submitted view.
   */
  async submitView(opts: { viewId: string; user: string; values?: Record<string, InputValue> }): Promise<Submission> {
    const view = this.visibleView(opts.viewId, opts.user);
    if (view.type !== 'modal') throw new Error(`submitView: view ${view.id} is a Home tab, which has no Submit`);
    const values = submittedState(view.blocks, opts.values ?? {}, (actionId) => this.offeredOptions.get(`${view.id}/${actionId}`) ?? []);
    const payload = {
      type: 'view_submission',
      ...this.actor(opts.user),
      trigger_id: this.triggerId(opts.user),
      view: { ...view, state: { values } },
      response_urls: [],
    };
    const answer = await this.deliver('interactive', payload);
    return { payload, ...this.responseAction(opts.user, view, answer ?? {}) };
  }

  /**
   * The user closes the modal view they see (its Close button or the X): that view goes, showing
   * the one under it, or the whole modal does when `all` is set (the X on a stack) or the view has
   * clear_on_close. A view with notify_on_close tells the app with Slack's view_closed payload.
   */
  async closeView(opts: { viewId: string; user: string; all?: boolean }): Promise<void> {
    const stack = this.modalStacks.get(opts.user) ?? [];
    const view = this.openModal(opts.user);
    if (!view || view.id !== opts.viewId) throw new Error(`closeView: ${opts.user} does not see modal view ${opts.viewId} (open modal: ${view?.id ?? 'none'})`);
    const cleared = opts.all === true || view.clear_on_close;
    if (cleared || stack.length === 1) this.modalStacks.delete(opts.user);
    else stack.pop();
    this.changed();
    if (view.notify_on_close) await this.deliver('interactive', { type: 'view_closed', ...this.actor(opts.user), view, is_cleared: cleared });
  }

  /** The user opens the app's Home tab: the app gets the app_home_opened event (with the view it published, if any). */
  async openAppHome(user: string): Promise<void> {
    const dm = this.dmChannel(user);
    if (!dm) throw new Error(`openAppHome: ${user} is not a user id`);
    const home = this.homeView(user);
    const event = { type: 'app_home_opened', user, channel: dm.id, tab: 'home', event_ts: (Date.now() / 1000).toFixed(6), ...(home ? { view: home } : {}) };
    await this.deliver('events_api', {
      token: SLACK_DEFAULTS.verificationToken,
      team_id: this.teamId,
      api_app_id: this.appId,
      event,
      type: 'event_callback',
      event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: this.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    });
  }

  /** Who acts, as every interaction payload says it. */
  private actor(user: string): Record<string, unknown> {
    return {
      team: { id: this.teamId, domain: this.teamDomain },
      user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: this.teamId },
      api_app_id: this.appId,
      token: SLACK_DEFAULTS.verificationToken,
      is_enterprise_install: false,
      enterprise: null,
    };
  }

  /** A view the user has in front of them: the top of their modal, or their Home tab. */
  private visibleView(viewId: string, user: string): SlackView {
    const view = this.openModal(user)?.id === viewId ? this.openModal(user) : this.homeView(user)?.id === viewId ? this.homeView(user) : undefined;
    if (!view) throw new Error(`${user} does not see view ${viewId} (open modal: ${this.openModal(user)?.id ?? 'none'}, home: ${this.homeView(user)?.id ?? 'none'})`);
    return view;
  }

  /**
   * Delivers a payload as Slack does: over Socket Mode while the app has a connection open (Slack
   * then sends nothing to the Request URL), else signed to the Request URL. Resolves with the
   * app's answer; rejects when the app does not answer 200 within Slack's 3 s.
   */
  private async deliver(type: 'interactive' | 'events_api', payload: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    if (this.socketMode.connectionCount > 0) return (await this.sendSocketEnvelope(type, payload, ACK_TIMEOUT_MS)).payload;
    if (!this.requestUrl) throw new Error(`cannot deliver ${String(payload.type)}: the app has no Socket Mode connection and setRequestUrl() was not called`);
    const [body, contentType] =
      type === 'interactive'
        ? [new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded']
        : [JSON.stringify(payload), 'application/json'];
    let res: SignedResponse;
    try {
      res = await sendSignedRequest(this.requestUrl, this.signingSecret, body, contentType, { timeoutMs: ACK_TIMEOUT_MS });
    } catch (err) {
      throw new Error(`the app did not answer ${String(payload.type)} within ${ACK_TIMEOUT_MS}ms: ${String(err)}`, { cause: err });
    }
    if (res.status !== 200) throw new Error(`the app answered ${String(payload.type)} with HTTP ${res.status}: ${res.body}`);
    return res.body === '' ? undefined : (JSON.parse(res.body) as Record<string, unknown>);
  }

  /** Applies the app's answer to a view_submission; throws where Slack would show the user an error instead. */
  private responseAction(user: string, view: SlackView, answer: Record<string, unknown>): Omit<Submission, 'payload'> {
    const stack = this.modalStacks.get(user) ?? [];
    const next = (type: 'update' | 'push'): Record<string, unknown> => {
      const problems = validateView(answer.view, 'modal');
      if (problems.length > 0) throw new Error(`submitView: Slack refuses the view in response_action ${type}: ${problems.join('; ')}`);
      return answer.view as Record<string, unknown>;
    };
    switch (answer.response_action) {
      case undefined: {
        stack.pop();
        if (stack.length === 0) this.modalStacks.delete(user);
        this.changed();
        const under = this.openModal(user);
        return { action: 'close', ...(under ? { view: under } : {}) };
      }
      case 'errors': {
        const errors = answer.errors;
        const inputs = new Set(view.blocks.filter((b) => b.type === 'input').map((b) => b.block_id));
        if (!isRecord(errors) || Object.entries(errors).some(([blockId, text]) => !inputs.has(blockId) || typeof text !== 'string')) {
          throw new Error(`submitView: response_action errors must map input block_ids to messages, got ${JSON.stringify(errors)}`);
        }
        return { action: 'errors', errors: errors as Record<string, string> };
      }
      case 'update':
        return { action: 'update', view: this.storeView(user, next('update'), { id: view.id, root: view.root_view_id, previous: view.previous_view_id }) };
      case 'push': {
        if (stack.length >= MAX_MODAL_STACK) throw new Error(`submitView: a modal holds at most ${MAX_MODAL_STACK} views`);
        const pushed = this.storeView(user, next('push'), { root: stack[0] ?? view.id, previous: view.id });
        stack.push(pushed.id);
        return { action: 'push', view: pushed };
      }
      case 'clear':
        this.modalStacks.delete(user);
        this.changed();
        return { action: 'clear' };
      default:
        throw new Error(`submitView: unknown response_action ${JSON.stringify(answer.response_action)}`);
    }
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
      'views.open': (a) => this.viewsOpen(a),
      'views.push': (a) => this.viewsPush(a),
      'views.update': (a) => this.viewsUpdate(a),
      'views.publish': (a) => this.viewsPublish(a),
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

  // ---------------------------------------------------------------- views

  /** The `view` argument, checked as Slack checks a view of that type. */
  private viewArg(args: ApiArgs, type: ViewType): Record<string, unknown> {
    let view: unknown;
    try {
      view = jsonArg(args, 'view');
    } catch {
      throw invalidArguments('view must be a JSON object [json-pointer:/view]');
    }
    if (view === undefined) throw invalidArguments('missing required field: view');
    const problems = validateView(view, type);
    if (problems.length > 0) throw invalidArguments(...problems);
    return view as Record<string, unknown>;
  }

  /** Exchanges a trigger_id: once, by the user it was issued for, within 3 s. */
  private exchangeTrigger(args: ApiArgs): TriggerState {
    const id = nonEmpty(args, 'trigger_id');
    if (!id) throw invalidArguments('missing required field: trigger_id');
    const trigger = this.triggers.get(id);
    if (!trigger) throw new SlackApiError('invalid_trigger_id');
    if (trigger.used) throw new SlackApiError('exchanged_trigger_id');
    if (Date.now() - trigger.issuedAt > TRIGGER_TTL_MS) throw new SlackApiError('expired_trigger_id');
    trigger.used = true;
    return trigger;
  }

  /** A view is live while it is in a modal or is a Home tab; only live views can be updated. */
  private isLive(id: string): boolean {
    return [...this.modalStacks.values()].some((stack) => stack.includes(id)) || [...this.homeViews.values()].includes(id);
  }

  /** Stores a view (a new one, or over `place.id`) as Slack returns it: ids filled in, a fresh hash. */
  private storeView(user: string, spec: Record<string, unknown>, place: { id?: string; root?: string | null; previous?: string | null } = {}): SlackView {
    const externalId = typeof spec.external_id === 'string' ? spec.external_id : '';
    if (externalId !== '' && [...this.viewsById.values()].some(({ view }) => view.external_id === externalId && view.id !== place.id && this.isLive(view.id))) {
      throw new SlackApiError('duplicate_external_id');
    }
    const id = place.id ?? `V${randomBytes(5).toString('hex').toUpperCase()}`;
    const plain = (v: unknown): SlackView['title'] => (isRecord(v) ? ({ emoji: true, ...v } as SlackView['title']) : null);
    const view: SlackView = {
      id,
      team_id: this.teamId,
      type: spec.type as ViewType,
      title: plain(spec.title),
      submit: plain(spec.submit),
      close: plain(spec.close),
      blocks: withIds(spec.blocks as unknown[], id),
      private_metadata: typeof spec.private_metadata === 'string' ? spec.private_metadata : '',
      callback_id: typeof spec.callback_id === 'string' ? spec.callback_id : '',
      external_id: externalId,
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      clear_on_close: spec.clear_on_close === true,
      notify_on_close: spec.notify_on_close === true,
      root_view_id: place.root ?? id,
      previous_view_id: place.previous ?? null,
      app_id: this.appId,
      bot_id: this.botId,
    };
    this.viewsById.set(id, { user, view });
    this.changed();
    return view;
  }

  /** Opens a modal for the user the trigger was issued to; it replaces any modal they had open. */
  private viewsOpen(args: ApiArgs): Record<string, unknown> {
    const spec = this.viewArg(args, 'modal');
    const { user } = this.exchangeTrigger(args);
    const view = this.storeView(user, spec);
    this.modalStacks.set(user, [view.id]);
    return { view };
  }

  private viewsPush(args: ApiArgs): Record<string, unknown> {
    const spec = this.viewArg(args, 'modal');
    const { user } = this.exchangeTrigger(args);
    const stack = this.modalStacks.get(user);
    if (!stack) throw new SlackApiError('not_found');
    if (stack.length >= MAX_MODAL_STACK) throw new SlackApiError('push_limit_reached');
    const view = this.storeView(user, spec, { root: stack[0], previous: stack.at(-1) });
    stack.push(view.id);
    return { view };
  }

  private viewsUpdate(args: ApiArgs): Record<string, unknown> {
    const viewId = nonEmpty(args, 'view_id');
    const externalId = nonEmpty(args, 'external_id');
    if (!viewId && !externalId) throw invalidArguments('either view_id or external_id is required');
    const found = viewId ? this.viewsById.get(viewId) : [...this.viewsById.values()].find(({ view }) => view.external_id === externalId && this.isLive(view.id));
    if (!found || !this.isLive(found.view.id)) throw new SlackApiError('not_found');
    const spec = this.viewArg(args, found.view.type);
    // The hash guards against overwriting a newer version of the view.
    const hash = nonEmpty(args, 'hash');
    if (hash !== undefined && hash !== found.view.hash) throw new SlackApiError('hash_conflict');
    const { id, root_view_id, previous_view_id } = found.view;
    return { view: this.storeView(found.user, spec, { id, root: root_view_id, previous: previous_view_id }) };
  }

  private viewsPublish(args: ApiArgs): Record<string, unknown> {
    const user = nonEmpty(args, 'user_id');
    if (!user) throw invalidArguments('missing required field: user_id');
    const spec = this.viewArg(args, 'home');
    const current = this.homeView(user);
    const hash = nonEmpty(args, 'hash');
    if (hash !== undefined && current && hash !== current.hash) throw new SlackApiError('hash_conflict');
    const view = this.storeView(user, spec, current ? { id: current.id } : {});
    this.homeViews.set(user, view.id);
    return { view };
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
      if (state)
        this.responsePosts.push({ id, channel: state.channel, userId: state.userId, ...(state.messageTs === undefined ? {} : { messageTs: state.messageTs }), body, time, status });
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
    const original = state.messageTs === undefined ? undefined : this.message(state.channel, state.messageTs);
    if (body.delete_original === true || body.replace_original === true) {
      // From a click on a message, these act on that message (elsewhere there is none to act on).
      if (original && !original.deleted) this.editOriginal(original, body);
    } else if (body.response_type === 'in_channel') {
      // An in_channel response becomes a visible channel message posted by the app.
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

  /** replace_original / delete_original from a response URL bound to a message. */
  private editOriginal(msg: StoredMessage, body: Record<string, unknown>): void {
    if (body.delete_original === true) {
      msg.deleted = true;
    } else {
      // Replacing is a whole new message: blocks left out are gone.
      msg.text = str(body, 'text') ?? '';
      if (Array.isArray(body.blocks)) msg.blocks = body.blocks;
      else delete msg.blocks;
      msg.history.push({ text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}), editedTs: this.nextTs() });
    }
    this.changed();
  }
}
