// Reads a classic pcap file (what tcpdump -w writes) pushed in pieces of any size: the 24-byte
// file header, then records of a 16-byte header and the captured bytes. Written here rather than
// taken from npm: only this framing is needed, and the npm readers buffer whole files or pull in a
// full dissector.
import { ConversationTable, type ConversationSnapshot, type ConversationTableOptions } from './conversations.js';
import { dissect, DISSECT_BYTES } from './dissect.js';

/** The pcap file header's size: what a capture without a single packet consists of. */
export const PCAP_HEADER_BYTES = 24;
/** Records larger than this are taken as corruption (tcpdump's largest snapshot length is 256 KiB). */
const MAX_RECORD_BYTES = 1024 * 1024;

export type PcapStreamParserOptions = ConversationTableOptions;

export interface PcapStats {
  /** Set from the file header. */
  linkType?: number;
  snaplen?: number;
  nanosecond?: boolean;
  packets: number;
  /** Sum of the records' original (on the wire) lengths. */
  wireBytes: number;
  /** Epoch milliseconds of the earliest and latest packet. */
  firstTimeMs?: number;
  lastTimeMs?: number;
  /** Packets per protocol: TCP, UDP, ICMP, ICMPv6, SCTP, ARP, "IP proto N", other. */
  protocols: Record<string, number>;
  /** Bytes handed back by push(): the file as written so far. */
  emittedBytes: number;
  /** What went wrong with the data itself: not a pcap, a corrupt record. */
  error?: string;
}

/**
 * push() returns the bytes that are safe to write out: everything up to the end of the last whole
 * record. A record is held back until it is complete, so whatever was written is always a readable
 * pcap, byte for byte what tcpdump wrote. Data that is not a pcap, or a record that cannot be one,
 * switches the reader to pass-through: the bytes still go out unchanged, only the summary stops.
 */
export class PcapStreamParser {
  private queue: Buffer[] = [];
  private queued = 0;
  private headerDone = false;
  private passthrough = false;
  private littleEndian = true;
  private readonly table: ConversationTable;
  readonly stats: PcapStats = { packets: 0, wireBytes: 0, protocols: {}, emittedBytes: 0 };

  constructor(options: PcapStreamParserOptions = {}) {
    this.table = new ConversationTable(options);
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
        if (this.queued - cursor < PCAP_HEADER_BYTES) break;
        if (!this.readHeader(this.peek(cursor, PCAP_HEADER_BYTES))) return this.emitAll();
        cursor += PCAP_HEADER_BYTES;
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

  /**
   * Whether the bytes written hold anything besides a pcap file header: packets, or data kept
   * unsummarized. A capture that saw no packet is just the header, not worth a file.
   */
  hasContent(): boolean {
    return this.stats.emittedBytes > (this.headerDone ? PCAP_HEADER_BYTES : 0);
  }

  conversationTable(): ConversationSnapshot {
    return this.table.snapshot();
  }

  private readHeader(h: Buffer): boolean {
    const magic = h.readUInt32LE(0);
    if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.littleEndian = true;
    else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.littleEndian = false;
    else {
      this.stats.error =
        magic === 0x0a0d0d0a ? 'the data is pcapng, not pcap; it was kept but not summarized' : 'the data does not start with a pcap header; it was kept but not summarized';
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
    this.table.add(info, wireLength);
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
