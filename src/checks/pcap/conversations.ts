// The capture summary's conversation and port tables, bounded: a scan of thousands of flows must
// not grow memory with the capture, so past a limit the smaller half of the table is forgotten and
// the counts are marked approximate.
import type { PacketInfo } from './dissect.js';

export interface ConversationStat {
  /** "TCP", "UDP", "ICMP", "ICMPv6", "SCTP", or "IP proto N". */
  proto: string;
  /** The side that started it (TCP SYN), else the side not on the lower (service) port, else the first sender. */
  src: string;
  srcPort?: number;
  dst: string;
  dstPort?: number;
  /** Packets and wire bytes in both directions. */
  packets: number;
  bytes: number;
}

export interface PortStat {
  /** "tcp", "udp" or "sctp". */
  proto: string;
  port: number;
  packets: number;
  bytes: number;
}

export interface ConversationTableOptions {
  /** Entries in the top conversation and port lists. */
  top?: number;
  /** Conversations tracked at once; past it the smallest half is forgotten. */
  maxConversations?: number;
}

export interface ConversationSnapshot {
  /** Busiest conversations first (at most `top`). */
  conversations: ConversationStat[];
  /** Distinct conversations seen (approximate when `approximate`). */
  conversationCount: number;
  /** Busiest service-side ports first (at most `top`). */
  ports: PortStat[];
  /** True when the table overflowed and its smallest entries were dropped. */
  approximate: boolean;
}

const DEFAULT_TOP = 10;
const DEFAULT_MAX_CONVERSATIONS = 4096;

interface Conversation extends ConversationStat {
  /** Direction settled by a TCP SYN; otherwise a later SYN may still settle it. */
  settled: boolean;
}

/** "10.0.0.1:443", "[fd00::2]:80", or the bare address without a port. */
export function endpoint(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** Keeps the `limit` biggest entries of a map once it overflows (drops the smaller half). */
function prune<V extends { packets: number }>(map: Map<string, V>, limit: number): boolean {
  if (map.size <= limit) return false;
  const keep = [...map.entries()].sort((a, b) => b[1].packets - a[1].packets).slice(0, Math.floor(limit / 2));
  map.clear();
  for (const [k, v] of keep) map.set(k, v);
  return true;
}

function top<V extends { packets: number; bytes: number }>(values: Iterable<V>, n: number): V[] {
  return [...values].sort((a, b) => b.packets - a.packets || b.bytes - a.bytes).slice(0, n);
}

function withoutUndefined<T extends object>(value: T): T {
  const copy = { ...value } as Record<string, unknown>;
  for (const key of Object.keys(copy)) if (copy[key] === undefined) delete copy[key];
  return copy as T;
}

/** Both directions of a flow counted together, with the direction guessed as a person would read it. */
export class ConversationTable {
  private readonly top: number;
  private readonly maxConversations: number;
  private readonly conversations = new Map<string, Conversation>();
  private readonly portTable = new Map<string, PortStat>();
  private conversationsSeen = 0;
  private approximate = false;

  constructor(options: ConversationTableOptions = {}) {
    this.top = options.top ?? DEFAULT_TOP;
    this.maxConversations = Math.max(2, options.maxConversations ?? DEFAULT_MAX_CONVERSATIONS);
  }

  /** Counts one packet of `wireLength` bytes; packets without both addresses are not conversations. */
  add(info: PacketInfo, wireLength: number): void {
    if (info.src === undefined || info.dst === undefined) return;
    const a = endpoint(info.src, info.srcPort);
    const b = endpoint(info.dst, info.dstPort);
    const key = `${info.proto} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
    let conversation = this.conversations.get(key);
    const syn = info.tcpFlags !== undefined && (info.tcpFlags & 0x02) !== 0;
    const synAck = syn && ((info.tcpFlags ?? 0) & 0x10) !== 0;
    const forward = { src: info.src, srcPort: info.srcPort, dst: info.dst, dstPort: info.dstPort };
    const reverse = { src: info.dst, srcPort: info.dstPort, dst: info.src, dstPort: info.srcPort };
    if (!conversation) {
      let direction = forward;
      if (syn) direction = synAck ? reverse : forward;
      else if (info.srcPort !== undefined && info.dstPort !== undefined && info.srcPort < info.dstPort) direction = reverse;
      conversation = { proto: info.proto, ...withoutUndefined(direction), packets: 0, bytes: 0, settled: syn };
      this.conversations.set(key, conversation);
      this.conversationsSeen++;
      if (prune(this.conversations, this.maxConversations)) this.approximate = true;
    } else if (syn && !conversation.settled) {
      Object.assign(conversation, withoutUndefined(synAck ? reverse : forward), { settled: true });
      if (conversation.srcPort === undefined) delete conversation.srcPort;
    }
    conversation.packets++;
    conversation.bytes += wireLength;

    if (conversation.dstPort !== undefined) {
      const proto = info.proto.toLowerCase();
      const portKey = `${proto}/${conversation.dstPort}`;
      let port = this.portTable.get(portKey);
      if (!port) {
        port = { proto, port: conversation.dstPort, packets: 0, bytes: 0 };
        this.portTable.set(portKey, port);
        if (prune(this.portTable, this.maxConversations)) this.approximate = true;
      }
      port.packets++;
      port.bytes += wireLength;
    }
  }

  /** The busiest entries, as copies. */
  snapshot(): ConversationSnapshot {
    return {
      conversations: top(this.conversations.values(), this.top).map(({ settled: _settled, ...c }) => c),
      conversationCount: this.conversationsSeen,
      ports: top(this.portTable.values(), this.top).map((p) => ({ ...p })),
      approximate: this.approximate,
    };
  }
}
