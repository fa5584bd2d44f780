// The capture check against the real tools: the exact container command the worker builds
// (`timeout -s KILL N sh -c <script>` around the check's step argv) runs inside a per-pod network
// namespace while this test makes traffic; its output is streamed through the check's decoder the
// way the worker streams a container log, then split and interpreted.
//
// Oracles: a second tcpdump capturing the same filter straight into a file (`-w file`), `base64 -d`
// (coreutils) on the raw base64, and `tcpdump -r` reading the decoded file.
//
// Then the check's decoder as the two runners use it: the worker's job runner against the
// Kubernetes emulator (what goes into the outbox), and `kdebug run capture --local` (the file it
// leaves and the pcapFile fact); a capture without packets attaches nothing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { captureCheck, type CaptureArgs } from '../../src/checks/capture.js';
import { CaptureLogScanner, PCAP_BEGIN_LINE, PCAP_END_LINE, type CaptureLogResult } from '../../src/checks/pcap/log-scanner.js';
import { renderCaptureSummary } from '../../src/checks/pcap/render.js';
import type { CheckContext, Finding, Step } from '../../src/checks/types.js';
import type { AnswerOp } from '../../src/delivery/outbox.js';
import type { KubeClients } from '../../src/kube/client.js';
import type { DiagnosticJob } from '../../src/queue/job.js';
import { DecodedLog } from '../../src/runner/decoded-log.js';
import { newMarker, scriptCommand, splitOutput } from '../../src/runner/script.js';
import type { JobOutcome } from '../../src/worker/run-job.js';
import type { KubeEmulator } from '../../src/playground/kube-emulator.js';
import { createPodNetwork, netnsAvailable, type PodNetwork } from '../../src/playground/netns.js';

const execFileAsync = promisify(execFile);
// A way to force a full collection without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const UDP_PORT = 7777;
const TCP_PORT = 8080;
const FLOOD_PORT = 7778;
/** Steady traffic that outlives a capture. */
const TICK_PORT = 7779;
/** Nothing is ever sent to this port: captures of it see no packets. */
const QUIET_PORT = 7780;
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let net: PodNetwork;
let udp: UdpSocket;
let tcp: Server;
let dir: string;

beforeAll(async () => {
  const missing = await netnsAvailable();
  if (missing) throw new Error(`this end-to-end test runs tcpdump in a per-pod network namespace, and ${missing}`);
  await execFileAsync('tcpdump', ['--version']).catch(() => {
    throw new Error('tcpdump is not installed: apt-get install -y tcpdump');
  });
  dir = mkdtempSync(join(tmpdir(), 'kdebug-capture-e2e-'));
  net = await createPodNetwork();
  udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(UDP_PORT, net.hostIp, resolve));
  tcp = createServer((socket) => {
    socket.on('data', () => socket.end('hello from the host\n'));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => tcp.listen(TCP_PORT, net.hostIp, resolve));
}, 60_000);

