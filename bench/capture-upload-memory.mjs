// Benchmark: a packet capture's way from the worker's disk into the Slack thread, as the worker does
// it: the job's answer written to its outbox in Redis (the .pcap streamed in as chunks of at most
// 1 MiB), then delivered from there into the Slack emulator (files.getUploadURLExternal, the bytes
// streamed to the upload URL, files.completeUploadExternal). Goal (issue 10): a capture adds less
// than 30 MB to the worker's RSS, however large (the chart gives the worker 512 Mi for 4 jobs at once).
//
//   node bench/capture-upload-memory.mjs [megabytes…]      (default: 20 100)
//
// Needs the Redis at REDIS_URL (default redis://127.0.0.1:6379). Each size runs in a fresh worker
// process (node --expose-gc), against a Slack emulator in a process of its own, so only the
// worker's memory is counted; the capture file is made beforehand by this process, and the worker
// first sends a small file the same way, so that code loaded on first use is in its baseline. Prints, per size: the time to write the outbox and to deliver it,
// the worker's peak RSS growth over that baseline (the kernel's VmHWM, reset at the baseline, and
// RSS sampled every 10 ms), its peak heap and external-memory growth, and whether the file arrived
// byte-identical.
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';

const SELF = fileURLToPath(import.meta.url);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BUDGET_MB = 30;
const MiB = 1024 * 1024;
const mib = (n) => (n / MiB).toFixed(1);

// ---------------------------------------------------------------- IPC between the processes

