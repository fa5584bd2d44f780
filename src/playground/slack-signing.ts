// Builds and signs requests the way Slack's servers send them to an app's HTTP endpoint,
// so a real Bolt HTTPReceiver can be driven end to end (signature check included).
import { createHmac } from 'node:crypto';

/** Defaults shared with SlackEmulator so payloads and API answers agree on ids. */
export const SLACK_DEFAULTS = {
  teamId: 'T0KDEBUG01',
  teamDomain: 'kdebug-test',
  appId: 'A0KDEBUG01',
  botId: 'B0KDEBUG01',
  botUserId: 'U0KDEBUGBOT',
  /** The legacy verification token Slack still puts in payloads (apps check signatures instead). */
  verificationToken: 'legacyVerificationToken0',
} as const;

/** Fields of a slash command payload (form body over HTTP, `payload` object over Socket Mode). */
export interface SlashCommandFields {
  channel_id: string;
  user_id: string;
  command: string;
  text: string;
  /** Where respond() posts; use SlackEmulator.responseUrl() — never a real Slack URL. */
  response_url: string;
  token?: string;
  team_id?: string;
  team_domain?: string;
  channel_name?: string;
  user_name?: string;
  api_app_id?: string;
  is_enterprise_install?: 'true' | 'false';
  trigger_id?: string;
  enterprise_id?: string;
  enterprise_name?: string;
}

/** Every field Slack sends, in Slack's order, with defaults for the ones a test rarely cares about. */
export function slashCommandFields(fields: SlashCommandFields): Record<string, string> {
  const out: Record<string, string> = {
    token: fields.token ?? SLACK_DEFAULTS.verificationToken,
    team_id: fields.team_id ?? SLACK_DEFAULTS.teamId,
    team_domain: fields.team_domain ?? SLACK_DEFAULTS.teamDomain,
    channel_id: fields.channel_id,
    channel_name: fields.channel_name ?? (fields.channel_id.startsWith('D') ? 'directmessage' : 'general'),
    user_id: fields.user_id,
    user_name: fields.user_name ?? 'alice',
    command: fields.command,
    text: fields.text,
    api_app_id: fields.api_app_id ?? SLACK_DEFAULTS.appId,
    is_enterprise_install: fields.is_enterprise_install ?? 'false',
    response_url: fields.response_url,
    trigger_id: fields.trigger_id ?? `${Date.now()}.1234567890.${Math.random().toString(16).slice(2, 18)}`,
  };
  // Enterprise Grid fields only appear on Grid installs, as in Slack's payloads.
  if (fields.enterprise_id !== undefined) out.enterprise_id = fields.enterprise_id;
  if (fields.enterprise_name !== undefined) out.enterprise_name = fields.enterprise_name;
  return out;
}

/** The application/x-www-form-urlencoded body Slack POSTs for a slash command. */
export function slashCommandBody(fields: SlashCommandFields): string {
  return new URLSearchParams(slashCommandFields(fields)).toString();
}

/** `v0=` + hex HMAC-SHA256 over `v0:<timestamp>:<raw body>`, exactly as Slack signs. */
export function slackSignature(signingSecret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

export interface SignedRequestOptions {
  /** Sets X-Slack-Retry-Num (Slack's redelivery counter). */
  retryNum?: number;
  /** Sets X-Slack-Retry-Reason, e.g. 'http_timeout'. */
  retryReason?: string;
  /** Sign with a wrong secret so verification must fail. */
  badSignature?: boolean;
  /** Request timestamp in seconds; pass something older than 5 minutes to test staleness. */
  timestamp?: number;
  /** Abort the request after this many ms (default 10,000). */
  timeoutMs?: number;
}

export interface SignedResponse {
  status: number;
  body: string;
  elapsedMs: number;
}

/** The headers Slack sends with a signed request of `body` (for a client of one's own choosing). */
export function signedHeaders(signingSecret: string, body: string, contentType: string, opts: Omit<SignedRequestOptions, 'timeoutMs'> = {}): Record<string, string> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = opts.badSignature ? `${signingSecret}-wrong` : signingSecret;
  const headers: Record<string, string> = {
    'Content-Type': contentType,
    'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'X-Slack-Request-Timestamp': String(timestamp),
    'X-Slack-Signature': slackSignature(secret, timestamp, body),
  };
  if (opts.retryNum !== undefined) headers['X-Slack-Retry-Num'] = String(opts.retryNum);
  if (opts.retryReason !== undefined) headers['X-Slack-Retry-Reason'] = opts.retryReason;
  return headers;
}

/** POSTs a raw body signed as Slack would. Building block for slash commands, events, interactivity. */
export async function sendSignedRequest(url: string, signingSecret: string, body: string, contentType: string, opts: SignedRequestOptions = {}): Promise<SignedResponse> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: signedHeaders(signingSecret, body, contentType, opts),
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text, elapsedMs: performance.now() - started };
}

/** POSTs a signed slash command to a Bolt HTTP endpoint (e.g. http://127.0.0.1:PORT/slack/events). */
export function sendSlashCommand(url: string, signingSecret: string, fields: SlashCommandFields, opts: SignedRequestOptions = {}): Promise<SignedResponse> {
  return sendSignedRequest(url, signingSecret, slashCommandBody(fields), 'application/x-www-form-urlencoded', opts);
}
