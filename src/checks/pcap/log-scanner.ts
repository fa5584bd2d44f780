// The capture check's pcap comes back through the container log, never through exec: the step
// prints a begin line, tcpdump's pcap as base64 lines, an end line, then tcpdump's own messages.
// The scanner turns such a log back into the pcap bytes and a short summary, incrementally: it is
// fed log chunks cut anywhere (even mid-line or mid-character) and returns the pcap bytes to write,
// keeping memory flat however large the capture (at most one partial log line, one partial pcap
// record and a bounded table of conversations are ever held). It does no I/O: the runner's
// DecodedLog (src/runner/decoded-log.ts) writes what it returns to a file.
import type { IncrementalDecoder } from '../types.js';
import { BoundedText } from './bounded-text.js';
import type { ConversationStat, PortStat } from './conversations.js';
import { LINK_TYPE_NAMES } from './dissect.js';
import { PcapStreamParser, type PcapStats, type PcapStreamParserOptions } from './reader.js';

/** Printed by the capture step before the base64 pcap. Base64 has no '-' or ' ', so no data line can look like it. */
export const PCAP_BEGIN_LINE = 'kdebug-pcap-base64 begin';
export const PCAP_END_LINE = 'kdebug-pcap-base64 end';
/** In the decoder's text output, one line in place of the base64 body: this prefix, then the summary as JSON. */
export const PCAP_SUMMARY_PREFIX = 'kdebug-pcap-summary ';

/** Longest log line held while waiting for its newline; base64 lines are 76 characters. */
const MAX_LINE_BYTES = 64 * 1024;
const DEFAULT_MAX_TEXT_BYTES = 256 * 1024;

export interface PcapSummary extends Omit<PcapStats, 'emittedBytes'> {
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
  /** The pcap header's link type, by name. */
  linkTypeName?: string;
  durationMs: number;
  /** Busiest conversations first (at most `top`). */
  conversations: ConversationStat[];
  /** Distinct conversations seen (approximate when `approximate`). */
  conversationCount: number;
  /** Busiest service-side ports first (at most `top`). */
  ports: PortStat[];
  /** True when the conversation table overflowed and its smallest entries were dropped. */
  approximate: boolean;
}

export interface CaptureLogResult {
  /**
   * The log with the base64 body replaced by one `kdebug-pcap-summary {json}` line: small, and what
   * splitOutput and the check's interpret() expect. Lines outside the body are kept verbatim (up to
   * maxTextBytes, then the start and the end are kept).
   */
  text: string;
  summary: PcapSummary;
  /** The pcap holds packets (or data kept unsummarized), not just its file header: worth attaching. */
  hasContent: boolean;
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

/** push() log chunks, get back pcap bytes to write, in order; end(), then result(). */
export class CaptureLogScanner implements IncrementalDecoder<CaptureLogResult> {
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

  progress(): { packets: number } {
    return { packets: this.parser.stats.packets };
  }

  result(): CaptureLogResult {
    const summary = this.summary();
    let text = this.before.toString();
    if (this.state !== 'before') {
      text += `${PCAP_SUMMARY_PREFIX}${JSON.stringify(summary)}\n`;
      if (summary.complete) text += `${PCAP_END_LINE}\n`;
      text += this.after.toString();
    }
    return { text, summary, hasContent: this.parser.hasContent() };
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

/** The whole log at once, in memory: for small outputs, tests, and interpret()'s fallback. */
export function decodeCaptureLogSync(log: string | Buffer, options: CaptureLogScannerOptions): CaptureLogResult & { pcap: Buffer } {
  const scanner = new CaptureLogScanner(options);
  const parts = [...scanner.push(log), ...scanner.end()];
  return { ...scanner.result(), pcap: Buffer.concat(parts) };
}
