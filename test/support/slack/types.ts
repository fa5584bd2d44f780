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
