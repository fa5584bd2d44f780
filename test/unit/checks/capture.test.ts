import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CAPTURE_SCRIPT, captureCheck, type CaptureArgs } from '../../../src/checks/capture.js';
import { CaptureLogScanner, decodeCaptureLogSync, PCAP_BEGIN_LINE, PCAP_END_LINE, PCAP_SUMMARY_PREFIX, type CaptureLogResult } from '../../../src/checks/pcap/log-scanner.js';
import { PcapStreamParser } from '../../../src/checks/pcap/reader.js';
import { renderCaptureSummary } from '../../../src/checks/pcap/render.js';
import type { CheckContext, StepResult } from '../../../src/checks/types.js';
import { DecodedLog } from '../../../src/runner/decoded-log.js';
import { splitOutput } from '../../../src/runner/script.js';
import { recordedFixtures, type RecordedStep } from '../../support/fixtures.js';

interface Fixture extends RecordedStep {
  positional: string[];
  options: Record<string, string>;
  /** The config's `checks` section the recording ran with, e.g. { capture: { maxBytes: 1024 } }. */
  settings?: Record<string, unknown>;
  tcpdumpRead?: string;
}

const fixtures = recordedFixtures<Fixture>('capture');
const fixture = fixtures.read;

function fixtureArgs(f: Fixture): CaptureArgs {
  const parsed = captureCheck.parseArgs(f.positional, f.options);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.args;
}

function contextOf(f: Fixture) {
  return { settings: f.settings ?? {}, now: new Date('2026-01-01T00:00:00Z') };
}

/** The byte limit the check's decoder gets under the fixture's settings. */
function maxBytesOf(f: Fixture): number {
  return captureCheck.decoder!.maxBytes(contextOf(f));
}

function stepOf(f: Fixture, output = f.output, exitCode = f.exitCode): StepResult {
  return { id: 'capture', argv: f.command, exitCode, output };
}

/** The bytes between the begin and end lines, decoded by Node's own base64 in one go: the reference. */
function regionBytes(output: string): Buffer {
  const lines = output.split('\n');
  const start = lines.indexOf(PCAP_BEGIN_LINE);
  const end = lines.indexOf(PCAP_END_LINE);
  return Buffer.from(lines.slice(start + 1, end).join(''), 'base64');
}

