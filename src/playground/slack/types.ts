// Shapes the emulator stores and exposes to tests.

/** One version of a message's content; `message().history` holds them oldest first. */
export interface MessageVersion {
  text: string;
  blocks?: unknown[];
  /** Set on versions produced by chat.update: the edit's own ts, as in Slack's `edited.ts`. */
  editedTs?: string;
}

export interface StoredFileRef {
  id: string;
  name: string;
  title: string;
  size: number;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  /** Present on thread replies (the root's ts). Roots never carry it here. */
  thread_ts?: string;
  user: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  files?: StoredFileRef[];
  /** Message metadata (`metadata` on chat.postMessage), returned with include_all_metadata. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** Every version including the current one, oldest first. */
  history: MessageVersion[];
  deleted: boolean;
}

export interface StoredEphemeral {
  channel: string;
  user: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  message_ts: string;
}

export interface StoredFile {
  id: string;
  name: string;
  title: string;
  /** `length` declared to files.getUploadURLExternal. */
  declaredLength: number;
  /** Exact bytes received at the upload URL; undefined until uploaded. */
  bytes?: Buffer;
  completed: boolean;
  /** Where files.completeUploadExternal shared it, if anywhere. */
  channel?: string;
  thread_ts?: string;
  initial_comment?: string;
}

export interface ApiCall {
  /** Web API method name, or the pseudo-methods 'upload_url' and 'response_url'. */
  method: string;
  /** Decoded arguments (token removed). Complex values stay as the JSON strings that were sent. */
  args: Record<string, unknown>;
  /** Epoch milliseconds when the request arrived. */
  time: number;
  /** HTTP status and body the emulator answered with. */
  status: number;
  response: unknown;
}

export interface ResponseUrlPost {
  id: string;
  channel: string;
  userId: string;
  /** The message whose button gave out this URL (a slash command's has none). */
  messageTs?: string;
  /** Parsed JSON body (text, blocks, response_type, replace_original, delete_original...). */
  body: Record<string, unknown>;
  time: number;
  /** What the emulator answered: 200, or 404 once the URL is used up. */
  status: number;
}

export interface ChannelOptions {
  botIsMember: boolean;
  /** Users in the channel; when omitted, every user counts as a member. */
  members?: string[];
  name?: string;
  isPrivate?: boolean;
}

export interface ChannelState extends ChannelOptions {
  id: string;
}

/** An injected failure, consumed one per matching request. */
export type Fault =
  | { status: 429; retryAfter: number; delayMs?: number }
  | { status: 500 | 502 | 503 | 504; delayMs?: number }
  | { error: string; delayMs?: number }
  /** Answers normally, only late (for timeout tests). */
  | { delayMs: number };

export interface SocketAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export type ViewType = 'modal' | 'home';

interface PlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}

/** A view as Slack returns it from views.* and puts it in payloads. */
export interface SlackView {
  id: string;
  team_id: string;
  type: ViewType;
  title: PlainText | null;
  submit: PlainText | null;
  close: PlainText | null;
  /** As the app sent them, with the block_id/action_id Slack fills in where there was none. */
  blocks: Array<Record<string, unknown>>;
  private_metadata: string;
  callback_id: string;
  external_id: string;
  /** Filled in view_submission payloads: `{ [block_id]: { [action_id]: { type, value | selected_option | selected_options } } }`. */
  state: { values: Record<string, Record<string, unknown>> };
  hash: string;
  clear_on_close: boolean;
  notify_on_close: boolean;
  root_view_id: string | null;
  previous_view_id: string | null;
  app_id: string;
  bot_id: string;
}

/** What a user action sent the app and what the app answered. */
export interface Interaction {
  /** The payload exactly as delivered (for a replay, or to look at what the app was told). */
  payload: Record<string, unknown>;
  /** The app's answer: its HTTP response body or its Socket Mode ack payload, parsed; undefined when empty. */
  answer: Record<string, unknown> | undefined;
  /** The trigger_id in the payload: views.open/push take it once, within 3 s. */
  triggerId: string;
  /** The response_url in the payload (message buttons only). */
  responseUrl?: string;
}

/** How a modal ended up after a submission, from the app's response_action. */
export interface Submission {
  payload: Record<string, unknown>;
  /** 'close' when the app answered nothing (the submitted view closes). */
  action: 'close' | 'errors' | 'update' | 'push' | 'clear';
  /** response_action 'errors': the message under each input, by block_id. */
  errors?: Record<string, string>;
  /** The view the user sees now ('update', 'push', or the view under a closed one). */
  view?: SlackView;
}
