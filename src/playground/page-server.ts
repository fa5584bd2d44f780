// The playground's Slack stand-in page: a small loopback HTTP server for a web page that looks like
// a Slack channel. The page talks only to this server, and this server only to the Slack emulator
// and to kdebug's Request URL, the way Slack does: a typed command becomes a signed slash command
// POSTed to the bot; clicks, options loads, submissions and Home visits are the emulator's signed
// interaction payloads; what kdebug posts arrives through its Web API calls to the emulator, which
// the page reads here as JSON. Nothing here imports kdebug's own code: the playground is a Slack
// stand-in, not a second UI inside kdebug.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { SlackEmulator, StoredEphemeral, StoredMessage } from './slack-emulator.js';
import { sendSlashCommand } from './slack-signing.js';

export interface PageServerOptions {
  /** The started emulator kdebug's Web API client talks to. */
  slack: SlackEmulator;
  /** The one channel the page shows (the emulator must know it: addChannel). */
  channel: { id: string; name: string };
  /** The person at the keyboard. */
  user: { id: string; name: string };
  /** The bot's Request URL, e.g. http://127.0.0.1:3000/slack/events: typed commands go there, signed. */
  botEventsUrl: string;
  /** The app's signing secret (the same the emulator signs interactions with). */
  signingSecret: string;
  /** Lines for the banner above the channel, e.g. "tools run on this host (not root)". */
  notes: string[];
  /** Commands (after `/kdebug`) offered as clickable suggestions under the composer. */
  examples: string[];
  /** 0 or left out: a free port. */
  port?: number;
}