afterAll(async () => {
  udp?.close();
  tcp?.close();
  await net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Waits until `count` tcpdump packet sockets in the namespace have their real filter attached. */
async function waitForTcpdumps(count: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', net.netns, 'ss', '-0', '-p', '-b'], { timeout: 5_000 }).catch(() => ({ stdout: '' }));
    const ready = stdout
      .split(/\n(?=\S)/)
      .filter((s) => s.includes('"tcpdump"'))
      .filter((s) => Number(/bpf filter \((\d+)\)/.exec(s)?.[1] ?? 0) > 1);
    if (ready.length >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${count} tcpdump(s) did not start capturing within 15 s`);
}

/** The debug container's command, in the pod's namespace: what runJob gives the ephemeral container. */
function runContainer(steps: Step[], marker: string, deadlineSeconds: number, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const command = ['timeout', '-s', 'KILL', String(deadlineSeconds), ...scriptCommand(steps, marker)];
  return spawn('ip', ['netns', 'exec', net.netns, ...command], { stdio: ['ignore', 'pipe', 'pipe'], env });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('close', (code) => resolve(code));
  });
}

/** Streams the container's stdout through the decoder into `pcapPath`, like the worker does with the log. */
async function decodeContainer(child: ChildProcess, pcapPath: string, maxBytes: number, onChunk?: (chunk: Buffer) => void): Promise<CaptureLogResult> {
  const decoder = new DecodedLog(new CaptureLogScanner({ maxBytes }), { sink: createWriteStream(pcapPath) });
  if (onChunk) child.stdout!.on('data', onChunk);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await pipeline(child.stdout!, decoder);
  await exited(child);
  expect(stderr).toBe(''); // the script joins stderr to stdout, as a container log does
  return decoder.result();
}

function interpretLog(args: CaptureArgs, steps: Step[], marker: string, result: CaptureLogResult, context: CheckContext): Finding {
  const results = splitOutput(result.text, steps, marker);
  return captureCheck.interpret(args, results, { ...context, now: new Date() });
}

/** From inside the pod: `count` UDP datagrams to the host side, then one TCP request/response. */
async function podTraffic(count: number): Promise<void> {
  const script = `
    const dgram = require('node:dgram'); const net = require('node:net');
    const [host, udpPort, tcpPort, count] = process.argv.slice(1);
    const s = dgram.createSocket('udp4');
    let sent = 0;
    const next = () => {
      if (sent === Number(count)) { s.close(); return request(); }
      s.send('datagram ' + (++sent), Number(udpPort), host, () => setTimeout(next, 20));
    };
    const request = () => {
      const c = net.connect(Number(tcpPort), host, () => c.end('hello from the pod\\n'));
      c.on('data', () => {}); c.on('close', () => process.exit(0));
      setTimeout(() => process.exit(2), 5000);
    };
    next();`;
  await execFileAsync('ip', ['netns', 'exec', net.netns, process.execPath, '-e', script, net.hostIp, String(UDP_PORT), String(TCP_PORT), String(count)], { timeout: 15_000 });
}

/** From inside the pod: `count` UDP datagrams to the host side, all at once. */
async function podDatagrams(count: number): Promise<void> {
  const script = `
    const [host, port, count] = process.argv.slice(1);
    const s = require('node:dgram').createSocket('udp4');
    let sent = 0;
    for (let i = 1; i <= Number(count); i++) s.send('datagram ' + i, Number(port), host, () => { if (++sent === Number(count)) s.close(); });`;
  await execFileAsync('ip', ['netns', 'exec', net.netns, process.execPath, '-e', script, net.hostIp, String(UDP_PORT), String(count)], { timeout: 15_000 });
}

/** The records of a little-endian microsecond pcap: time, and everything after the timestamp. */
function records(pcap: Buffer): Array<{ timeUs: number; rest: Buffer }> {
  const out: Array<{ timeUs: number; rest: Buffer }> = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const length = pcap.readUInt32LE(at + 8);
    out.push({ timeUs: pcap.readUInt32LE(at) * 1e6 + pcap.readUInt32LE(at + 4), rest: pcap.subarray(at + 8, at + 16 + length) });
    at += 16 + length;
  }
  return out;
}

/**
 * A process in `netns` sending a small UDP datagram to host:port every `everyMs` until stopped. It
 * runs apart from the test process, so decoding in the test cannot stall it; resolves once the
 * first datagram is out, so the traffic is flowing before a capture starts.
 */
async function steadyTraffic(netns: string, host: string, port: number, everyMs: number): Promise<{ stop(): Promise<void> }> {
  const script = `
    const s = require('node:dgram').createSocket('udp4'); let n = 0;
    const tick = () => s.send('tick ' + (++n), ${port}, '${host}', () => { if (n === 1) process.stdout.write('sending\\n'); });
    const timer = setInterval(tick, ${everyMs}); tick();
    process.stdin.on('end', () => { clearInterval(timer); s.close(); process.exit(0); }); process.stdin.resume();
    setTimeout(() => process.exit(0), 60000);`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('close', (code) => reject(new Error(`the traffic sender exited (${code}) before sending`)));
  });
  return {
    stop: async () => {
      child.stdin.end();
      await exited(child);
    },
  };
}

async function tcpdumpRead(file: string): Promise<{ lines: string[]; stderr: string }> {
  const { stdout, stderr } = await execFileAsync('tcpdump', ['-r', file, '-nn', '-tt'], { maxBuffer: 64 * 1024 * 1024 });
  return { lines: stdout.split('\n').filter(Boolean), stderr };
}

test('the decoded pcap is byte for byte what tcpdump wrote, matches a direct tcpdump -w capture, and tcpdump -r reads it', async () => {
  const filter = `udp port ${UDP_PORT} or tcp port ${TCP_PORT}`;
  // Long enough that the traffic below (node's start-up, 5 datagrams, one TCP exchange) ends well
  // inside it on a busy machine: at 4 s, one CI run's capture ended before the TCP teardown.
  const parsed = captureCheck.parseArgs(filter.split(' '), { duration: '8s' });
  if (!parsed.ok) throw new Error(parsed.message);
  const context: CheckContext = { settings: {}, now: new Date() };
  const steps = captureCheck.steps(parsed.args, context);
  const marker = newMarker();

  // The oracle starts first and stops later, so it sees every packet the check sees.
  const directFile = join(dir, 'direct.pcap');
  const direct = spawn('ip', ['netns', 'exec', net.netns, 'timeout', '10', 'tcpdump', '-i', 'any', '-p', '-s', '65535', '-U', '-w', directFile, '--', filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let directErr = '';
  direct.stderr.on('data', (c: Buffer) => (directErr += c.toString()));
  await waitForTcpdumps(1);
  const container = runContainer(steps, marker, 30);
  const raw: Buffer[] = [];
  const decodedFile = join(dir, 'decoded.pcap');
  const decoding = decodeContainer(container, decodedFile, captureCheck.decoder!.maxBytes(context), (c) => raw.push(c));
  await waitForTcpdumps(2);
  await podTraffic(5);
  const result = await decoding;
  await exited(direct);

  // 1. The same file as the other tcpdump wrote with -w: same header, same records, same packet
  // bytes. Only timestamps may differ by microseconds: for outgoing TCP the kernel stamps each
  // capture socket's copy separately (the skb's own time is the TCP departure time).
  const decoded = readFileSync(decodedFile);
  const directBytes = readFileSync(directFile);
  // 5 datagrams and one TCP exchange, whose packet count is the kernel's: usually 10, but on a busy
  // machine a FIN or an ACK may go apart from the data it usually rides with (16 in one CI run).
  const captured = Number(/(\d+) packets captured/.exec(directErr)?.[1]);
  const tcpPackets = captured - 5;
  expect(tcpPackets).toBeGreaterThanOrEqual(8);
  expect(decoded.length).toBe(directBytes.length);
  expect(decoded.subarray(0, 24).equals(directBytes.subarray(0, 24))).toBe(true);
  const ours = records(decoded);
  const theirs = records(directBytes);
  expect(theirs).toHaveLength(captured);
  expect(ours).toHaveLength(captured);
  expect(ours.map((r) => r.rest.toString('hex'))).toEqual(theirs.map((r) => r.rest.toString('hex')));
  for (const [i, r] of ours.entries()) expect(Math.abs(r.timeUs - theirs[i]!.timeUs)).toBeLessThan(1000);

  // 2. Same bytes as coreutils' base64 -d makes of the raw log region.
  const log = Buffer.concat(raw).toString('latin1');
  const region = log.slice(log.indexOf(`${PCAP_BEGIN_LINE}\n`) + PCAP_BEGIN_LINE.length + 1, log.indexOf(`${PCAP_END_LINE}\n`));
  expect(
    region
      .split('\n')
      .filter(Boolean)
      .every((line, i, all) => line.length === 76 || i === all.length - 1),
  ).toBe(true);
  writeFileSync(join(dir, 'region.b64'), region);
  const { stdout: viaCoreutils } = await execFileAsync('base64', ['-d', join(dir, 'region.b64')], { encoding: 'buffer' });
  expect(decoded.equals(viaCoreutils)).toBe(true);

  // 3. tcpdump -r reads it whole, and the counts agree everywhere.
  const read = await tcpdumpRead(decodedFile);
  expect(read.stderr).not.toMatch(/truncated|error/i);
  expect(read.lines).toHaveLength(captured);
  expect(result.summary).toMatchObject({ found: true, complete: true, packets: captured, capped: false, droppedTrailingBytes: 0, fileBytes: decoded.length });

  // 4. The summary names the conversations and ports; the finding says ok.
  const tcpConversation = result.summary.conversations.find((c) => c.proto === 'TCP');
  expect(tcpConversation).toMatchObject({ src: net.podIp, dst: net.hostIp, dstPort: TCP_PORT, packets: tcpPackets });
  expect(result.summary.conversations.find((c) => c.proto === 'UDP')).toMatchObject({ src: net.podIp, dst: net.hostIp, dstPort: UDP_PORT, packets: 5 });
  expect(result.summary.ports.map((p) => `${p.port}/${p.proto}`)).toEqual([`${TCP_PORT}/tcp`, `${UDP_PORT}/udp`]);
  const text = renderCaptureSummary(result.summary);
  expect(text).toContain(`${net.podIp}:${tcpConversation?.srcPort} → ${net.hostIp}:${TCP_PORT} TCP: ${tcpPackets} packets`);
  expect(text).toContain(`${TCP_PORT}/tcp: ${tcpPackets} packets`);

  const finding = interpretLog(parsed.args, steps, marker, result, context);
  expect(finding.verdict).toBe('ok');
  expect(finding.headline).toMatch(
    new RegExp(
      `^Captured ${captured} packets matching \`${filter}\` over .*; busiest ${net.podIp.replace(/\./g, '\\.')}:\\d+ → ${net.hostIp.replace(/\./g, '\\.')}:${TCP_PORT} TCP \\(${tcpPackets}\\); ran the full 8s$`,
    ),
  );
  expect(finding.facts).toMatchObject({ packets: captured, tcpdumpCaptured: captured, tcpdumpExit: 124 });
}, 60_000);

