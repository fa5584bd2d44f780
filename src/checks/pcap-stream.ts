// The capture check's pcap comes back through the container log, never through exec: the step
// prints a begin line, tcpdump's pcap as base64 lines, an end line, then tcpdump's own messages.
// This module turns such a log back into the pcap file and a short summary, as a stream: it is fed
// log chunks cut anywhere (even mid-line or mid-character), writes the pcap to a sink the caller
// supplies, and keeps memory flat however large the capture (at most one partial log line, one
// partial pcap record and a bounded table of conversations are ever held).
//
// The pcap reader is written here rather than taken from npm: only the classic pcap file format
// is needed (tcpdump -w writes nothing else), its framing is a 24-byte header plus 16-byte record
// headers, and the summary needs just enough of the link, IP and TCP/UDP headers to name the
// endpoints. The npm readers buffer whole files or pull in a full dissector.
import { finished } from 'node:stream/promises';
import { Writable } from 'node:stream';

/** Printed by the capture step before the base64 pcap. Base64 has no '-' or ' ', so no data line can look like it. */
export const PCAP_BEGIN_LINE = 'kdebug-pcap-base64 begin';
export const PCAP_END_LINE = 'kdebug-pcap-base64 end';
/** In the decoder's text output, one line in place of the base64 body: this prefix, then the summary as JSON. */
export const PCAP_SUMMARY_PREFIX = 'kdebug-pcap-summary ';

/** Records larger than this are taken as corruption (tcpdump's largest snapshot length is 256 KiB). */
const MAX_RECORD_BYTES = 1024 * 1024;
/** Bytes of each packet the summary looks at: link header + IPv6 with extension headers + ports. */
const DISSECT_BYTES = 256;
/** Longest log line held while waiting for its newline; base64 lines are 76 characters. */
const MAX_LINE_BYTES = 64 * 1024;
const DEFAULT_TOP = 10;
const DEFAULT_MAX_CONVERSATIONS = 4096;
const DEFAULT_MAX_TEXT_BYTES = 256 * 1024;

export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL',
  1: 'EN10MB',
  101: 'RAW',
  108: 'LOOP',
  113: 'LINUX_SLL',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
};

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

export interface PcapSummary {
  /** Whether the begin line was seen at all. */
  found: boolean;
  /** Whether the end line was seen (false: the output stopped mid-capture, e.g. the container was killed). */
  complete: boolean;
  /** Bytes decoded from the base64 (at most maxBytes). */
  decodedBytes: number;
  /** Bytes written to the sink: the pcap header and every whole record. */
  fileBytes: number;
  /** A last record cut short (byte limit, or killed mid-write), left out so the file stays readable. */
  droppedTrailingBytes: number;
  /** The decoded data reached maxBytes. */
  capped: boolean;
  maxBytes: number;
  /** Set from the pcap header. */
  linkType?: number;
  linkTypeName?: string;
  snaplen?: number;
  nanosecond?: boolean;
  packets: number;
  /** Sum of the records' original (on the wire) lengths. */
  wireBytes: number;
  /** Epoch milliseconds of the earliest and latest packet. */
  firstTimeMs?: number;
  lastTimeMs?: number;
  durationMs: number;
  /** Packets per protocol: TCP, UDP, ICMP, ICMPv6, SCTP, ARP, "IP proto N", other. */
  protocols: Record<string, number>;
  /** Busiest conversations first (at most `top`). */
  conversations: ConversationStat[];
  /** Distinct conversations seen (approximate when `approximate`). */
  conversationCount: number;
  /** Busiest service-side ports first (at most `top`). */
  ports: PortStat[];
  /** True when the conversation table overflowed and its smallest entries were dropped. */
  approximate: boolean;
  /** What went wrong with the data itself: not base64, not a pcap, a corrupt record. */
  error?: string;
}

export interface CaptureLogResult {
  /**
   * The log with the base64 body replaced by one `kdebug-pcap-summary {json}` line: small, and what
   * splitOutput and the check's interpret() expect. Lines outside the body are kept verbatim (up to
   * maxTextBytes, then the start and the end are kept).
   */
  text: string;
  summary: PcapSummary;
}

// ---------------------------------------------------------------------------------------------
// Packet dissection (only what the summary needs)

interface PacketInfo {
  proto: string;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte, when the TCP header was captured. */
  tcpFlags?: number;
}

const IP_PROTOCOLS: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };
const PORT_PROTOCOLS = new Set([6, 17, 132]);