export interface PageServer {
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

/** A message as the page draws it. */
export interface PageMessage {
  ts: string;
  thread_ts?: string;
  user: string;
  userName: string;
  bot: boolean;
  text: string;
  blocks?: unknown[];
  files: Array<{ id: string; name: string; title: string; size: number; url: string }>;
  edited: boolean;
  /** Arrival order across messages and ephemerals, for the timeline. */
  order: number;
  /** Roots only: the thread's replies, in order. */
  replies?: PageMessage[];
}

/** Something only this user sees ("Only visible to you"). */
export interface PageEphemeral {
  id: string;
  /** Shown in this thread (else in the channel). */
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  /** How it came: the slash command's own answer, a response_url post, or chat.postEphemeral. */
  source: 'ack' | 'response_url' | 'postEphemeral';
  order: number;
}

export interface PageState {
  channel: { id: string; name: string };
  user: { id: string; name: string };
  bot: { id: string; name: string };
  /** Display names for <@U…> mentions. */
  users: Record<string, string>;
  notes: string[];
  examples: string[];
  /** Root messages of the channel with their replies. */
  messages: PageMessage[];
  /** The user's direct messages with the app (the app's Messages tab). */
  dm: PageMessage[];
  ephemerals: PageEphemeral[];
  modal: {
    id: string;
    hash: string;
    title: string;
    submit: string | null;
    close: string | null;
    blocks: unknown[];
    /** response_action errors: the message under each input, by block_id. */
    errors: Record<string, string>;
    /** How many views are stacked (1: just this one). */
    depth: number;
  } | null;
  home: { id: string; hash: string; blocks: unknown[] } | null;
}

/** Where the page's files sit: beside this module, in src/playground/ (sources) and in dist/ (the build copies them beside its chunks). */
const PAGE_DIR = new URL('./page/', import.meta.url);
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
/** The page loads nothing but itself (the playground runs offline); a script in a message could not run even if it slipped through. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};
const MAX_BODY = 256 * 1024;
/** Slack gives an app 3 seconds to acknowledge a slash command. */
const SLASH_COMMAND_TIMEOUT_MS = 3000;
/** At most this many `change` events a second to each browser. */
const MIN_EVENT_GAP_MS = 100;
const HEARTBEAT_MS = 15_000;
const FILE_TYPES: Record<string, string> = {
  pcap: 'application/vnd.tcpdump.pcap',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  json: 'application/json',
};

/** A client error: answered with its status and message, never a crash. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // A JSON content type is what keeps another web site from posting here: a browser sends it
  // cross-origin only after a CORS preflight, which this server never approves.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (!isRecord(parsed)) throw new HttpError(400, 'the body must be a JSON object');
  return parsed;
}

function stringField(body: Record<string, unknown>, key: string, opts: { optional?: boolean; max?: number } = {}): string {
  const v = body[key];
  if (v === undefined && opts.optional) return '';
  if (typeof v !== 'string') throw new HttpError(400, `${key} must be a string`);
  if (v.length > (opts.max ?? 4000)) throw new HttpError(400, `${key} is too long`);
  return v;
}

/** What a user filled into a view's inputs, by action_id: a text or option value, or several. */
function valuesField(body: Record<string, unknown>): Record<string, string | string[]> {
  const v = body.values;
  if (v === undefined) return {};
  if (!isRecord(v)) throw new HttpError(400, 'values must be an object of action_id → value');
  for (const [key, value] of Object.entries(v)) {
    const ok = typeof value === 'string' || (Array.isArray(value) && value.every((x) => typeof x === 'string'));
    if (!ok) throw new HttpError(400, `values.${key} must be a string or an array of strings`);
  }
  return v as Record<string, string | string[]>;
}

/** Whether some block holds a button with this action_id (a section's accessory or an actions block's element). */
function hasButton(blocks: unknown[] | undefined, actionId: string): boolean {
  return (blocks ?? []).some((block) => {
    if (!isRecord(block)) return false;
    const elements = [block.accessory, ...(Array.isArray(block.elements) ? (block.elements as unknown[]) : [])];
    return elements.some((el) => isRecord(el) && el.type === 'button' && el.action_id === actionId);
  });
}

/** An error's message (errors may come from another realm, e.g. under jest's VM modules, so no instanceof). */
function messageOf(err: unknown): string {
  return isRecord(err) && typeof err.message === 'string' ? err.message : String(err);
}

/** The emulator's failures to reach the app (502) against what the user asked for that Slack would not send (400). */
function emulatorError(err: unknown, botEventsUrl: string): HttpError {
  const message = messageOf(err);
  if (/^(the app did not answer|the app answered|cannot deliver)|Slack would show the user an error/.test(message)) {
    return new HttpError(502, `kdebug's bot did not handle it (${botEventsUrl}): ${message}`);
  }
  return new HttpError(400, message);
}

/** Why a fetch to the bot failed, in a few words: ECONNREFUSED, a timeout… */
function fetchProblem(err: unknown): string {
  const cause = isRecord(err) && isRecord(err.cause) ? err.cause : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (isRecord(err) && err.name === 'TimeoutError') return `no answer within ${SLASH_COMMAND_TIMEOUT_MS / 1000} s`;
  return cause ? messageOf(cause) : messageOf(err);
}

/** A filename safe inside a quoted Content-Disposition, plus the exact one in RFC 5987 form. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export async function startPageServer(opts: PageServerOptions): Promise<PageServer> {
  const { slack, channel, user, botEventsUrl, signingSecret } = opts;
  const pages = new Map(
    Object.entries(PAGE_FILES).map(([route, { file, type }]) => {
      const path = fileURLToPath(new URL(file, PAGE_DIR));
      try {
        return [route, { body: readFileSync(path), type }] as const;
      } catch (err) {
        throw new Error(`the playground page's ${file} is missing at ${path} (the build copies src/playground/page to dist/): ${messageOf(err)}`, { cause: err });
      }
    }),
  );
  // The app's DM with this user: the emulator maps a user id U… to the DM D….
  const dmId = `D${user.id.slice(1)}`;
  const users: Record<string, string> = { [user.id]: user.name, [slack.botUserId]: 'kdebug' };

  // ------------------------------------------------------------ what the page shows

  /** Arrival order of every message and ephemeral, stamped when the emulator first reports it. */
  const order = new WeakMap<object, number>();
  let nextOrder = 0;
  const stamp = (item: object): number => {
    let n = order.get(item);
    if (n === undefined) order.set(item, (n = ++nextOrder));
    return n;
  };
  /** The slash commands' own answers (the bot's HTTP response bodies), which Slack shows only to the user. */
  const acks: Array<{ id: string; text: string; blocks?: unknown[] }> = [];
  /** response_action errors by view id, for the view's version (hash) they answered. */
  const viewErrors = new Map<string, { hash: string; errors: Record<string, string> }>();