/** The next message of `type` from `child`. */
function next(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m?.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code) => {
      child.off('message', onMessage);
      reject(new Error(`the ${type} never came: the process exited with ${code}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function ask(child, request) {
  const answer = next(child, `${request.type}:done`);
  child.send(request);
  return answer;
}

// ---------------------------------------------------------------- the Slack emulator's process

async function emulator() {
  register('./support/ts-hooks.mjs', import.meta.url);
  const { SlackEmulator } = await import('../src/playground/slack-emulator.ts');
  const slack = new SlackEmulator();
  await slack.start();
  process.on('message', (m) => {
    if (m.type === 'channel') {
      slack.addChannel(m.channel, { botIsMember: true });
      process.send({ type: 'channel:done' });
    } else if (m.type === 'file') {
      const file = slack.files().find((f) => f.name === m.name && f.completed);
      const shared = file && slack.messages(file.channel ?? '').some((msg) => msg.thread_ts === file.thread_ts && msg.files?.some((f) => f.id === file.id));
      process.send({ type: 'file:done', bytes: file?.bytes?.length, sha256: file?.bytes && createHash('sha256').update(file.bytes).digest('hex'), shared: Boolean(shared) });
    } else if (m.type === 'stop') {
      void slack.stop().then(() => process.exit(0));
    }
  });
  process.send({ type: 'ready', apiUrl: slack.apiUrl, botToken: slack.botToken });
}

// ---------------------------------------------------------------- the worker's process

/** Writes a pcap of about `bytes` (Ethernet/IPv4/UDP packets with random payloads) without holding it. */
async function writeCapture(path, bytes) {
  const out = createWriteStream(path);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  out.write(header);
  let written = header.length;
  for (let i = 0; written < bytes; i++) {
    const frame = Buffer.concat([Buffer.alloc(42), randomBytes(1400)]);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame[23] = 17;
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), 0);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    if (!out.write(Buffer.concat([record, frame]))) await new Promise((resolve) => out.once('drain', resolve));
    written += record.length + frame.length;
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  return written;
}

async function sha256Of(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

function procStatus() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kB = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kB('VmRSS'), hwm: kB('VmHWM') };
}

async function worker(path, apiUrl, botToken, channel) {
  // kdebug's modules from src/ (dist/ is one bundle, with no module to import on its own).
  register('./support/ts-hooks.mjs', import.meta.url);
  const { Outbox } = await import('../src/delivery/outbox.ts');
  const { postOutbox } = await import('../src/delivery/post-outbox.ts');
  const { JobThread } = await import('../src/slack/web.ts');
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-upload-'));
  const prefix = `bench-upload-${process.pid}`;
  const redis = new Redis(REDIS_URL);
  // The worker's delivery client: no hidden retries, a 429 rejects at once.
  const slack = new WebClient(botToken, { slackApiUrl: apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  const outbox = new Outbox(redis, prefix);
  const root = await slack.chat.postMessage({ channel, text: 'capture web-0 in prod: running' });
  const thread = new JobThread(slack, channel, root.ts);
  /** One job's answer through the outbox and the delivery, as runJob and the delivery worker do it. */
  const deliver = async (jobId, path, filename) => {
    const ops = [
      { kind: 'reply', text: 'ok: packets captured', blocks: [] },
      { kind: 'file', filename, title: 'packet capture from web-0 (prod)', source: { path } },
      { kind: 'root', text: 'capture web-0 in prod: ok', blocks: [] },
    ];
    const started = process.hrtime.bigint();
    if (!(await outbox.write(jobId, ops))) throw new Error('the outbox was already written');
    const written = process.hrtime.bigint();
    await postOutbox(jobId, outbox, thread);
    const delivered = process.hrtime.bigint();
    return { writeSeconds: Number(written - started) / 1e9, deliverSeconds: Number(delivered - written) / 1e9 };
  };
  // Everything the worker role loads (the Kubernetes client, BullMQ, the checks…), as a real worker
  // process has it: V8's heap, and so when it collects, depends on it.
  await import('../src/worker/worker.ts');
  try {
    // Warm-up: a small file the same way, so that code loaded on first use is in the baseline.
    const warmPath = join(dir, 'warm-up.pcap');
    await writeCapture(warmPath, 2.5 * MiB);
    await deliver(randomBytes(8).toString('hex'), warmPath, 'warm-up.pcap');

    const jobId = randomBytes(8).toString('hex');
    const filename = `capture-web-0-${jobId}.pcap`;

    globalThis.gc();
    globalThis.gc();
    let hwmReset = true;
    try {
      writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    } catch {
      hwmReset = false;
    }
    const base = { rss: procStatus().rss, ...process.memoryUsage() };
    const peak = { rss: base.rss, heapUsed: base.heapUsed, external: base.external };
    const sample = () => {
      const usage = process.memoryUsage();
      peak.rss = Math.max(peak.rss, usage.rss);
      peak.heapUsed = Math.max(peak.heapUsed, usage.heapUsed);
      peak.external = Math.max(peak.external, usage.external);
    };
    const sampler = setInterval(sample, 10);
    const times = await deliver(jobId, path, filename);
    clearInterval(sampler);
    sample();
    const hwm = hwmReset ? procStatus().hwm : 0;
    process.send({
      type: 'result',
      filename,
      ...times,
      rssGrowth: Math.max(hwm, peak.rss) - base.rss,
      heapGrowth: peak.heapUsed - base.heapUsed,
      externalGrowth: peak.external - base.external,
      source: hwmReset ? 'VmHWM and samples' : 'samples only (VmHWM could not be reset)',
    });
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the driver

async function driver(sizes) {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    console.error(`no Redis answers at ${REDIS_URL} (${err.message}); start one (redis-server) or set REDIS_URL`);
    process.exit(2);
  } finally {
    probe.disconnect();
  }
  const slack = fork(SELF, ['--emulator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { apiUrl, botToken } = await next(slack, 'ready');
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-upload-'));
  console.log(`capture upload memory (node ${process.version}, ${process.platform} ${process.arch}): file on disk → outbox in Redis → delivery into the Slack emulator`);
  let over = 0;
  try {
    for (const [i, megabytes] of sizes.entries()) {
      const channel = `C0BENCH${String(i).padStart(3, '0')}`;
      await ask(slack, { type: 'channel', channel });
      // The capture is made here, not in the worker: making it there would leave freed memory
      // behind that the measured run could reuse without growing.
      const path = join(dir, `capture-${megabytes}.pcap`);
      const bytes = await writeCapture(path, megabytes * MiB);
      const sha256 = await sha256Of(path);
      const child = fork(SELF, ['--worker', path, apiUrl, botToken, channel], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const result = { ...(await next(child, 'result')), bytes, sha256 };
      rmSync(path);
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve()));
      const arrived = await ask(slack, { type: 'file', name: result.filename });
      const identical = arrived.shared && arrived.bytes === result.bytes && arrived.sha256 === result.sha256;
      const rssMb = result.rssGrowth / 1e6;
      if (rssMb >= BUDGET_MB) over += 1;
      console.log(
        `capture ${String(megabytes).padStart(3)} MiB (${mib(result.bytes)} MiB pcap): outbox write ${result.writeSeconds.toFixed(2)} s, delivery ${result.deliverSeconds.toFixed(2)} s; ` +
          `worker RSS growth ${rssMb.toFixed(1)} MB (${mib(result.rssGrowth)} MiB; budget ${BUDGET_MB} MB: ${rssMb < BUDGET_MB ? 'within' : 'OVER'}), ` +
          `heap growth ${mib(result.heapGrowth)} MiB, external growth ${mib(result.externalGrowth)} MiB; ` +
          `${identical ? 'arrived byte-identical' : 'DID NOT ARRIVE INTACT'} [${result.source}]`,
      );
      if (!identical) over += 1;
    }
  } finally {
    slack.send({ type: 'stop' });
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = over ? 1 : 0;
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === '--emulator') await emulator();
else if (mode === '--worker') {
  const [path, apiUrl, botToken, channel] = rest;
  await worker(path, apiUrl, botToken, channel);
} else {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  await driver(sizes.length ? sizes : [20, 100]);
}
