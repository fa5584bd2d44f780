// Slack's Socket Mode side: single-use tickets from apps.connections.open, the WebSocket
// upgrade, the `hello` handshake, envelopes out and acks back.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { SocketAck } from './types.js';

export const SOCKET_MODE_PATH = '/socket-mode';

interface PendingAck {
  resolve: (ack: SocketAck) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A text frame's UTF-8. ws hands over a Buffer, an ArrayBuffer or, for a message that came in
 * fragments, an array of Buffers: String() on that array would join the pieces with commas.
 */
function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export class SocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly pending = new Map<string, PendingAck>();
  /** Every ack received, in order, for assertions. */
  readonly acks: SocketAck[] = [];

  constructor(
    private readonly appId: string,
    private readonly onChange: () => void,
  ) {}

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Path + query for a fresh single-use connection URL, as apps.connections.open hands out. */
  issueTicket(): string {
    const ticket = randomBytes(16).toString('hex');
    this.tickets.add(ticket);
    return `${SOCKET_MODE_PATH}?ticket=${ticket}&app_id=${this.appId}`;
  }

  /** Hooked to the HTTP server's 'upgrade' event. Unknown or reused tickets are refused. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== SOCKET_MODE_PATH || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(textOf(data));
    });
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.onChange();
    });
    ws.on('error', () => ws.terminate());
    // The client only reports itself connected after this message, as with Slack.
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'applink-emulator-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    this.onChange();
  }

  private onMessage(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // Slack ignores junk frames too
    }
    if (typeof msg !== 'object' || msg === null || !('envelope_id' in msg)) return;
    const { envelope_id, payload } = msg as { envelope_id: unknown; payload?: unknown };
    if (typeof envelope_id !== 'string') return;
    const ack: SocketAck = { envelope_id };
    if (typeof payload === 'object' && payload !== null && Object.keys(payload).length > 0) {
      ack.payload = payload as Record<string, unknown>;
    }
    this.acks.push(ack);
    const waiter = this.pending.get(envelope_id);
    if (waiter) {
      this.pending.delete(envelope_id);
      clearTimeout(waiter.timer);
      waiter.resolve(ack);
    }
    this.onChange();
  }

  /**
   * Sends an envelope on the newest connection (Slack picks one of the app's connections) and
   * resolves with the client's ack, or rejects if none arrives in time (Slack waits 3s).
   */
  sendEnvelope(type: string, payload: Record<string, unknown>, timeoutMs: number, extra: Record<string, unknown> = {}): Promise<SocketAck> {
    const ws = [...this.sockets].at(-1);
    if (ws === undefined) return Promise.reject(new Error('no Socket Mode connection is open'));
    const envelope_id = randomUUID();
    return new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelope_id);
        reject(new Error(`no ack for ${type} envelope ${envelope_id} within ${timeoutMs}ms`));
      }, timeoutMs);
      this.pending.set(envelope_id, { resolve, reject, timer });
      ws.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: true, ...extra }));
    });
  }

  /** Asks clients to reconnect, as Slack does before recycling a server ('refresh_requested', 'warning'). */
  requestDisconnect(reason: string): void {
    for (const ws of this.sockets) {
      ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-emulator-1' } }));
    }
  }

  close(): Promise<void> {
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('Slack emulator stopped'));
    }
    this.pending.clear();
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