  const isMine = (r: { channel: string }) => r.channel === channel.id || r.channel === dmId;
  const responsePosts = () => slack.responses().filter((r) => r.userId === user.id && r.status === 200 && isMine(r));
  /** A response_url post that stays with the user: Slack's default, unless it goes in the channel or acts on the original. */
  const isEphemeralBody = (body: Record<string, unknown>) => body.response_type !== 'in_channel' && body.replace_original !== true && body.delete_original !== true;

  /** Stamps what is new; runs on every emulator change, so the order is the order things happened. */
  function observe(): void {
    for (const m of slack.messages(channel.id)) stamp(m);
    for (const m of slack.messages(dmId)) stamp(m);
    for (const e of slack.ephemerals(channel.id)) stamp(e);
    for (const r of responsePosts()) stamp(r);
  }

  function pageMessage(m: StoredMessage): PageMessage {
    const bot = m.bot_id !== undefined || m.user === slack.botUserId;
    return {
      ts: m.ts,
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      user: m.user,
      userName: bot ? 'kdebug' : (users[m.user] ?? m.user),
      bot,
      text: m.text,
      ...(m.blocks ? { blocks: m.blocks } : {}),
      files: (m.files ?? []).map((f) => ({ id: f.id, name: f.name, title: f.title, size: f.size, url: `/files/${encodeURIComponent(f.id)}` })),
      edited: m.history.some((v) => v.editedTs !== undefined),
      order: stamp(m),
    };
  }

  /** Roots with their replies (a reply whose root was deleted is not shown, as in Slack). */
  function conversation(id: string): PageMessage[] {
    const all = slack.messages(id);
    const roots = new Map(all.filter((m) => !m.thread_ts || m.thread_ts === m.ts).map((m) => [m.ts, { ...pageMessage(m), replies: [] as PageMessage[] }]));
    for (const m of all) {
      if (!m.thread_ts || m.thread_ts === m.ts) continue;
      const root = roots.get(m.thread_ts);
      if (root) root.replies.push(pageMessage(m));
    }
    return [...roots.values()];
  }

  function threadOf(messageTs: string | undefined): string | undefined {
    if (messageTs === undefined) return undefined;
    const m = slack.message(channel.id, messageTs) ?? slack.message(dmId, messageTs);
    return m?.thread_ts;
  }

  function ephemerals(): PageEphemeral[] {
    const out: PageEphemeral[] = acks.map((a) => ({ id: a.id, text: a.text, ...(a.blocks ? { blocks: a.blocks } : {}), source: 'ack', order: stamp(a) }));
    slack
      .ephemerals(channel.id)
      .filter((e) => e.user === user.id)
      .forEach((e: StoredEphemeral) =>
        out.push({
          id: `e-${e.message_ts}`,
          ...(e.thread_ts ? { thread_ts: e.thread_ts } : {}),
          text: e.text,
          ...(e.blocks ? { blocks: e.blocks } : {}),
          source: 'postEphemeral',
          order: stamp(e),
        }),
      );
    responsePosts().forEach((r, i) => {
      if (!isEphemeralBody(r.body)) return;
      const threadTs = threadOf(r.messageTs);
      out.push({
        id: `r-${r.id}-${i}`,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: typeof r.body.text === 'string' ? r.body.text : '',
        ...(Array.isArray(r.body.blocks) ? { blocks: r.body.blocks } : {}),
        source: 'response_url',
        order: stamp(r),
      });
    });
    return out.sort((a, b) => a.order - b.order);
  }

  function state(): PageState {
    observe();
    const modal = slack.openModal(user.id);
    const errors = modal ? viewErrors.get(modal.id) : undefined;
    const home = slack.homeView(user.id);
    return {
      channel,
      user,
      bot: { id: slack.botUserId, name: 'kdebug' },
      users,
      notes: opts.notes,
      examples: opts.examples,
      messages: conversation(channel.id),
      dm: conversation(dmId),
      ephemerals: ephemerals(),
      modal: modal
        ? {
            id: modal.id,
            hash: modal.hash,
            title: modal.title?.text ?? '',
            submit: modal.submit?.text ?? null,
            close: modal.close?.text ?? null,
            blocks: modal.blocks,
            errors: errors && errors.hash === modal.hash ? errors.errors : {},
            depth: slack.views(user.id).length,
          }
        : null,
      home: home ? { id: home.id, hash: home.hash, blocks: home.blocks } : null,
    };
  }

  // ------------------------------------------------------------ change events (Server-Sent Events)