/** A small deterministic PRNG, so a failing chunking can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function chunked(data: Buffer, random: () => number, max: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const size = 1 + Math.floor(random() * max);
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

class Collector extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function streamDecode(chunks: Array<Buffer | string>, maxBytes: number): Promise<{ pcap: Buffer; result: CaptureLogResult }> {
  const sink = new Collector();
  const decoder = new DecodedLog(new CaptureLogScanner({ maxBytes }), { sink });
  await pipeline(
    (async function* () {
      yield* chunks;
    })(),
    decoder,
  );
  return { pcap: sink.bytes(), result: decoder.result() };
}

// ---------------------------------------------------------------------------------------------
// Synthetic packets for the link types tcpdump on Linux does not produce with -i any

function ipv4(src: number[], dst: number[], protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = protocol;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  const bytes = (text: string) => {
    const [head = '', tail = ''] = text.split('::');
    const a = head ? head.split(':') : [];
    const b = tail ? tail.split(':') : [];
    const groups = [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b];
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]));
  };
  bytes(src).copy(h, 8);
  bytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

function udp(sport: number, dport: number, data = Buffer.from('x')): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

function tcp(sport: number, dport: number, flags: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 0x50;
  h[13] = flags;
  return h;
}

function ethernet(ethertype: number, payload: Buffer, vlan?: number): Buffer {
  const macs = Buffer.alloc(12, 0x02);
  const tag = vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, vlan >> 8, vlan & 255]);
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethertype);
  return Buffer.concat([macs, tag, type, payload]);
}

function sll(ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(4, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ethertype, 14);
  return Buffer.concat([h, payload]);
}

function pcapFile(linkType: number, packets: Buffer[], opts: { bigEndian?: boolean; nano?: boolean; start?: number } = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const u32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const header = Buffer.alloc(24);
  u32(header, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  if (be) {
    header.writeUInt16BE(2, 4);
    header.writeUInt16BE(4, 6);
  } else {
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
  }
  u32(header, 262144, 16);
  u32(header, linkType, 20);
  const records = packets.map((p, i) => {
    const r = Buffer.alloc(16);
    u32(r, (opts.start ?? 1_700_000_000) + i, 0);
    u32(r, opts.nano ? 500_000_000 : 500_000, 4);
    u32(r, p.length, 8);
    u32(r, p.length, 12);
    return Buffer.concat([r, p]);
  });
  return Buffer.concat([header, ...records]);
}

function asLog(pcap: Buffer, before = 'preamble\n', after = 'tcpdump: listening on any\n'): string {
  const b64 = pcap
    .toString('base64')
    .replace(/(.{76})/g, '$1\n')
    .replace(/\n$/, '');
  return `${before}${PCAP_BEGIN_LINE}\n${b64}\n${PCAP_END_LINE}\n${after}`;
}

// ---------------------------------------------------------------------------------------------

describe('captureCheck.parseArgs', () => {
  const usage = /Usage: `\/kdebug capture <target> \[bpf filter…\] \[--duration 30s\] \[--packets N\]`/;

  test.each<[string, string[], Record<string, string>, CaptureArgs]>([
    ['no filter, no options', [], {}, {}],
    ['words join into one filter', ['tcp', 'port', '443', 'and', 'host', '10.0.0.7'], {}, { filter: 'tcp port 443 and host 10.0.0.7' }],
    ['BPF operators and brackets', ['tcp[tcpflags]', '&', 'tcp-syn', '!=', '0'], {}, { filter: 'tcp[tcpflags] & tcp-syn != 0' }],
    ['a filter with quotes and a semicolon stays one argument', ["host 'x';", 'rm', '-rf'], {}, { filter: "host 'x'; rm -rf" }],
    ['--duration in seconds', ['udp'], { duration: '45' }, { filter: 'udp', durationSeconds: 45 }],
    ['--duration as 1m30s', [], { duration: '1m30s' }, { durationSeconds: 90 }],
    ['--packets', [], { packets: '200' }, { packets: 200 }],
    ['options given with dashes', [], { '--duration': '10s', '--packets': '5' }, { durationSeconds: 10, packets: 5 }],
    ['512 characters', ['a'.repeat(512)], {}, { filter: 'a'.repeat(512) }],
  ])('accepts %s', (_label, positional, options, args) => {
    expect(captureCheck.parseArgs(positional, options)).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['a filter over 512 characters', ['a'.repeat(513)], {}, /513 characters long; at most 512/],
    ['a leading dash (a tcpdump option)', ['-w', '/tmp/x'], {}, /starts with `-`/],
    ['a newline', ['port\n53'], {}, /U\+000A/],
    ['a NUL byte', ['port\u000053'], {}, /U\+0000/],
    ['DEL', ['port\u007f'], {}, /U\+007F/],
    ['non-ASCII', ['host', 'café'], {}, /contains `é`/],
    ['a smart quote', ['host', '“x”'], {}, /contains `“`/],
    ['an unreadable duration', [], { duration: 'soon' }, /Can't read `--duration soon`/],
    ['a zero duration', [], { duration: '0s' }, /too short/],
    ['a duration over an hour', [], { duration: '2h' }, /too long: at most 60m/],
    ['zero packets', [], { packets: '0' }, /from 1 to 10,000,000/],
    ['a negative packet count', [], { packets: '-5' }, /from 1 to 10,000,000/],
    ['a non-numeric packet count', [], { packets: 'lots' }, /whole number/],
    ['too many packets', [], { packets: '10000001' }, /from 1 to 10,000,000/],
    ['an unknown option', [], { interface: 'eth0' }, /no option `--interface`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = captureCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('captureCheck.steps', () => {
  test('the script is a constant with the user values as positional parameters', () => {
    expect(CAPTURE_SCRIPT).toBe(
      [
        'exec 3>&1',
        "printf '%s\\n' 'kdebug-pcap-base64 begin'",
        'log=$( { { timeout "$1" tcpdump -i any -p --immediate-mode -s 65535 -B 16384 -U -w - -c "$2" -- "$3" 2>&4 3>&- 4>&-; echo "kdebug-tcpdump-exit $?" >&4; } | head -c "$4" | base64 >&3; } 4>&1 2>&1 )',
        `printf '%s\\n' 'kdebug-pcap-base64 end' "$log"`,
        'rc=${log##*kdebug-tcpdump-exit }',
        'rc=${rc%%[!0-9]*}',
        'exit "${rc:-1}"',
      ].join('\n'),
    );
  });

  test('defaults come from the settings: default duration, max packets, max bytes', () => {
    expect(captureCheck.steps({})).toEqual([{ id: 'capture', argv: ['sh', '-c', CAPTURE_SCRIPT, 'capture', '30', '10000', '', String(20 * 1024 * 1024)] }]);
  });

  test('user values within the limits, the filter as one argv element', () => {
    const filter = "host 10.0.0.7 and port 443; echo 'pwned' $(id)";
    expect(captureCheck.steps({ filter, durationSeconds: 20, packets: 50 })[0]?.argv).toEqual([
      'sh',
      '-c',
      CAPTURE_SCRIPT,
      'capture',
      '20',
      '50',
      filter,
      String(20 * 1024 * 1024),
    ]);
  });

  test("values over the installation's limits are clamped to them", () => {
    const context: CheckContext = { settings: { capture: { defaultSeconds: 10, maxSeconds: 60, maxPackets: 500, maxBytes: 4096 } }, now: new Date() };
    expect(captureCheck.steps({ durationSeconds: 600, packets: 100000 }, context)[0]?.argv.slice(3)).toEqual(['capture', '60', '500', '', '4096']);
    expect(captureCheck.steps({}, context)[0]?.argv.slice(3)).toEqual(['capture', '10', '500', '', '4096']);
  });

  test('asks for NET_RAW only', () => {
    expect(captureCheck.capabilities).toEqual(['NET_RAW']);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    expect(fixtures.files.length).toBeGreaterThanOrEqual(10);
    for (const file of fixtures.files) {
      const f = fixture(file);
      expect({ file, argv: captureCheck.steps(fixtureArgs(f), contextOf(f))[0]?.argv }).toEqual({ file, argv: f.command });
    }
  });
});

describe('captureCheck.interpret over recorded tcpdump output', () => {
  const table: Array<[file: string, verdict: string, headline: RegExp, facts: Record<string, unknown>]> = [
    [
      'ok-udp-tcp.json',
      'ok',
      /^Captured 15 packets matching `udp port 7777 or tcp port 8080` over 0\.\d s; busiest 10\.213\.\d+\.\d+:\d+ → 10\.213\.\d+\.\d+:8080 TCP \(10\); ran the full 3s$/,
      { packets: 15, tcpdumpCaptured: 15, tcpdumpExit: 124, linkType: 'LINUX_SLL2', protocols: 'TCP 10, UDP 5', stopped: 'ran the full 3s' },
    ],
    [
      'ok-busybox.json',
      'ok',
      /^Captured 5 packets matching `udp port 7777` over 0\.\d s; busiest 10\.213\.\d+\.\d+:\d+ → 10\.213\.\d+\.\d+:7777 UDP \(5\); ran the full 2s$/,
      { packets: 5, tcpdumpCaptured: 5, tcpdumpExit: 0, stopped: 'ran the full 2s' },
    ],
    [
      'ok-packet-limit.json',
      'ok',
      /^Captured 3 packets matching `udp port 7777` over 0\.\d s; busiest .* UDP \(3\); stopped at the 3-packet limit$/,
      { packets: 3, tcpdumpCaptured: 3, tcpdumpExit: 0, packetLimit: 3 },
    ],
    [
      'ok-byte-limit.json',
      'ok',
      /^Captured 8 packets matching `icmp` over 0\.\d s; busiest 10\.213\.\d+\.\d+ → 10\.213\.\d+\.\d+ ICMP \(8\); stopped at the 1\.0 KiB size limit$/,
      { packets: 8, pcapBytes: 24 + 8 * 120, droppedTrailingBytes: 40, sizeLimit: '1.0 KiB' },
    ],
    ['no-packets.json', 'no-packets', /^No packets matching `udp port 7999` in 2s$/, { tcpdumpCaptured: 0, tcpdumpExit: 124, packets: 0 }],
    [
      'permission-denied-no-net-raw.json',
      'permission-denied',
      /^tcpdump was not allowed to capture \(any: You don't have permission to perform this capture on that device\): the debug container needs the NET_RAW capability/,
      { tcpdumpExit: 1 },
    ],
    [
      'permission-denied-drop-user.json',
      'permission-denied',
      /^tcpdump opened the capture but could not switch to user 'tcpdump' \(Operation not permitted\): .*SETUID and SETGID/,
      { tcpdumpExit: 1 },
    ],
    ['invalid-filter-syntax.json', 'invalid-filter', /^tcpdump rejected the filter `tcp port and`: can't parse filter expression: syntax error$/, { tcpdumpExit: 1 }],
    ['invalid-filter-unknown-port.json', 'invalid-filter', /^tcpdump rejected the filter `tcp port nosuchservice`: unknown port 'nosuchservice'$/, { tcpdumpExit: 1 }],
    ['failed-no-tcpdump.json', 'failed', /^tcpdump did not capture \(exit 127\): timeout: failed to run command .tcpdump.: No such file or directory$/, { tcpdumpExit: 127 }],
  ];

  test.each(table)('%s → %s (raw output, decoded in memory)', (file, verdict, headline, facts) => {
    const f = fixture(file);
    const finding = captureCheck.interpret(fixtureArgs(f), [stepOf(f)], contextOf(f));
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headline);
    expect(finding.facts).toMatchObject(facts);
    expect(Object.keys(captureCheck.verdicts)).toContain(finding.verdict);
  });

  test.each(table)('%s → %s (the worker path: whole log streamed, split, interpreted)', async (file, verdict, headline, facts) => {
    const f = fixture(file);
    const marker = 'KDEBUG-0123456789abcdef01234567';
    const log = `${marker} begin capture\n${f.output}\n${marker} end capture ${f.exitCode}\n`;
    const { result } = await streamDecode(chunked(Buffer.from(log), prng(7), 50), maxBytesOf(f));
    expect(result.text).not.toMatch(/^[A-Za-z0-9+/]{76}$/m);
    const [step] = splitOutput(result.text, [{ id: 'capture', argv: f.command }], marker);
    expect(step?.exitCode).toBe(f.exitCode);
    const finding = captureCheck.interpret(fixtureArgs(f), [step!], contextOf(f));
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toMatch(headline);
    expect(finding.facts).toMatchObject(facts);
  });

  test('the reply shows the summary instead of base64 or JSON', () => {
    const f = fixture('ok-udp-tcp.json');
    const finding = captureCheck.interpret(fixtureArgs(f), [stepOf(f)], contextOf(f));
    const output = finding.steps[0]?.output ?? '';
    expect(output).not.toContain(PCAP_SUMMARY_PREFIX);
    expect(output).not.toMatch(/^[A-Za-z0-9+/]{76}$/m);
    expect(output).toContain('[pcap data left out of this text; the summary follows]');
    expect(output).toMatch(/^15 packets \(.* on the wire\) over 0\.\d s · link type LINUX_SLL2/m);
    expect(output).toContain('15 packets captured');
  });

  test('a capture cut off by the job deadline still yields what arrived', () => {
    const f = fixture('ok-udp-tcp.json');
    const cut = f.output.slice(0, f.output.indexOf(PCAP_END_LINE) - 200);
    const finding = captureCheck.interpret(fixtureArgs(f), [stepOf(f, cut, null)], contextOf(f));
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toMatch(/; cut off at the job deadline$/);
    expect(Number(finding.facts.packets)).toBeGreaterThan(0);
    expect(Number(finding.facts.packets)).toBeLessThan(15);
  });

  test('no output at all', () => {
    const finding = captureCheck.interpret({}, [{ id: 'capture', argv: [], exitCode: null, output: '' }]);
    expect(finding.verdict).toBe('failed');
    expect(finding.headline).toBe('The capture did not start before the job ended');
  });

  test('never throws on junk', () => {
    for (const output of ['', '\u0000\u0001', `${PCAP_BEGIN_LINE}\n!!!!\n`, `${PCAP_SUMMARY_PREFIX}{"packets":"x"}`, `${PCAP_SUMMARY_PREFIX}{broken`]) {
      expect(() => captureCheck.interpret({}, [{ id: 'capture', argv: [], exitCode: 0, output }])).not.toThrow();
    }
    expect(() => captureCheck.interpret(undefined as unknown as CaptureArgs, undefined as unknown as StepResult[])).not.toThrow();
  });
});

describe('pcap stream decoder', () => {
  const f = fixture('ok-udp-tcp.json');
  const reference = regionBytes(f.output);

  test('the reference pcap is what tcpdump wrote: header, 15 records, nothing after', () => {
    expect(reference.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(reference.readUInt32LE(20)).toBe(276);
  });

  test.each([1, 2, 3, 7, 64, 1000, 100000])('fed in random chunks of up to %i bytes, writes identical bytes', async (max) => {
    const { pcap, result } = await streamDecode(chunked(Buffer.from(f.output), prng(max), max), 1 << 20);
    expect(pcap.equals(reference)).toBe(true);
    expect(result.summary.fileBytes).toBe(reference.length);
    expect(result.summary.decodedBytes).toBe(reference.length);
    expect(result.summary).toMatchObject({ found: true, complete: true, capped: false, droppedTrailingBytes: 0, packets: 15 });
  });

  test('strings cut anywhere, CRLF line ends and multi-byte characters around the region', async () => {
    const log = `héllo “quoted” ✓\r\n${f.output.replace(/\n/g, '\r\n')}tail ‘x’\r\n`;
    const random = prng(99);
    const strings: string[] = [];
    for (let at = 0; at < log.length;) {
      const size = 1 + Math.floor(random() * 9);
      strings.push(log.slice(at, at + size));
      at += size;
    }
    const { pcap, result } = await streamDecode(strings, 1 << 20);
    expect(pcap.equals(reference)).toBe(true);
    expect(result.text.startsWith('héllo “quoted” ✓\r\n')).toBe(true);
    expect(result.text).toContain('tail ‘x’');
  });

  test('multi-byte characters split between Buffer chunks survive in the text', async () => {
    const log = Buffer.from(`✓✓✓\n${f.output}ünïcödé\n`);
    const { result } = await streamDecode(chunked(log, prng(5), 2), 1 << 20);
    expect(result.text.startsWith('✓✓✓\n')).toBe(true);
    expect(result.text).toContain('ünïcödé');
  });

  test('the text keeps everything but the base64, which becomes one summary line', () => {
    const { text, summary } = decodeCaptureLogSync(f.output, { maxBytes: 1 << 20 });
    const lines = text.split('\n');
    expect(lines[0]).toBe(PCAP_BEGIN_LINE);
    expect(lines[1]?.startsWith(PCAP_SUMMARY_PREFIX)).toBe(true);
    expect(JSON.parse(lines[1]!.slice(PCAP_SUMMARY_PREFIX.length))).toEqual(summary);
    expect(lines[2]).toBe(PCAP_END_LINE);
    expect(lines.slice(3).join('\n')).toBe(f.output.slice(f.output.indexOf(PCAP_END_LINE) + PCAP_END_LINE.length + 1));
  });

  test('the byte cap keeps a prefix of whole records, so the file stays readable', () => {
    for (const cap of [10, 24, 30, 100, 500, reference.length - 1]) {
      const { pcap, summary } = decodeCaptureLogSync(f.output, { maxBytes: cap });
      expect(summary.capped).toBe(true);
      expect(summary.decodedBytes).toBe(cap);
      expect(reference.subarray(0, pcap.length).equals(pcap)).toBe(true);
      expect(pcap.length + summary.droppedTrailingBytes).toBe(cap);
      // What was written parses to the end without leftovers.
      const check = new PcapStreamParser();
      check.push(pcap);
      expect(check.finish()).toBe(0);
      expect(check.stats.packets).toBe(summary.packets);
    }
  });

  test('a log cut inside the base64 (container killed) keeps the whole records', () => {
    const cut = f.output.slice(0, f.output.indexOf(PCAP_END_LINE) - 123);
    const { pcap, summary } = decodeCaptureLogSync(cut, { maxBytes: 1 << 20 });
    expect(summary.complete).toBe(false);
    expect(summary.droppedTrailingBytes).toBeGreaterThan(0);
    expect(reference.subarray(0, pcap.length).equals(pcap)).toBe(true);
    expect(summary.packets).toBeLessThan(15);
  });

  test('data that is not base64 stops the decoding, with a reason', () => {
    const bad = f.output.replace(/\n([A-Za-z0-9+/]{10})/, '\n$1*');
    const { summary } = decodeCaptureLogSync(bad, { maxBytes: 1 << 20 });
    expect(summary.error).toMatch(/contains "\*", which is not base64/);
    expect(summary.fileBytes).toBeLessThan(reference.length);
  });

  test('data that is not a pcap passes through unchanged, unsummarized', () => {
    const junk = Buffer.from('this is not a pcap file at all, just text that is long enough');
    const { pcap, summary } = decodeCaptureLogSync(asLog(junk), { maxBytes: 1 << 20 });
    expect(pcap.equals(junk)).toBe(true);
    expect(summary.error).toMatch(/does not start with a pcap header/);
    expect(summary.packets).toBe(0);
  });

  test('no region at all: the text is the log, the summary says not found', () => {
    const { text, summary, pcap } = decodeCaptureLogSync('sh: tcpdump: not found\n', { maxBytes: 1024 });
    expect(text).toBe('sh: tcpdump: not found\n');
    expect(summary.found).toBe(false);
    expect(pcap.length).toBe(0);
    expect(renderCaptureSummary(summary)).toMatch(/No pcap data/);
  });

  test('a huge log line outside the region is kept bounded', () => {
    const scanner = new CaptureLogScanner({ maxBytes: 1024, maxTextBytes: 4096 });
    for (let i = 0; i < 100; i++) scanner.push('x'.repeat(10_000));
    scanner.push('\nlast line\n');
    scanner.end();
    const { text } = scanner.result();
    expect(text.length).toBeLessThan(4096 + 2048);
    expect(text).toMatch(/\[kdebug: \d+ bytes of log left out\]/);
    expect(text.endsWith('last line\n')).toBe(true);
  });

  test('backpressure: a slow sink gets every byte in order', async () => {
    const big = pcapFile(
      1,
      Array.from({ length: 3000 }, (_, i) => ethernet(0x0800, ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, udp(1000 + (i % 7), 53, Buffer.alloc(200, i & 255))))),
    );
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        received.push(Buffer.from(chunk));
        setImmediate(cb);
      },
    });
    const decoder = new DecodedLog(new CaptureLogScanner({ maxBytes: 1 << 24 }), { sink: slow });
    const log = Buffer.from(asLog(big));
    await pipeline(
      (async function* () {
        yield* chunked(log, prng(3), 4096);
      })(),
      decoder,
    );
    expect(Buffer.concat(received).equals(big)).toBe(true);
    expect(decoder.result().summary.packets).toBe(3000);
  });
});

describe("the check's output decoder", () => {
  test('declares a .pcap "packet capture" bounded by the capture settings\' maxBytes', () => {
    const decoder = captureCheck.decoder!;
    expect({ extension: decoder.extension, title: decoder.title }).toEqual({ extension: 'pcap', title: 'packet capture' });
    expect(decoder.maxBytes()).toBe(20 * 1024 * 1024);
    expect(decoder.maxBytes({ settings: { capture: { maxBytes: 4096 } }, now: new Date() })).toBe(4096);
  });

  test('each run gets a fresh decoder that writes what decoding in memory gives', async () => {
    const f = fixture('ok-udp-tcp.json');
    const reference = decodeCaptureLogSync(f.output, { maxBytes: 1 << 20 });
    for (let run = 0; run < 2; run++) {
      const sink = new Collector();
      const log = new DecodedLog(captureCheck.decoder!.create(1 << 20), { sink });
      await pipeline(
        (async function* () {
          yield* chunked(Buffer.from(f.output), prng(run), 300);
        })(),
        log,
      );
      expect(sink.bytes().equals(reference.pcap)).toBe(true);
      expect(log.result()).toEqual({ text: reference.text, summary: reference.summary, hasContent: true });
    }
  });

  test('a capture without packets is only the 24-byte pcap header: nothing worth attaching', () => {
    const none = decodeCaptureLogSync(fixture('no-packets.json').output, { maxBytes: 1 << 20 });
    expect(none.pcap.length).toBe(24);
    expect(none.summary).toMatchObject({ found: true, complete: true, packets: 0, fileBytes: 24 });
    expect(none.hasContent).toBe(false);
    expect(decodeCaptureLogSync('sh: tcpdump: not found\n', { maxBytes: 1024 }).hasContent).toBe(false);
    // Anything past the header is kept: packets, or data that is not a pcap at all.
    expect(decodeCaptureLogSync(fixture('ok-byte-limit.json').output, { maxBytes: 1024 }).hasContent).toBe(true);
    expect(decodeCaptureLogSync(asLog(Buffer.from('not a pcap, but kept as it came')), { maxBytes: 1024 }).hasContent).toBe(true);
  });
});

describe('pcap summary', () => {
  /** Parses `tcpdump -r -nn -tt` lines: time, then (SLL2) interface and direction, then the packet. */
  function readTcpdump(text: string) {
    const packets = text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const m = /^(\d+\.\d+) .*? IP (\S+) > (\S+): (.*)$/.exec(line);
        if (!m) throw new Error(`unexpected tcpdump line: ${line}`);
        const rest = m[4] ?? '';
        const proto = rest.startsWith('UDP') ? 'UDP' : rest.startsWith('ICMP') ? 'ICMP' : rest.startsWith('Flags') ? 'TCP' : '?';
        // With ports, tcpdump prints address.port.
        const split = (text: string) => (proto === 'TCP' || proto === 'UDP' ? /^(.*)\.(\d+)$/.exec(text)!.slice(1) : [text, undefined]);
        const [src, srcPort] = split(m[2]!);
        const [dst, dstPort] = split(m[3]!);
        return { time: Number(m[1]), src: src!, srcPort, dst: dst!, dstPort, proto };
      });
    return packets;
  }

  test.each(['ok-udp-tcp.json', 'ok-busybox.json', 'ok-packet-limit.json', 'ok-byte-limit.json'])('%s: numbers match what tcpdump -r printed', (file) => {
    const f = fixture(file);
    const { summary } = decodeCaptureLogSync(f.output, { maxBytes: maxBytesOf(f) });
    const packets = readTcpdump(f.tcpdumpRead ?? '');
    expect(summary.packets).toBe(packets.length);
    expect(summary.firstTimeMs! / 1000).toBeCloseTo(packets[0]!.time, 5);
    expect(summary.lastTimeMs! / 1000).toBeCloseTo(packets[packets.length - 1]!.time, 5);

    // Conversations: both directions of a flow count together.
    const expected = new Map<string, number>();
    for (const p of packets) {
      const a = `${p.src}:${p.srcPort ?? ''}`;
      const b = `${p.dst}:${p.dstPort ?? ''}`;
      const key = `${p.proto} ${[a, b].sort().join(' ')}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const got = new Map(summary.conversations.map((c) => [`${c.proto} ${[`${c.src}:${c.srcPort ?? ''}`, `${c.dst}:${c.dstPort ?? ''}`].sort().join(' ')}`, c.packets]));
    expect(got).toEqual(expected);
    expect(summary.conversationCount).toBe(expected.size);
    const byProto: Record<string, number> = {};
    for (const p of packets) byProto[p.proto] = (byProto[p.proto] ?? 0) + 1;
    expect(summary.protocols).toEqual(byProto);
  });

  test('ok-udp-tcp: the client side is the one that sent the SYN, ports name the service side', () => {
    const f = fixture('ok-udp-tcp.json');
    const { summary } = decodeCaptureLogSync(f.output, { maxBytes: 1 << 20 });
    const tcpConversation = summary.conversations.find((c) => c.proto === 'TCP');
    expect(tcpConversation?.dstPort).toBe(8080);
    expect(summary.conversations.find((c) => c.proto === 'UDP')?.dstPort).toBe(7777);
    expect(summary.ports.map((p) => `${p.port}/${p.proto} ${p.packets}`)).toEqual(['8080/tcp 10', '7777/udp 5']);
    const text = renderCaptureSummary(summary);
    expect(text).toMatch(/^15 packets \(\d+\.\d KiB on the wire\) over 0\.\d s · link type LINUX_SLL2 · pcap file \d+\.\d KiB$/m);
    expect(text).toContain('Protocols: TCP 10, UDP 5');
    expect(text).toMatch(/^• 10\.213\.\d+\.\d+:\d+ → 10\.213\.\d+\.\d+:8080 TCP: 10 packets, \d+ B$/m);
    expect(text).toMatch(/^• 8080\/tcp: 10 packets/m);
  });

  test('Ethernet with a VLAN tag, microseconds, little-endian', () => {
    const file = pcapFile(1, [
      ethernet(0x0800, ipv4([10, 0, 0, 9], [10, 0, 0, 1], 6, tcp(40000, 443, 0x02)), 42),
      ethernet(0x0800, ipv4([10, 0, 0, 1], [10, 0, 0, 9], 6, tcp(443, 40000, 0x12)), 42),
      ethernet(0x0806, Buffer.alloc(28)),
    ]);
    const { summary } = decodeCaptureLogSync(asLog(file), { maxBytes: 1 << 20 });
    expect(summary).toMatchObject({ linkType: 1, linkTypeName: 'EN10MB', packets: 3, nanosecond: false, protocols: { TCP: 2, ARP: 1 }, durationMs: 2000 });
    expect(summary.conversations).toEqual([{ proto: 'TCP', src: '10.0.0.9', srcPort: 40000, dst: '10.0.0.1', dstPort: 443, packets: 2, bytes: 2 * (18 + 40) }]);
  });

  test('LINUX_SLL, big-endian, nanoseconds', () => {
    const file = pcapFile(113, [sll(0x0800, ipv4([192, 168, 1, 2], [8, 8, 8, 8], 17, udp(5353, 53)))], { bigEndian: true, nano: true });
    const { summary } = decodeCaptureLogSync(asLog(file), { maxBytes: 1 << 20 });
    expect(summary).toMatchObject({ linkTypeName: 'LINUX_SLL', nanosecond: true, packets: 1, firstTimeMs: 1_700_000_000_500 });
    expect(summary.conversations[0]).toMatchObject({ proto: 'UDP', src: '192.168.1.2', srcPort: 5353, dst: '8.8.8.8', dstPort: 53 });
  });

  test('RAW IPv6 (101 and 229) with a hop-by-hop extension header', () => {
    const hopByHop = Buffer.concat([Buffer.from([6, 0]), Buffer.alloc(6)]);
    const packet = ipv6('fd00::2', 'fd00:10:96::a', 0, Buffer.concat([hopByHop, tcp(51000, 80, 0x02)]));
    for (const linkType of [101, 229]) {
      const { summary } = decodeCaptureLogSync(asLog(pcapFile(linkType, [packet])), { maxBytes: 1 << 20 });
      expect(summary.conversations[0]).toMatchObject({ proto: 'TCP', src: 'fd00::2', srcPort: 51000, dst: 'fd00:10:96::a', dstPort: 80 });
      expect(renderCaptureSummary(summary)).toContain('[fd00::2]:51000 → [fd00:10:96::a]:80 TCP');
    }
  });

  test('RAW IPv4 (228) and loopback NULL (0), ICMP without ports', () => {
    const icmp = ipv4([127, 0, 0, 1], [127, 0, 0, 2], 1, Buffer.alloc(8));
    const nullHeader = Buffer.from([2, 0, 0, 0]);
    for (const [linkType, packet] of [
      [228, icmp],
      [0, Buffer.concat([nullHeader, icmp])],
    ] as const) {
      const { summary } = decodeCaptureLogSync(asLog(pcapFile(linkType, [packet])), { maxBytes: 1 << 20 });
      expect(summary.conversations).toEqual([{ proto: 'ICMP', src: '127.0.0.1', dst: '127.0.0.2', packets: 1, bytes: packet.length }]);
      expect(summary.ports).toEqual([]);
    }
  });

  test('without a SYN, the lower port is taken as the service side', () => {
    const file = pcapFile(228, [ipv4([10, 0, 0, 1], [10, 0, 0, 9], 6, tcp(5432, 51111, 0x18)), ipv4([10, 0, 0, 9], [10, 0, 0, 1], 6, tcp(51111, 5432, 0x10))]);
    const { summary } = decodeCaptureLogSync(asLog(file), { maxBytes: 1 << 20 });
    expect(summary.conversations[0]).toMatchObject({ src: '10.0.0.9', srcPort: 51111, dst: '10.0.0.1', dstPort: 5432, packets: 2 });
    expect(summary.ports).toEqual([{ proto: 'tcp', port: 5432, packets: 2, bytes: 80 }]);
  });

  test('memory stays bounded with many distinct conversations: the table is pruned, counts marked approximate', () => {
    const packets: Buffer[] = [];
    // One heavy flow, then 5000 one-packet flows (a scan).
    for (let i = 0; i < 50; i++) packets.push(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, udp(40000, 53)));
    for (let i = 0; i < 5000; i++) packets.push(ipv4([10, 0, 0, 1], [10, 1, i >> 8, i & 255], 6, tcp(40001, 1 + (i % 1000), 0x02)));
    const parser = new PcapStreamParser({ maxConversations: 64, top: 5 });
    parser.push(pcapFile(228, packets));
    const table = parser.conversationTable();
    expect(table.approximate).toBe(true);
    expect(table.conversations).toHaveLength(5);
    expect(table.conversations[0]).toMatchObject({ proto: 'UDP', dstPort: 53, packets: 50 });
    expect(table.conversationCount).toBe(5001);
    expect((parser as unknown as { table: { conversations: Map<string, unknown> } }).table.conversations.size).toBeLessThanOrEqual(64);
  });
});

test('live progress: packets so far and seconds left of the capture’s own duration', () => {
  const check = captureCheck;
  expect(check.liveProgress!({ durationSeconds: 20 }, { elapsedSeconds: 6.4, decoded: { packets: 1 } })).toBe('capturing: 1 packet so far, 14 s left');
  expect(check.liveProgress!({}, { elapsedSeconds: 40, decoded: { packets: 1234 } })).toBe('capturing: 1,234 packets so far, 0 s left');
  expect(check.liveProgress!({ durationSeconds: 10 }, { elapsedSeconds: 0 })).toBe('capturing: 0 packets so far, 10 s left');
});
