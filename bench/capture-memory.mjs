// Benchmark: decoding a packet capture streamed through a container log (base64 lines between
// markers, as the capture check produces them) into a .pcap file. Goal: memory stays flat however
// large the capture; the figure to watch is the heap growth, which must not grow with the size.
//
//   node --expose-gc bench/capture-memory.mjs [megabytes…]
//
// Prints, per capture size: decode throughput, peak heap growth (sampled after forced GCs) and
// peak RSS growth.
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'node:module';

// kdebug's modules from src/ (dist/ is one bundle, with no module to import on its own).
register('./support/ts-hooks.mjs', import.meta.url);
const { CaptureLogScanner, PCAP_BEGIN_LINE, PCAP_END_LINE } = await import('../src/checks/pcap/log-scanner.ts');
const { DecodedLog } = await import('../src/runner/decoded-log.ts');

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc so heap figures are measured after collection');
  process.exit(2);
}

/** One Ethernet/IPv4/UDP packet record of `payload` bytes, as tcpdump -w writes it. */
function packet(i, payload) {
  const frame = Buffer.alloc(14 + 20 + 8 + payload);
  frame.writeUInt16BE(0x0800, 12); // IPv4
  frame[14] = 0x45;
  frame.writeUInt16BE(20 + 8 + payload, 16);
  frame[23] = 17; // UDP
  frame.writeUInt32BE(0x0a000001 + (i % 50), 26); // 10.0.0.1+ → 10.0.1.1
  frame.writeUInt32BE(0x0a000101, 30);
  frame.writeUInt16BE(40000 + (i % 50), 34);
  frame.writeUInt16BE(9999, 36);
  frame.writeUInt16BE(8 + payload, 38);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), 0);
  header.writeUInt32LE((i % 1000) * 1000, 4);
  header.writeUInt32LE(frame.length, 8);
  header.writeUInt32LE(frame.length, 12);
  return Buffer.concat([header, frame]);
}

function globalHeader() {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20); // Ethernet
  return h;
}

/** Yields the container log of a capture of about `bytes`, in 64 KiB chunks, without holding it. */
function* captureLog(bytes) {
  yield `${PCAP_BEGIN_LINE}\n`;
  let pending = globalHeader();
  let written = 0;
  let i = 0;
  while (written < bytes) {
    while (pending.length < 48 * 1024) pending = Buffer.concat([pending, packet(i++, 1200)]);
    const take = pending.length - (pending.length % 57); // 57 bytes → one 76-column base64 line
    const chunk = pending.subarray(0, take);
    pending = pending.subarray(take);
    written += chunk.length;
    yield `${chunk.toString('base64').replace(/.{76}/g, '$&\n')}\n`;
  }
  if (pending.length) yield `${pending.toString('base64')}\n`;
  yield `${PCAP_END_LINE}\nkdebug-tcpdump-exit 0\n`;
}

async function run(megabytes) {
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-'));
  const path = join(dir, 'capture.pcap');
  globalThis.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;
  let peakHeap = 0;
  let peakRss = 0;
  let sinceSample = 0;
  const decoder = new DecodedLog(new CaptureLogScanner({ maxBytes: megabytes * 1024 * 1024 * 2 }), { sink: createWriteStream(path) });
  const started = process.hrtime.bigint();
  for (const chunk of captureLog(megabytes * 1024 * 1024)) {
    if (!decoder.write(chunk)) await new Promise((resolve) => decoder.once('drain', resolve));
    sinceSample += chunk.length;
    if (sinceSample >= 1024 * 1024) {
      sinceSample = 0;
      globalThis.gc();
      const usage = process.memoryUsage();
      peakHeap = Math.max(peakHeap, usage.heapUsed - heapBefore);
      peakRss = Math.max(peakRss, usage.rss - rssBefore);
    }
  }
  decoder.end();
  const result = await decoder.done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const size = statSync(path).size;
  rmSync(dir, { recursive: true, force: true });
  const mib = (n) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `capture ${String(megabytes).padStart(3)} MB: pcap ${mib(size)} MiB, ${result.summary.packets} packets, ` +
      `${(size / 1024 / 1024 / seconds).toFixed(0)} MiB/s, peak heap growth ${mib(peakHeap)} MiB, peak RSS growth ${mib(peakRss)} MiB`,
  );
}

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
for (const megabytes of sizes.length ? sizes : [5, 20, 80]) await run(megabytes);