  const streams = new Set<ServerResponse>();
  let lastSent = 0;
  let pending: NodeJS.Timeout | undefined;
  function notify(): void {
    if (pending) return;
    pending = setTimeout(
      () => {
        pending = undefined;
        lastSent = Date.now();
        for (const res of streams) res.write('event: change\ndata: {}\n\n');
      },
      Math.max(0, lastSent + MIN_EVENT_GAP_MS - Date.now()),
    );
  }
  const unsubscribe = slack.onChange(() => {
    observe();
    notify();
  });
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  function openStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', ...SECURITY_HEADERS });
    // Reconnect quickly; the first event makes a (re)connected page fetch the state it missed.
    res.write('retry: 1000\n\nevent: change\ndata: {}\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
  }

  // ------------------------------------------------------------ what the user does

  async function command(body: Record<string, unknown>): Promise<unknown> {
    const text = stringField(body, 'text').trim();
    const fields = slack.slashCommand({ channel_id: channel.id, channel_name: channel.name, user_id: user.id, user_name: user.name, command: '/kdebug', text });
    let answer;
    try {
      answer = await sendSlashCommand(botEventsUrl, signingSecret, fields, { timeoutMs: SLASH_COMMAND_TIMEOUT_MS });
    } catch (err) {
      throw new HttpError(502, `kdebug's bot is not answering at ${botEventsUrl} (${fetchProblem(err)})`);
    }
    if (answer.status !== 200) throw new HttpError(502, `kdebug's bot answered HTTP ${answer.status} at ${botEventsUrl}: ${answer.body.slice(0, 300)}`);
    if (answer.body.trim() !== '') {
      // Bolt answers an ack with a message as JSON; Slack shows it to the user only.
      let reply: unknown;
      try {
        reply = JSON.parse(answer.body);
      } catch {
        reply = { text: answer.body };
      }
      if (isRecord(reply) && reply.response_type === 'in_channel') {
        // Slack posts an in_channel answer for everyone to see, as the app.
        slack.addMessage(channel.id, {
          user: slack.botUserId,
          text: typeof reply.text === 'string' ? reply.text : '',
          ...(Array.isArray(reply.blocks) ? { blocks: reply.blocks } : {}),
        });
      } else if (isRecord(reply) && (typeof reply.text === 'string' || Array.isArray(reply.blocks))) {
        const ack = { id: `a-${acks.length + 1}`, text: typeof reply.text === 'string' ? reply.text : '', ...(Array.isArray(reply.blocks) ? { blocks: reply.blocks } : {}) };
        acks.push(ack);
        stamp(ack);
        notify();
      }
    }
    return { ok: true };
  }

  /** The view the user has in front of them (modal or Home), or a 404. */
  function visibleView(viewId: string) {
    const view = slack.openModal(user.id)?.id === viewId ? slack.openModal(user.id) : slack.homeView(user.id)?.id === viewId ? slack.homeView(user.id) : undefined;
    if (!view) throw new HttpError(404, `there is no view ${viewId} in front of ${user.name}`);
    return view;
  }

  async function click(body: Record<string, unknown>): Promise<unknown> {
    const actionId = stringField(body, 'actionId', { max: 255 });
    if (body.viewId !== undefined) {
      const view = visibleView(stringField(body, 'viewId', { max: 255 }));
      if (!hasButton(view.blocks, actionId)) throw new HttpError(404, `view ${view.id} has no button ${actionId}`);
      await slack.clickButton({ viewId: view.id, user: user.id, actionId, values: valuesField(body) }).catch((err: unknown) => {
        throw emulatorError(err, botEventsUrl);
      });
      return { ok: true };
    }
    const where = stringField(body, 'channel', { optional: true }) || channel.id;
    const messageTs = stringField(body, 'messageTs', { max: 64 });
    const message = where === channel.id || where === dmId ? slack.message(where, messageTs) : undefined;
    if (!message || message.deleted) throw new HttpError(404, `there is no message ${messageTs} in ${where}`);
    if (!hasButton(message.blocks, actionId)) throw new HttpError(404, `message ${messageTs} has no button ${actionId}`);
    await slack.clickButton({ channel: where, messageTs, user: user.id, actionId }).catch((err: unknown) => {
      throw emulatorError(err, botEventsUrl);
    });
    return { ok: true };
  }