test('several MB stream through the decoder with flat memory, stopped at the size limit, and the file stays readable', async () => {
  const maxBytes = 16 * 1024 * 1024;
  const context: CheckContext = { settings: { capture: { maxBytes, maxPackets: 1_000_000 } }, now: new Date() };
  const args: CaptureArgs = { filter: `udp port ${FLOOD_PORT}`, durationSeconds: 30 };
  const steps = captureCheck.steps(args, context);
  const marker = newMarker();

  // Nothing listens on the flood port; the host's ICMP answers do not match the filter. The flood
  // lasts until the capture is decoded (or 40 s): on a busy machine tcpdump drops much of it, so a
  // fixed number of packets could end before the capture reaches its size limit.
  const flood = spawn(
    'ip',
    [
      'netns',
      'exec',
      net.netns,
      process.execPath,
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); const buf = Buffer.alloc(1400, 0x61);
       let stop = false; process.stdin.on('end', () => { stop = true; }); process.stdin.resume();
       const loop = () => { if (stop) { s.close(); process.exit(0); }
         for (let i = 0; i < 20; i++) s.send(buf, ${FLOOD_PORT}, '${net.hostIp}'); setTimeout(loop, 1); };
       setTimeout(() => process.exit(0), 40000); loop();`,
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );

  // Live memory is measured after a full collection every 512 KiB of log: without one, V8 simply
  // has not collected the decoded chunks yet, which says nothing about what the decoder holds.
  const live = () => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  // Growth is measured from the lowest live figure seen, not from the first (see below).
  const baseline = live();
  const samples: number[] = [baseline];
  let peakRaw = 0;
  let logBytes = 0;
  let nextSample = 0;
  const container = runContainer(steps, marker, 60);
  const file = join(dir, 'big.pcap');
  const result = await decodeContainer(container, file, maxBytes, (c) => {
    logBytes += c.length;
    const m = process.memoryUsage();
    peakRaw = Math.max(peakRaw, m.heapUsed + m.external - baseline);
    if (logBytes >= nextSample) {
      nextSample += 512 * 1024;
      samples.push(live());
    }
  });
  samples.push(live());
  // Growth is what comes after the lowest point: before it, the process can still hold garbage of
  // earlier suites (in the same jest worker) that a later collection frees.
  const floor = Math.min(...samples);
  const peakLive = Math.max(...samples.slice(samples.indexOf(floor))) - floor;
  const series = samples.map((s) => Math.round((s - floor) / 1024));
  flood.stdin.end();
  await exited(flood);

  const size = statSync(file).size;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  console.log(
    `capture memory: ${mib(logBytes)} of log decoded into a ${mib(size)} pcap; peak live growth (after GC, sampled every 512 KiB) ` +
      `${mib(peakLive)} = ${((100 * peakLive) / size).toFixed(1)}% of the capture; peak growth without forcing GC ${mib(peakRaw)}`,
  );
  expect(logBytes).toBeGreaterThan(maxBytes); // the base64 is about 4/3 of the pcap
  expect(result.summary.capped).toBe(true);
  expect(result.summary.decodedBytes).toBe(maxBytes);
  expect(size).toBe(result.summary.fileBytes);
  expect(size + result.summary.droppedTrailingBytes).toBe(maxBytes);
  // Holding the capture would cost at least its size (more, as base64 text). Streaming holds a few
  // chunks plus a constant few MiB (code compiled on first use, stream buffers) that does not grow
  // with the capture: about 2 MiB measured from the lowest point on.
  expect(peakLive).toBeLessThan(size / 4);
  const half = Math.floor(series.length / 2);
  expect(Math.max(...series.slice(half)) - Math.max(...series.slice(1, half))).toBeLessThan(2048);

  const read = await tcpdumpRead(file);
  expect(read.stderr).not.toMatch(/truncated/i);
  expect(read.lines).toHaveLength(result.summary.packets);
  expect(result.summary.conversations[0]).toMatchObject({ proto: 'UDP', src: net.podIp, dst: net.hostIp, dstPort: FLOOD_PORT });

  const finding = interpretLog(args, steps, marker, result, context);
  expect(finding.verdict).toBe('ok');
  expect(finding.headline).toMatch(/; stopped at the 16\.0 MiB size limit$/);
}, 90_000);

test('a capture keeps its last second: tcpdump hands over each packet at once (--immediate-mode), so the packets up to the stop are in the file', async () => {
  const seconds = 3;
  const args: CaptureArgs = { filter: `udp port ${TICK_PORT}`, durationSeconds: seconds };
  const context: CheckContext = { settings: {}, now: new Date() };
  const steps = captureCheck.steps(args, context);
  const marker = newMarker();
  // Without --immediate-mode libpcap hands packets over a buffer block at a time, a block closing
  // once a second from when tcpdump opened the capture; the block still open when `timeout` stops
  // tcpdump is never written. Opened right at the start, that block boundary races the stop (the
  // loss is then a whole second or nothing); a tcpdump that starts 0.3 s late, as in a busy pod,
  // makes the loss certain: 0.7 s. This shim starts the real tcpdump that late.
  const { stdout: realTcpdump } = await execFileAsync('sh', ['-c', 'command -v tcpdump']);
  const shim = mkdtempSync(join(dir, 'slow-start-'));
  writeFileSync(join(shim, 'tcpdump'), `#!/bin/sh\nsleep 0.3\nexec ${realTcpdump.trim()} "$@"\n`, { mode: 0o755 });
  // A datagram every 20 ms from before tcpdump starts until after it stopped.
  const traffic = await steadyTraffic(net.netns, net.hostIp, TICK_PORT, 20);
  let result: CaptureLogResult;
  const started = Date.now();
  try {
    const container = runContainer(steps, marker, 30, { ...process.env, PATH: `${shim}:${process.env.PATH ?? ''}` });
    result = await decodeContainer(container, join(dir, 'ticks.pcap'), captureCheck.decoder!.maxBytes(context));
  } finally {
    await traffic.stop();
  }

  const finding = interpretLog(args, steps, marker, result, context);
  expect(finding.verdict).toBe('ok');
  expect(finding.headline).toMatch(/; ran the full 3s$/);
  expect(result.summary.conversations).toEqual([expect.objectContaining({ proto: 'UDP', src: net.podIp, dst: net.hostIp, dstPort: TICK_PORT, packets: result.summary.packets })]);
  // `timeout` stops tcpdump `seconds` after the container started (a few ms after `started`): the
  // last packet is from its last moments, and the capture spans the time tcpdump ran.
  const stop = started + seconds * 1000;
  expect(result.summary.lastTimeMs!).toBeGreaterThan(stop - 300);
  expect(result.summary.durationMs).toBeGreaterThan((seconds - 0.3 - 0.4) * 1000);
}, 30_000);

test('a burst while tcpdump is held up (descheduled, or blocked writing) is kept whole: no packet dropped by the kernel', async () => {
  const args: CaptureArgs = { filter: `udp port ${UDP_PORT}`, durationSeconds: 3 };
  const context: CheckContext = { settings: {}, now: new Date() };
  const steps = captureCheck.steps(args, context);
  const marker = newMarker();
  const container = runContainer(steps, marker, 30);
  const decoding = decodeContainer(container, join(dir, 'held.pcap'), captureCheck.decoder!.maxBytes(context));
  await waitForTcpdumps(1);
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', net.netns, 'ss', '-0', '-p']);
  const tcpdump = Number(/"tcpdump",pid=(\d+)/.exec(stdout)?.[1]);
  // Stopped, it reads nothing: the burst waits in its ring, or is dropped when the ring is full
  // (with tcpdump's own defaults in immediate mode, after 4 packets).
  process.kill(tcpdump, 'SIGSTOP');
  try {
    await podDatagrams(100);
  } finally {
    process.kill(tcpdump, 'SIGCONT');
  }
  const result = await decoding;

  const finding = interpretLog(args, steps, marker, result, context);
  expect(finding.facts).toMatchObject({ packets: 100, tcpdumpCaptured: 100 });
  expect(finding.facts).not.toHaveProperty('droppedByKernel');
}, 30_000);

describe('kdebug run capture --local, in the pod network namespace', () => {
  interface Report {
    verdict: string;
    headline: string;
    facts: Record<string, unknown>;
  }

  function kdebugLocal(cwd: string, words: string[]): Promise<{ code: number; report: Report }> {
    return new Promise((resolve, reject) => {
      const argv = ['netns', 'exec', net.netns, process.execPath, CLI, 'run', 'capture', '--local', ...words, '--json'];
      execFile('ip', argv, { cwd, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 }, (err, stdout, stderr) => {
        try {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, report: JSON.parse(stdout) as Report });
        } catch {
          reject(new Error(`kdebug run printed no JSON report: ${stdout}${stderr}`));
        }
      });
    });
  }

  test('packets: the .pcap is written through the decoder, named in the pcapFile fact, and tcpdump reads it', async () => {
    const cwd = mkdtempSync(join(dir, 'local-'));
    const traffic = await steadyTraffic(net.netns, net.hostIp, TICK_PORT, 50);
    let run: Awaited<ReturnType<typeof kdebugLocal>>;
    try {
      run = await kdebugLocal(cwd, ['udp', 'port', String(TICK_PORT), '--duration', '2s']);
    } finally {
      await traffic.stop();
    }
    expect(run.code).toBe(0);
    expect(run.report.verdict).toBe('ok');
    const file = run.report.facts.pcapFile;
    expect(file).toMatch(/^kdebug-capture-[\dT-]+Z\.pcap$/);
    expect(readdirSync(cwd)).toEqual([file]);
    const read = await tcpdumpRead(join(cwd, String(file)));
    expect(read.stderr).not.toMatch(/truncated|error/i);
    expect(read.lines).toHaveLength(Number(run.report.facts.packets));
    expect(statSync(join(cwd, String(file))).size).toBe(run.report.facts.pcapBytes);
  }, 30_000);

  test('no packets: says so, writes no file and names none', async () => {
    const cwd = mkdtempSync(join(dir, 'local-'));
    const run = await kdebugLocal(cwd, ['udp', 'port', String(QUIET_PORT), '--duration', '1s']);
    expect(run.report.verdict).toBe('no-packets');
    expect(run.report.headline).toBe(`No packets matching \`udp port ${QUIET_PORT}\` in 1s`);
    expect(run.report.facts).toMatchObject({ packets: 0, tcpdumpCaptured: 0 });
    expect(run.report.facts).not.toHaveProperty('pcapFile');
    expect(readdirSync(cwd)).toEqual([]);
  }, 30_000);
});