function ipv4Text(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as "::". */
function ipv6Text(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The network-layer protocol (an ethertype) and where its header starts, per link type. */
function networkLayer(linkType: number, b: Buffer): { ethertype: number; offset: number } | undefined {
  switch (linkType) {
    case 1: {
      if (b.length < 14) return undefined;
      let ethertype = b.readUInt16BE(12);
      let offset = 14;
      // 802.1Q / 802.1ad VLAN tags, at most two deep in practice.
      for (let tags = 0; tags < 4 && (ethertype === 0x8100 || ethertype === 0x88a8 || ethertype === 0x9100) && b.length >= offset + 4; tags++) {
        ethertype = b.readUInt16BE(offset + 2);
        offset += 4;
      }
      return { ethertype, offset };
    }
    case 113:
      return b.length >= 16 ? { ethertype: b.readUInt16BE(14), offset: 16 } : undefined;
    case 276:
      return b.length >= 20 ? { ethertype: b.readUInt16BE(0), offset: 20 } : undefined;
    case 101: {
      const version = (b[0] ?? 0) >> 4;
      if (version === 4) return { ethertype: 0x0800, offset: 0 };
      if (version === 6) return { ethertype: 0x86dd, offset: 0 };
      return undefined;
    }
    case 228:
      return { ethertype: 0x0800, offset: 0 };
    case 229:
      return { ethertype: 0x86dd, offset: 0 };
    case 0:
    case 108: {
      if (b.length < 4) return undefined;
      // DLT_NULL stores the address family in the writer's byte order, LOOP in network order.
      const families = linkType === 108 ? [b.readUInt32BE(0)] : [b.readUInt32LE(0), b.readUInt32BE(0)];
      for (const family of families) {
        if (family === 2) return { ethertype: 0x0800, offset: 4 };
        if (family === 10 || family === 24 || family === 28 || family === 30) return { ethertype: 0x86dd, offset: 4 };
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

function transport(info: PacketInfo, protocol: number, b: Buffer, l4: number, fragment: boolean): void {
  info.proto = IP_PROTOCOLS[protocol] ?? `IP proto ${protocol}`;
  if (fragment || !PORT_PROTOCOLS.has(protocol) || b.length < l4 + 4) return;
  info.srcPort = b.readUInt16BE(l4);
  info.dstPort = b.readUInt16BE(l4 + 2);
  if (protocol === 6 && b.length >= l4 + 14) info.tcpFlags = b[l4 + 13] ?? 0;
}

function dissect(linkType: number, b: Buffer): PacketInfo {
  const net = networkLayer(linkType, b);
  if (!net) return { proto: 'other' };
  const at = net.offset;
  if (net.ethertype === 0x0806) return { proto: 'ARP' };
  if (net.ethertype === 0x0800) {
    if (b.length < at + 20 || (b[at] ?? 0) >> 4 !== 4) return { proto: 'other' };
    const info: PacketInfo = { proto: 'IPv4', src: ipv4Text(b, at + 12), dst: ipv4Text(b, at + 16) };
    const headerLength = ((b[at] ?? 0) & 15) * 4;
    const fragmentOffset = b.readUInt16BE(at + 6) & 0x1fff;
    transport(info, b[at + 9] ?? 0, b, at + headerLength, fragmentOffset !== 0);
    return info;
  }
  if (net.ethertype === 0x86dd) {
    if (b.length < at + 40 || (b[at] ?? 0) >> 4 !== 6) return { proto: 'other' };
    const info: PacketInfo = { proto: 'IPv6', src: ipv6Text(b, at + 8), dst: ipv6Text(b, at + 24) };
    let next = b[at + 6] ?? 0;
    let l4 = at + 40;
    let fragment = false;
    // Extension headers: hop-by-hop, routing, destination options, fragment, authentication.
    for (let hops = 0; hops < 8 && b.length >= l4 + 8; hops++) {
      if (next === 0 || next === 43 || next === 60) {
        const length = ((b[l4 + 1] ?? 0) + 1) * 8;
        next = b[l4] ?? 0;
        l4 += length;
      } else if (next === 44) {
        fragment = (b.readUInt16BE(l4 + 2) & 0xfff8) !== 0;
        next = b[l4] ?? 0;
        l4 += 8;
      } else if (next === 51) {
        const length = ((b[l4 + 1] ?? 0) + 2) * 4;
        next = b[l4] ?? 0;
        l4 += length;
      } else {
        break;
      }
    }
    transport(info, next, b, l4, fragment);
    return info;
  }
  return { proto: 'other' };
}

// ---------------------------------------------------------------------------------------------
// Conversation and port tables, bounded

interface Conversation extends ConversationStat {
  /** Direction settled by a TCP SYN; otherwise a later SYN may still settle it. */
  settled: boolean;
}

function endpoint(host: string, port: number | undefined): string {
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

// ---------------------------------------------------------------------------------------------
// Incremental pcap reader

export interface PcapStreamParserOptions {
  /** Entries in the top conversation and port lists. */
  top?: number;
  /** Conversations tracked at once; past it the smallest half is forgotten. */
  maxConversations?: number;
}

/**
 * Reads a pcap file pushed in pieces of any size. push() returns the bytes that are safe to write
 * out: everything up to the end of the last whole record. A record is held back until it is
 * complete, so whatever was written is always a readable pcap, byte for byte what tcpdump wrote.
 * Data that is not a pcap, or a record that cannot be one, switches the reader to pass-through:
 * the bytes still go out unchanged, only the summary stops.
 */
export class PcapStreamParser {
  private queue: Buffer[] = [];
  private queued = 0;
  private headerDone = false;
  private passthrough = false;
  private littleEndian = true;
  private readonly top: number;
  private readonly maxConversations: number;
  private readonly conversations = new Map<string, Conversation>();
  private readonly portTable = new Map<string, PortStat>();
  private conversationsSeen = 0;
  private approximate = false;
  readonly stats: {
    linkType?: number;
    snaplen?: number;
    nanosecond?: boolean;
    packets: number;
    wireBytes: number;
    firstTimeMs?: number;
    lastTimeMs?: number;
    protocols: Record<string, number>;
    emittedBytes: number;
    error?: string;
  } = { packets: 0, wireBytes: 0, protocols: {}, emittedBytes: 0 };

  constructor(options: PcapStreamParserOptions = {}) {
    this.top = options.top ?? DEFAULT_TOP;
    this.maxConversations = Math.max(2, options.maxConversations ?? DEFAULT_MAX_CONVERSATIONS);
  }

  /** Takes the next bytes; returns the bytes now complete, in order, to write to the file. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    if (this.passthrough) return this.emitAll(chunk);
    this.queue.push(chunk);
    this.queued += chunk.length;

    let cursor = 0;
    for (;;) {
      if (!this.headerDone) {
        if (this.queued - cursor < 24) break;
        if (!this.readHeader(this.peek(cursor, 24))) return this.emitAll();
        cursor += 24;
        continue;
      }
      if (this.queued - cursor < 16) break;
      const header = this.peek(cursor, 16);
      const read = (at: number) => (this.littleEndian ? header.readUInt32LE(at) : header.readUInt32BE(at));
      const captured = read(8);
      if (captured > MAX_RECORD_BYTES) {
        this.stats.error = `record ${this.stats.packets + 1} claims ${captured} bytes; the rest of the file was not summarized`;
        return this.emitAll();
      }
      if (this.queued - cursor < 16 + captured) break;
      const seconds = read(0);
      const fraction = read(4);
      this.countPacket(seconds * 1000 + fraction / (this.stats.nanosecond ? 1e6 : 1e3), read(12), this.peek(cursor + 16, Math.min(captured, DISSECT_BYTES)));
      cursor += 16 + captured;
    }
    return this.take(cursor);
  }

  /** The input ended: bytes of an unfinished header or record are dropped (returned as a count). */
  finish(): number {
    const dropped = this.queued;
    if (!this.headerDone && !this.passthrough && dropped > 0) this.stats.error = `the data ended inside the pcap header (${dropped} bytes)`;
    this.queue = [];
    this.queued = 0;
    return dropped;
  }

  conversationTable(): { conversations: ConversationStat[]; conversationCount: number; ports: PortStat[]; approximate: boolean } {
    return {
      conversations: top(this.conversations.values(), this.top).map(({ settled: _settled, ...c }) => c),
      conversationCount: this.conversationsSeen,
      ports: top(this.portTable.values(), this.top).map((p) => ({ ...p })),
      approximate: this.approximate,
    };
  }

  private readHeader(h: Buffer): boolean {
    const magic = h.readUInt32LE(0);
    if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.littleEndian = true;
    else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.littleEndian = false;
    else {
      this.stats.error = magic === 0x0a0d0d0a ? 'the data is pcapng, not pcap; it was kept but not summarized' : 'the data does not start with a pcap header; it was kept but not summarized';
      return false;
    }
    this.stats.nanosecond = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
    this.stats.snaplen = this.littleEndian ? h.readUInt32LE(16) : h.readUInt32BE(16);
    // The link type is the low 16 bits; the high bits may carry FCS information.
    this.stats.linkType = (this.littleEndian ? h.readUInt32LE(20) : h.readUInt32BE(20)) & 0xffff;
    this.headerDone = true;
    return true;
  }

  private countPacket(timeMs: number, wireLength: number, head: Buffer): void {
    const s = this.stats;
    s.packets++;
    s.wireBytes += wireLength;
    if (s.firstTimeMs === undefined || timeMs < s.firstTimeMs) s.firstTimeMs = timeMs;
    if (s.lastTimeMs === undefined || timeMs > s.lastTimeMs) s.lastTimeMs = timeMs;
    const info = dissect(s.linkType ?? -1, head);
    const protoKey = info.proto === 'IPv4' || info.proto === 'IPv6' ? `other ${info.proto}` : info.proto;
    s.protocols[protoKey] = (s.protocols[protoKey] ?? 0) + 1;
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

  /** `length` bytes at `offset` of the queue, copied only when they span two chunks. */
  private peek(offset: number, length: number): Buffer {
    let skip = offset;
    for (let i = 0; i < this.queue.length; i++) {
      const part = this.queue[i]!;
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      if (skip + length <= part.length) return part.subarray(skip, skip + length);
      const pieces: Buffer[] = [part.subarray(skip)];
      let have = part.length - skip;
      for (let j = i + 1; j < this.queue.length && have < length; j++) {
        const next = this.queue[j]!;
        const piece = next.subarray(0, Math.min(next.length, length - have));
        pieces.push(piece);
        have += piece.length;
      }
      return Buffer.concat(pieces, have);
    }
    return Buffer.alloc(0);
  }

  /** Removes and returns the first `count` queued bytes. */
  private take(count: number): Buffer[] {
    const out: Buffer[] = [];
    let left = count;
    while (left > 0 && this.queue.length > 0) {
      const part = this.queue[0]!;
      if (part.length <= left) {
        out.push(part);
        this.queue.shift();
        left -= part.length;
      } else {
        out.push(part.subarray(0, left));
        this.queue[0] = part.subarray(left);
        left = 0;
      }
    }
    this.queued -= count;
    this.stats.emittedBytes += count;
    return out;
  }

  private emitAll(extra?: Buffer): Buffer[] {
    this.passthrough = true;
    const out = this.take(this.queued);
    if (extra) {
      out.push(extra);
      this.stats.emittedBytes += extra.length;
    }
    return out;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  const copy = { ...value } as Record<string, unknown>;
  for (const key of Object.keys(copy)) if (copy[key] === undefined) delete copy[key];
  return copy as T;
}

// ---------------------------------------------------------------------------------------------
// Log scanning: lines, the base64 region, the byte cap

/** Text kept up to a limit: the start, then (once over the limit) a rolling window of the end. */
class BoundedText {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private omitted = 0;

  constructor(private readonly limit: number) {}

  add(bytes: Buffer): void {
    const room = this.limit - this.headBytes;
    if (room > 0) {
      const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
      this.head.push(Buffer.from(part));
      this.headBytes += part.length;
      bytes = bytes.subarray(part.length);
    }
    if (bytes.length === 0) return;
    const tailLimit = Math.max(1024, Math.floor(this.limit / 4));
    const joined = Buffer.concat([this.tail, bytes]);
    const cut = Math.max(0, joined.length - tailLimit);
    this.omitted += cut;
    this.tail = Buffer.from(joined.subarray(cut));
  }

  toString(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    if (this.omitted === 0) return head + this.tail.toString('utf8');
    // Resume the end at a line start, so the reader never sees half a line.
    const newline = this.tail.indexOf(0x0a);
    const tail = newline >= 0 ? this.tail.subarray(newline + 1) : this.tail;
    const omitted = this.omitted + (this.tail.length - tail.length);
    return `${head}\n[kdebug: ${omitted} bytes of log left out]\n${tail.toString('utf8')}`;
  }
}

export interface CaptureLogScannerOptions extends PcapStreamParserOptions {
  /** Most pcap bytes to decode; anything after is dropped and the summary says `capped`. */
  maxBytes: number;
  /** Log text kept outside the base64 body (tcpdump's messages, step markers). */
  maxTextBytes?: number;
}

const BEGIN = Buffer.from(PCAP_BEGIN_LINE);
const END = Buffer.from(PCAP_END_LINE);
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * The synchronous core of the decoder: push() log chunks, get back pcap bytes to write, in order.
 * PcapLogDecoder wraps it as a Writable with backpressure; decodeCaptureLogSync() uses it in memory.
 */
export class CaptureLogScanner {
  private readonly parser: PcapStreamParser;
  private readonly maxBytes: number;
  private readonly before: BoundedText;
  private readonly after: BoundedText;
  private state: 'before' | 'inside' | 'after' = 'before';
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** The current line already went out as data in pieces (it was too long to hold). */
  private lineIsData = false;
  private pieces: Buffer[] = [];
  private carry = '';
  private padded = false;
  private decodedBytes = 0;
  private capped = false;
  private dataError?: string;
  private droppedTrailingBytes = 0;
  private ended = false;

  constructor(options: CaptureLogScannerOptions) {
    this.parser = new PcapStreamParser(options);
    this.maxBytes = Math.max(0, Math.floor(options.maxBytes));
    const textLimit = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
    this.before = new BoundedText(textLimit);
    this.after = new BoundedText(textLimit);
  }

  push(chunk: Buffer | string): Buffer[] {
    if (this.ended) throw new Error('CaptureLogScanner: push() after end()');
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: Buffer[] = [];
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline === -1) {
        this.holdPartial(bytes.subarray(start), out);
        break;
      }
      this.completeLine(bytes.subarray(start, newline), out);
      start = newline + 1;
    }
    this.decodePieces(out);
    return out;
  }

  /** The log ended. Returns the last pcap bytes; result() is valid from now on. */
  end(): Buffer[] {
    if (this.ended) return [];
    const out: Buffer[] = [];
    if (this.lineBytes > 0 || this.lineIsData) this.completeLine(Buffer.alloc(0), out, false);
    this.decodePieces(out);
    if (this.state === 'inside' && this.carry.length > 0 && !this.dataError) {
      // Killed mid-quantum: the 2 or 3 characters left still carry whole bytes.
      this.feed(Buffer.from(this.carry, 'base64'), out);
      this.carry = '';
    }
    this.droppedTrailingBytes = this.parser.finish();
    this.ended = true;
    return out;
  }

  result(): CaptureLogResult {
    const summary = this.summary();
    let text = this.before.toString();
    if (this.state !== 'before') {
      text += `${PCAP_SUMMARY_PREFIX}${JSON.stringify(summary)}\n`;
      if (summary.complete) text += `${PCAP_END_LINE}\n`;
      text += this.after.toString();
    }
    return { text, summary };
  }

  summary(): PcapSummary {
    const s = this.parser.stats;
    const table = this.parser.conversationTable();
    const summary: PcapSummary = {
      found: this.state !== 'before',
      complete: this.state === 'after',
      decodedBytes: this.decodedBytes,
      fileBytes: s.emittedBytes,
      droppedTrailingBytes: this.droppedTrailingBytes,
      capped: this.capped,
      maxBytes: this.maxBytes,
      packets: s.packets,
      wireBytes: s.wireBytes,
      durationMs: s.firstTimeMs !== undefined && s.lastTimeMs !== undefined ? s.lastTimeMs - s.firstTimeMs : 0,
      protocols: { ...s.protocols },
      ...table,
    };
    if (s.linkType !== undefined) {
      summary.linkType = s.linkType;
      summary.linkTypeName = LINK_TYPE_NAMES[s.linkType] ?? `link type ${s.linkType}`;
    }
    if (s.snaplen !== undefined) summary.snaplen = s.snaplen;
    if (s.nanosecond !== undefined) summary.nanosecond = s.nanosecond;
    if (s.firstTimeMs !== undefined) summary.firstTimeMs = s.firstTimeMs;
    if (s.lastTimeMs !== undefined) summary.lastTimeMs = s.lastTimeMs;
    const error = this.dataError ?? s.error;
    if (error) summary.error = error;
    return summary;
  }

  private holdPartial(bytes: Buffer, out: Buffer[]): void {
    this.line.push(Buffer.from(bytes));
    this.lineBytes += bytes.length;
    if (this.lineBytes <= MAX_LINE_BYTES) return;
    // Too long to be a marker line: let it through in pieces instead of holding it.
    const held = Buffer.concat(this.line, this.lineBytes);
    this.line = [];
    this.lineBytes = 0;
    if (this.state === 'inside') {
      this.pieces.push(held);
      this.lineIsData = true;
      this.decodePieces(out);
    } else {
      (this.state === 'before' ? this.before : this.after).add(held);
    }
  }

  private completeLine(last: Buffer, out: Buffer[], newline = true): void {
    const raw = this.lineBytes > 0 ? Buffer.concat([...this.line, last], this.lineBytes + last.length) : last;
    this.line = [];
    this.lineBytes = 0;
    const continued = this.lineIsData;
    this.lineIsData = false;
    // Compared and decoded without a CR (a CRLF log); kept verbatim as text.
    const line = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw;

    if (this.state === 'inside') {
      if (!continued && line.equals(END)) {
        this.decodePieces(out);
        this.state = 'after';
      } else if (line.length > 0) {
        this.pieces.push(line);
      }
      return;
    }
    const text = this.state === 'before' ? this.before : this.after;
    if (this.state === 'before' && !continued && line.equals(BEGIN)) {
      text.add(Buffer.from(`${PCAP_BEGIN_LINE}\n`));
      this.state = 'inside';
      return;
    }
    text.add(newline ? Buffer.concat([raw, Buffer.from('\n')]) : raw);
  }

  /** Decodes the base64 collected so far (whole 4-character groups), keeping the rest for later. */
  private decodePieces(out: Buffer[]): void {
    if (this.pieces.length === 0) return;
    const chars = this.carry + Buffer.concat(this.pieces).toString('latin1');
    this.pieces = [];
    this.carry = '';
    if (this.dataError) return;
    const bad = NOT_BASE64.exec(chars);
    const pad = chars.indexOf('=');
    if (bad || (this.padded && chars.length > 0) || (pad >= 0 && /[^=]/.test(chars.slice(pad)))) {
      this.dataError = bad
        ? `the pcap data contains ${JSON.stringify(bad[0])}, which is not base64; decoding stopped after ${this.decodedBytes} bytes`
        : `the pcap data goes on after base64 padding; decoding stopped after ${this.decodedBytes} bytes`;
      return;
    }
    if (pad >= 0) this.padded = true;
    const whole = chars.length - (chars.length % 4);
    this.carry = chars.slice(whole);
    if (whole > 0) this.feed(Buffer.from(chars.slice(0, whole), 'base64'), out);
  }

  private feed(decoded: Buffer, out: Buffer[]): void {
    if (this.capped || decoded.length === 0) return;
    const room = this.maxBytes - this.decodedBytes;
    let bytes = decoded;
    if (bytes.length >= room) {
      bytes = bytes.subarray(0, room);
      this.capped = true;
    }
    this.decodedBytes += bytes.length;
    for (const b of this.parser.push(bytes)) out.push(b);
  }
}

// ---------------------------------------------------------------------------------------------
// The streaming decoder

export interface PcapLogDecoderOptions extends CaptureLogScannerOptions {
  /** Where the pcap goes, e.g. fs.createWriteStream(path). Without one, only the summary is made. */
  sink?: NodeJS.WritableStream;
  /** End the sink when the log ends and wait until it has flushed (default true). */
  endSink?: boolean;
}

/**
 * A Writable that takes the container log (Buffers or strings, cut anywhere) and writes the pcap to
 * `sink`, honouring the sink's backpressure. After 'finish' (or `await decoder.done`), result()
 * gives the summary and the log text with the base64 replaced by one summary line.
 *
 *   const file = createWriteStream('/tmp/capture.pcap');
 *   const decoder = new PcapLogDecoder({ sink: file, maxBytes: settings.captureMaxBytes });
 *   await pipeline(logStream, decoder);               // or write()/end() by hand
 *   const { text, summary } = decoder.result();       // text → splitOutput → captureCheck.interpret
 */
export class PcapLogDecoder extends Writable {
  private readonly scanner: CaptureLogScanner;
  private readonly sink: NodeJS.WritableStream | undefined;
  private readonly endSink: boolean;
  private finalResult?: CaptureLogResult;
  /** Resolves with the result once the log has ended and the sink has flushed. */
  readonly done: Promise<CaptureLogResult>;

  constructor(options: PcapLogDecoderOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.scanner = new CaptureLogScanner(options);
    this.sink = options.sink;
    this.endSink = options.endSink ?? true;
    this.done = new Promise((resolve, reject) => {
      this.once('finish', () => resolve(this.result()));
      this.once('error', reject);
    });
    // Nobody may be awaiting `done`; the error still reaches 'error' listeners and pipeline().
    this.done.catch(() => undefined);
  }

  /** The summary and the text; valid once the stream has finished. */
  result(): CaptureLogResult {
    if (this.finalResult) return this.finalResult;
    throw new Error('PcapLogDecoder.result() is only available after the log has ended');
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let out: Buffer[];
    try {
      out = this.scanner.push(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.toSink(out).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const finish = async (): Promise<void> => {
      await this.toSink(this.scanner.end());
      if (this.sink && this.endSink) {
        this.sink.end();
        await finished(this.sink);
      }
      this.finalResult = this.scanner.result();
    };
    finish().then(() => callback(), callback);
  }

  private async toSink(out: Buffer[]): Promise<void> {
    const sink = this.sink;
    if (!sink || out.length === 0) return;
    let ok = true;
    for (const bytes of out) ok = sink.write(bytes) && ok;
    if (ok) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        sink.removeListener('drain', onDrain);
        sink.removeListener('error', onError);
        sink.removeListener('close', onClose);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onClose = () => {
        cleanup();
        reject(new Error('the pcap sink closed before the capture was written'));
      };
      sink.on('drain', onDrain);
      sink.on('error', onError);
      sink.on('close', onClose);
    });
  }
}

/** The whole log at once, in memory: for small outputs, tests, and interpret()'s fallback. */
export function decodeCaptureLogSync(log: string | Buffer, options: CaptureLogScannerOptions): CaptureLogResult & { pcap: Buffer } {
  const scanner = new CaptureLogScanner(options);
  const parts = [...scanner.push(log), ...scanner.end()];
  return { ...scanner.result(), pcap: Buffer.concat(parts) };
}

// ---------------------------------------------------------------------------------------------
// Rendering

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

export function formatConversation(c: ConversationStat): string {
  return `${endpoint(c.src, c.srcPort)} → ${endpoint(c.dst, c.dstPort)} ${c.proto}`;
}

/** The short text summary that goes with the .pcap file. Pure. */
export function renderCaptureSummary(summary: PcapSummary): string {
  const lines: string[] = [];
  if (!summary.found) return 'No pcap data in the output (tcpdump did not start writing).';
  const link = summary.linkTypeName ? ` · link type ${summary.linkTypeName}` : '';
  lines.push(`${plural(summary.packets, 'packet')} (${formatBytes(summary.wireBytes)} on the wire) over ${formatSeconds(summary.durationMs)}${link} · pcap file ${formatBytes(summary.fileBytes)}`);
  const protocols = Object.entries(summary.protocols).sort((a, b) => b[1] - a[1]);
  if (protocols.length > 0) lines.push(`Protocols: ${protocols.map(([p, n]) => `${p} ${n.toLocaleString('en-US')}`).join(', ')}`);
  if (summary.conversations.length > 0) {
    const shown = summary.conversations.length;
    const more = summary.conversationCount > shown ? ` (top ${shown} of ${summary.approximate ? 'about ' : ''}${summary.conversationCount.toLocaleString('en-US')})` : '';
    lines.push(`Top conversations${more}:`);
    for (const c of summary.conversations) lines.push(`• ${formatConversation(c)}: ${plural(c.packets, 'packet')}, ${formatBytes(c.bytes)}`);
  }
  if (summary.ports.length > 0) {
    lines.push('Top destination ports:');
    for (const p of summary.ports) lines.push(`• ${p.port}/${p.proto}: ${plural(p.packets, 'packet')}, ${formatBytes(p.bytes)}`);
  }
  if (summary.capped) lines.push(`Stopped at the ${formatBytes(summary.maxBytes)} size limit.`);
  if (summary.droppedTrailingBytes > 0) lines.push(`The last packet was cut short (${formatBytes(summary.droppedTrailingBytes)}) and left out of the file.`);
  if (!summary.complete) lines.push('The output ended before the capture did (the container stopped early); the file holds what arrived.');
  if (summary.approximate) lines.push('Counts are approximate: too many conversations to track them all.');
  if (summary.error) lines.push(`Problem with the data: ${summary.error}.`);
  return lines.join('\n');
}
