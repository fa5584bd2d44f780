// Log text kept up to a limit: a container log can print anything, so memory must not follow it.

/** Text kept up to a limit: the start, then (once over the limit) a rolling window of the end. */
export class BoundedText {
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