describe('the worker, through the Kubernetes emulator: the outbox gets a .pcap only when there are packets', () => {
  let kube: KubeEmulator;
  let clients: KubeClients;
  let podNet: PodNetwork;
  let counter = 0;
  // Imported here rather than at the top: loading the Kubernetes client, the job runner and every
  // check before the memory test above leaves compiled code that V8 may flush in the middle of its
  // measurement, which then reads as no growth at all.
  let runJob: typeof import('../../src/worker/run-job.js').runJob;
  let validateJob: typeof import('../../src/queue/job.js').validateJob;
  let jobIdFor: typeof import('../../src/queue/job.js').jobIdFor;
  let checks: typeof import('../../src/checks/index.js').checks;
  let createLogger: typeof import('../../src/observability/logger.js').createLogger;
  let Metrics: typeof import('../../src/observability/metrics.js').Metrics;

  beforeAll(async () => {
    const [runner, job, registry, logger, metrics, emulator, client, config] = await Promise.all([
      import('../../src/worker/run-job.js'),
      import('../../src/queue/job.js'),
      import('../../src/checks/index.js'),
      import('../../src/observability/logger.js'),
      import('../../src/observability/metrics.js'),
      import('../../src/playground/kube-emulator.js'),
      import('../../src/kube/client.js'),
      import('../../src/config/load.js'),
    ]);
    ({ runJob } = runner);
    ({ validateJob, jobIdFor } = job);
    ({ checks } = registry);
    ({ createLogger } = logger);
    ({ Metrics } = metrics);
    kube = new emulator.KubeEmulator({ netns: true });
    await kube.start();
    const added = await kube.addPod({ namespace: 'prod', name: 'cap-0', containers: [{ name: 'app', image: 'web:1' }] });
    podNet = added.network!;
    const kubeconfig = join(dir, 'kubeconfig');
    kube.writeKubeconfig(kubeconfig);
    clients = client.createKubeClients(config.loadConfig({ env: { KUBECONFIG: kubeconfig } }));
  }, 60_000);

  afterAll(async () => {
    await kube?.stop();
  });

  /**
   * One capture job through the real job runner; the answer it writes is returned instead of
   * delivered, with the bytes of each file as they were when the answer was written.
   */
  async function captureJob(
    positional: string[],
    options: Record<string, string>,
  ): Promise<{ job: DiagnosticJob; outcome: JobOutcome; ops: AnswerOp[]; contents: Map<string, Buffer> }> {
    const job: DiagnosticJob = {
      v: 1,
      id: jobIdFor('capture-tools', String(counter++), String(Date.now())),
      check: 'capture',
      target: { kind: 'pod', name: 'cap-0' },
      namespace: 'prod',
      timeoutSeconds: 30,
      positional,
      options,
      commandText: `/kdebug capture cap-0 -n prod ${positional.join(' ')}`,
      requestedBy: { teamId: 'T1', userId: 'U1' },
      reply: { channel: 'C0CAPTURE', rootTs: '1.000001' },
      enqueuedAt: Date.now(),
    };
    const valid = validateJob(job, checks);
    if (!valid.ok) throw new Error(valid.reason);
    let ops: AnswerOp[] = [];
    const contents = new Map<string, Buffer>();
    const outcome = await runJob(valid.job, valid.check, valid.args, {
      kube: clients,
      answers: {
        write: async (_id, written) => {
          ops = written;
          for (const op of written) if (op.kind === 'file') contents.set(op.filename, 'path' in op.source ? readFileSync(op.source.path) : Buffer.from(op.source.text));
          return true;
        },
        exists: async () => false,
        deliver: async () => undefined,
      },
      settings: {
        image: 'nicolaka/netshoot',
        imagePullPolicy: 'IfNotPresent',
        maxLogBytes: 1 << 20,
        maxInlineOutputChars: 2800,
        checks: {},
        fanout: { maxPods: 10, maxParallel: 10 },
      },
      logger: createLogger('silent'),
      metrics: new Metrics(false),
    });
    return { job, outcome, ops, contents };
  }

  test('no packets: the reply says so and no file goes into the outbox', async () => {
    const { job, outcome, ops } = await captureJob(['udp', 'port', String(QUIET_PORT)], { duration: '1s' });
    expect(outcome).toMatchObject({ status: 'done', verdict: 'no-packets' });
    expect(ops.find((op) => op.kind === 'reply')?.text).toContain(`No packets matching \`udp port ${QUIET_PORT}\` in 1s`);
    expect(ops.filter((op) => op.kind === 'file')).toEqual([]);
    expect(existsSync(join(tmpdir(), `kdebug-${job.id}.pcap`))).toBe(false);
  }, 60_000);

  test('packets: one .pcap named after the check, pod and job, that tcpdump reads', async () => {
    const sender = createSocket('udp4');
    const timer = setInterval(() => sender.send(Buffer.from('kdebug-capture-probe'), TICK_PORT, podNet.podIp), 50);
    let result: Awaited<ReturnType<typeof captureJob>>;
    try {
      result = await captureJob(['udp', 'port', String(TICK_PORT)], { duration: '2s' });
    } finally {
      clearInterval(timer);
      sender.close();
    }
    const { job, outcome, ops, contents } = result;
    expect(outcome).toMatchObject({ status: 'done', verdict: 'ok' });
    const files = ops.filter((op) => op.kind === 'file');
    expect(files.map((f) => ({ filename: f.filename, title: f.title }))).toEqual([{ filename: `capture-cap-0-${job.id}.pcap`, title: 'packet capture from cap-0 (prod)' }]);
    const path = join(dir, files[0]!.filename);
    writeFileSync(path, contents.get(files[0]!.filename)!);
    const read = await tcpdumpRead(path);
    expect(read.lines.length).toBeGreaterThan(5);
    expect(read.lines.every((line) => line.includes(`${podNet.podIp}.${TICK_PORT}`))).toBe(true);
    expect(existsSync(join(tmpdir(), `kdebug-${job.id}.pcap`))).toBe(false);
  }, 60_000);
});