  async function options(body: Record<string, unknown>): Promise<unknown> {
    const view = visibleView(stringField(body, 'viewId', { max: 255 }));
    const actionId = stringField(body, 'actionId', { max: 255 });
    // The view's state goes along, as in Slack's block_suggestion (the builder's pods follow its namespace).
    const { [actionId]: _typing, ...values } = valuesField(body);
    const answer = await slack.requestOptions({ viewId: view.id, actionId, value: stringField(body, 'value', { optional: true }), user: user.id, values }).catch((err: unknown) => {
      throw emulatorError(err, botEventsUrl);
    });
    return { ok: true, ...answer };
  }

  async function submit(body: Record<string, unknown>): Promise<unknown> {
    const view = visibleView(stringField(body, 'viewId', { max: 255 }));
    if (view.type !== 'modal') throw new HttpError(400, 'a Home tab has no Submit');
    const submission = await slack.submitView({ viewId: view.id, user: user.id, values: valuesField(body) }).catch((err: unknown) => {
      throw emulatorError(err, botEventsUrl);
    });
    if (submission.action === 'errors') viewErrors.set(view.id, { hash: view.hash, errors: submission.errors ?? {} });
    else viewErrors.delete(view.id);
    notify();
    return { ok: true, action: submission.action, ...(submission.errors ? { errors: submission.errors } : {}) };
  }

  async function closeView(body: Record<string, unknown>): Promise<unknown> {
    const viewId = stringField(body, 'viewId', { max: 255 });
    if (slack.openModal(user.id)?.id !== viewId) throw new HttpError(404, `there is no modal view ${viewId} open`);
    await slack.closeView({ viewId, user: user.id, all: body.all === true }).catch((err: unknown) => {
      throw emulatorError(err, botEventsUrl);
    });
    viewErrors.delete(viewId);
    return { ok: true };
  }

  async function openHome(): Promise<unknown> {
    await slack.openAppHome(user.id).catch((err: unknown) => {
      throw emulatorError(err, botEventsUrl);
    });
    return { ok: true };
  }

  function download(id: string, res: ServerResponse): void {
    const file = slack.file(id);
    // Only what was shared where this user can see it, and only once its bytes arrived.
    if (!file?.bytes || !file.channel || !isMine({ channel: file.channel })) throw new HttpError(404, `there is no file ${id}`);
    const ext = file.name.includes('.') ? (file.name.split('.').at(-1) ?? '').toLowerCase() : '';
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': FILE_TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': String(file.bytes.length),
      'Content-Disposition': contentDisposition(file.name),
    });
    res.end(file.bytes);
  }

  // ------------------------------------------------------------ routing

  const posts: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    '/api/command': command,
    '/api/click': click,
    '/api/options': options,
    '/api/submit': submit,
    '/api/close': closeView,
    '/api/home': () => openHome(),
  };

  /**
   * Requests must name a loopback host (not another name that resolves to loopback: DNS rebinding),
   * and a browser's must come from the page itself (the Origin matches the Host). Any port: the
   * page may be reached through a forwarded port.
   */
  function checkOrigin(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    if (!/^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?$/i.test(host)) throw new HttpError(403, 'this server answers only to 127.0.0.1 or localhost');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) throw new HttpError(403, 'cross-origin requests are not accepted');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkOrigin(req);
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const page = pages.get(pathname);
    if (page) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed here`);
      res.writeHead(200, { 'Content-Type': page.type, 'Content-Length': String(page.body.length), ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : page.body);
      return;
    }
    if (pathname === '/api/state') {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed here`);
      return sendJson(res, 200, state());
    }
    if (pathname === '/api/events') {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed here`);
      return openStream(req, res);
    }
    const file = /^\/files\/([^/]+)$/.exec(pathname);
    if (file) {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed here`);
      return download(decodeURIComponent(file[1]!), res);
    }
    const handler = posts[pathname];
    if (!handler) throw new HttpError(404, `no such page: ${pathname}`);
    if (req.method !== 'POST') throw new HttpError(405, `${pathname} takes POST`);
    sendJson(res, 200, await handler(await readJson(req)));
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const error = err instanceof HttpError ? err.message : `the playground page server failed: ${messageOf(err)}`;
      if (!res.headersSent) sendJson(res, status, { ok: false, error });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      unsubscribe();
      clearInterval(heartbeat);
      clearTimeout(pending);
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
