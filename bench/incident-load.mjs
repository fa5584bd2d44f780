// Benchmark: an incident's load on kdebug, through the real processes (one bot, two workers with
// queue concurrency 50, node dist/cli.js) against the loopback Slack and Kubernetes emulators, set up
// the way test/support/stack.ts does (Redis with a key prefix of its own, pods in network
// namespaces each with a DNS server, the kubelet running dig for real; the node's containers share
// one CPU cgroup where the machine lets root make one, as a real node's pods share `kubepods`, at
// the weight a kubelet gives pods that request no CPU, as these request none, and the table's last
// line says whether they did). Needs root (network namespaces and cgroups) and redis-server or a
// Redis at REDIS_URL.
//
//   npm run build && node bench/incident-load.mjs [--jobs 100] [--limits on|off] [--connections open|new] [--profile DIR] [--timeline FILE] [--answers-only] [--runs N] [--start-delay MS] [--node-cpu besteffort|equal]
//
// --jobs N (default 100): `dns` commands, each from its own user, for its own pod, in its own
// channel (per-user rate limits, dedupe and Slack's one message a second per channel stay out of
// the way; the policy's rate is 1000 a minute as in the tests). --limits: whether the Slack emulator
// enforces Slack's published limits during those jobs (default on); kdebug paces itself either way,
// so chat.update (one workspace budget of 45 a minute after a burst of 15) still bounds how soon N
// root messages show their final status. The last phase, 20 commands in one channel, always runs
// with the limits on. --connections: whether the N commands go over connections to the bot opened
// beforehand (open, the default: as a reverse proxy in front of the bot keeps them) or opened by the
// burst itself (new); never more than 50 (support/command-sender.mjs). --profile DIR: the bot and
// workers write V8 CPU profiles (.cpuprofile, open them in Chrome DevTools or summarise them with
// bench/cpu-profile-top.mjs) into DIR when they stop. --timeline FILE: each of the N jobs' times
// (epoch ms: sent, acked, ended, queued, taken, answered, final) as JSON, for a closer look.
// --answers-only: stop once the N jobs are answered (about 30 s instead of 4 minutes, for trying a
// change a few times over): no final statuses (two minutes of chat.update's budget), no 20 commands
// in one channel. --runs N: N runs, each a fresh stack in a process of its own, and one more table
// of their answers pooled (answer overhead and its steps, end to end: p50 / p90 / p95 / p99 / max),
// for figures that one noisy run cannot give; with --timeline, the pooled jobs' times.
// --start-delay MS (default 50, the emulator's own): how long the simulated node takes to start an
// ephemeral container once it is in the pod's spec. A real node takes longer (the runtime's create
// and start, hundreds of milliseconds), and the answers' tail depends on it: the sooner containers
// end, the more of them end while kdebug is still starting the burst's other jobs.
// --node-cpu (default besteffort): the simulated node's containers' CPU weight. besteffort: what a
// kubelet gives pods that request no CPU (cpu.shares 2), as the benchmark's pods request none; the
// node runs on what kdebug and the emulators leave of the machine, as on a real cluster, where it
// has cores of its own (its runtime, the kubelet's part, keeps the default weight). equal: the
// default weight, as much as the one session that runs kdebug and the emulators together: the node
// then takes half the machine from them whenever it is busy (the figures of the eighth session
// and before).
//
// Phases: 1 warm-up job; 5 jobs one after the other ("alone"); N commands with 50 in flight; 20
// commands in one channel. Prints one table: ack (POST of the signed slash command → HTTP 200),
// answer overhead (the ephemeral container ended, by its last output or its exit, whichever the
// emulator saw first → the threaded answer reply reached the Slack emulator) and, within it, each
// job's steps as its delivery job in Redis records them (queued for delivery by the worker, taken
// by a delivery process), with each process's event-loop delay (from its /metrics), end to end
// (POST → answer reply; and → the root message's final status), Slack calls and Kubernetes
// requests per job during the N jobs, the most pod watches open at once, RSS idle and peak per
// process (/proc/<pid>/status VmRSS, VmHWM), and the 20 commands' time.
// The commands are sent, and their acks timed, from a thread of their own (support/command-sender.mjs);
// this thread runs the emulators, which time the rest, and its own event-loop delay during the burst
// is printed too: how late the simulated Slack and cluster were themselves.
import { spawnSync } from 'node:child_process';
import { register } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';

register('./support/ts-hooks.mjs', import.meta.url);
const { SlackEmulator } = await import('../src/playground/slack-emulator.ts');
const { RateLimiter } = await import('../src/playground/slack/rate-limits.ts');
const { KubeEmulator } = await import('../src/playground/kube-emulator.ts');
const { DnsServer } = await import('../src/playground/dns-server.ts');
const { netnsAvailable } = await import('../src/playground/netns.ts');
const { startRole } = await import('../test/support/processes.ts');
const { freePort, testRedis } = await import('../test/support/redis.ts');

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100' },
    limits: { type: 'string', default: 'on' },
    connections: { type: 'string', default: 'open' },
    profile: { type: 'string' },
    timeline: { type: 'string' },
    'answers-only': { type: 'boolean', default: false },
    runs: { type: 'string', default: '1' },
    'start-delay': { type: 'string', default: '50' },
    'node-cpu': { type: 'string', default: 'besteffort' },
  },
});
const JOBS = Number(opts.jobs);
if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`--jobs must be a positive integer, not ${opts.jobs}`);
if (opts.limits !== 'on' && opts.limits !== 'off') throw new Error(`--limits must be on or off, not ${opts.limits}`);
if (opts.connections !== 'open' && opts.connections !== 'new') throw new Error(`--connections must be open or new, not ${opts.connections}`);
const START_DELAY_MS = Number(opts['start-delay']);
if (!Number.isInteger(START_DELAY_MS) || START_DELAY_MS < 0) throw new Error(`--start-delay must be a whole number of milliseconds, not ${opts['start-delay']}`);
const NODE_CPU = opts['node-cpu'];
if (NODE_CPU !== 'besteffort' && NODE_CPU !== 'equal') throw new Error(`--node-cpu must be besteffort or equal, not ${NODE_CPU}`);
const RUNS = Number(opts.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer, not ${opts.runs}`);
const IN_FLIGHT = 50;
const ALONE = 5;
const BUSY_COMMANDS = 20;
const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const NAMESPACE = 'prod';
const BUSY_CHANNEL = 'C0BUSY';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

/**
 * The answer overhead of the jobs whose container ended in their burst's first second (from the
 * burst's first command) and of the rest, p50 / p99 and how many, over one or more runs' jobs: the
 * tail comes from the first, when the same cores still start the burst's other jobs and containers.
 */
function overheadByEnd(runs) {
  const early = [];
  const later = [];
  for (const jobs of runs) {
    const start = Math.min(...jobs.map((j) => j.sent));
    for (const j of jobs.filter((job) => job.ended)) (j.ended - start < 1000 ? early : later).push(j.answered - j.ended);
  }
  const part = (values) => (values.length ? `${percentile(values, 50).toFixed(0)} / ${percentile(values, 99).toFixed(0)} ms (${values.length})` : 'none');
  return `${part(early)}; later: ${part(later)}`;
}

/** Polls `fn` every 20 ms until it returns something truthy; fails with `what` after `timeoutMs`. */
async function until(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Each role's event-loop delay p99 and max in ms since its previous scrape of /metrics (prom-client
 * resets them at every scrape).
 */
async function scrapeLoopDelay(roles) {
  const loop = {};
  for (const [role, p] of Object.entries(roles)) {
    const port = /"port":(\d+),"msg":"health endpoints/.exec(p.output())?.[1];
    if (!port) throw new Error(`no health port in the output of pid ${p.child.pid}`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const seconds = (name) => Number(new RegExp(`^kdebug_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]);
    loop[role] = { p99: 1000 * seconds('p99'), max: 1000 * seconds('max') };
  }
  return loop;
}

/**
 * When each answer was queued for delivery and taken by a delivery process, by its thread
 * ("channel rootTs"): the delivery queue's BullMQ jobs in Redis (completed ones are kept for an
 * hour; with --answers-only most still wait for their final status's turn, delayed), whose
 * `timestamp` and `processedOn` the processes wrote with the machine's clock. A delivery put off
 * until its turn was taken again since: it keeps when it was first taken in its data, `takenAt`.
 */
async function deliverySteps(redisUrl, prefix) {
  const redis = new Redis(redisUrl);
  try {
    const key = `${prefix}:deliveries`;
    const ids = [...(await redis.zrange(`${key}:completed`, 0, -1)), ...(await redis.zrange(`${key}:delayed`, 0, -1)), ...(await redis.lrange(`${key}:active`, 0, -1))];
    const steps = new Map();
    for (const id of ids) {
      const [data, queued, taken] = await redis.hmget(`${key}:${id}`, 'data', 'timestamp', 'processedOn');
      const { channel, rootTs, takenAt } = JSON.parse(data);
      steps.set(`${channel} ${rootTs}`, { queued: Number(queued), taken: takenAt ?? Number(taken) });
    }
    return steps;
  } finally {
    redis.disconnect();
  }
}

/** CPU seconds a process has used so far (user + system, /proc/<pid>/stat). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/** Seconds a process's main thread (its event loop) has spent runnable, waiting for a core (/proc/<pid>/schedstat). */
function runQueueSeconds(pid) {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
}
/** CPU seconds every core of the machine has spent busy (not idle or iowait) so far (/proc/stat). */
function machineBusySeconds() {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}
// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const CLOCK_TICKS = 100;

function procStatus(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: mb('VmRSS'), hwm: mb('VmHWM') };
}

/**
 * --runs N: N whole runs, one after the other, each this script in a process of its own with a fresh
 * stack (the other options passed on), then their answers pooled: on this machine one run's p99 is
 * its second-worst job, and runs of the same build differ by a factor of three; the pooled
 * percentiles, over N × --jobs answers, move much less. Each run's own table goes to stderr.
 */
async function pooledRuns(runs) {
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-runs-'));
  try {
    const argv = process.argv
      .slice(2)
      .filter((arg, i, all) => !arg.startsWith('--runs') && all[i - 1] !== '--runs' && !arg.startsWith('--timeline') && all[i - 1] !== '--timeline');
    const timelines = [];
    for (let run = 1; run <= runs; run++) {
      console.error(`run ${run} of ${runs}`);
      const timeline = join(dir, `run-${run}.json`);
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--timeline', timeline], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
      process.stderr.write(child.stdout);
      if (child.status !== 0) {
        console.error(`run ${run} failed (exit ${child.status}); stopping`);
        return 1;
      }
      timelines.push(JSON.parse(readFileSync(timeline, 'utf8')));
    }
    const jobs = timelines.flat();
    const perRun = timelines.map((times) =>
      percentile(
        times.map((j) => j.answered - j.ended),
        99,
      ),
    );
    if (opts.timeline) writeFileSync(opts.timeline, `${JSON.stringify(jobs, null, 1)}\n`);
    const spread = (values) => [50, 90, 95, 99].map((p) => percentile(values, p).toFixed(0)).join(' / ') + ` / ${Math.max(...values).toFixed(0)}`;
    const rows = [
      [`answer overhead (p50 / p90 / p95 / p99 / max, ms)`, spread(jobs.map((j) => j.answered - j.ended))],
      [`  of which: ended → answer queued for delivery (worker)`, spread(jobs.map((j) => j.queued - j.ended))],
      [`  of which: queued → taken by a delivery process`, spread(jobs.map((j) => j.taken - j.queued))],
      [`  of which: taken → answer posted (pacing, Slack)`, spread(jobs.map((j) => j.answered - j.taken))],
      [`  containers that ended in their burst's first second (p50 / p99, jobs)`, overheadByEnd(timelines)],
      [`end to end to the answer (p50 / p90 / p95 / p99 / max, ms)`, spread(jobs.map((j) => j.answered - j.sent))],
      [`each run's own answer overhead p99, ms`, perRun.map((v) => v.toFixed(0)).join(', ')],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(
      `kdebug incident load, ${runs} runs of ${JOBS} jobs pooled (${jobs.length} answers; containers started ${START_DELAY_MS} ms after being added, node CPU ${NODE_CPU}; ${new Date().toISOString()}; node ${process.version})`,
    );
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the stack

if (RUNS > 1) {
  process.exitCode = await pooledRuns(RUNS);
  process.exit();
}

const missing = await netnsAvailable();
if (missing) {
  console.error(`incident-load runs dig in per-pod network namespaces, and ${missing}`);
  process.exit(2);
}

const cleanups = [];
const processes = [];
let stopping;
function stopAll() {
  stopping ??= (async () => {
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    console.error(`${signal}: stopping the processes`);
    void stopAll().then(() => process.exit(130));
  });

const results = {};
try {
  const setupStarted = Date.now();
  const redis = await testRedis();
  cleanups.push(() => redis.stop());
  const slack = new SlackEmulator(opts.limits === 'on' ? {} : { rateLimits: false });
  await slack.start();
  cleanups.push(() => slack.stop());
  const kube = new KubeEmulator({ netns: true, nodeCpuWeight: NODE_CPU });
  await kube.start();
  cleanups.push(() => kube.stop());
  kube.addNamespace(NAMESPACE);
  kube.setStartDelay(START_DELAY_MS);

  // Pods: web-0..web-(N-1) for the N jobs, alone-0..alone-5 (warm-up and alone), busy for the channel.
  const podNames = [...Array.from({ length: JOBS }, (_, i) => `web-${i}`), ...Array.from({ length: ALONE + 1 }, (_, i) => `alone-${i}`), 'busy'];
  for (const name of podNames) {
    const { network } = await kube.addPod({ namespace: NAMESPACE, name, containers: [{ name: 'app', image: 'web:1' }] });
    const dns = new DnsServer({ host: network.hostIp, port: 53 });
    await dns.start();
    cleanups.push(() => dns.stop());
    dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
  }
  slack.addChannel(BUSY_CHANNEL, { botIsMember: true });

  // When each pod's ephemeral container ended: the first the emulator saw of it, its terminated
  // status in the store or its last line of output (printed just before it exits; the simulated
  // node relays the exit after the output, later when the machine is busy, and kdebug answers
  // from the output).
  const terminatedAt = new Map();
  const stopPodChanges = kube.onPodChange((pod) => {
    if (terminatedAt.has(pod.metadata.name)) return;
    if ((pod.status?.ephemeralContainerStatuses ?? []).some((s) => s.state?.terminated)) terminatedAt.set(pod.metadata.name, Date.now());
  });
  cleanups.push(async () => stopPodChanges());
  // That watch of ours is not counted among kdebug's.
  const podWatches = () => kube.openPodWatches() - 1;
  let maxWatches = 0;
  const watchSampler = setInterval(() => (maxWatches = Math.max(maxWatches, podWatches())), 20);
  cleanups.push(async () => clearInterval(watchSampler));

  const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-load-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  kube.writeKubeconfig(kubeconfig);
  const botPort = await freePort();
  const env = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    KDEBUG_REDIS_KEY_PREFIX: redis.prefix,
    KUBECONFIG: kubeconfig,
    PORT: String(botPort),
    KDEBUG_QUEUE_CONCURRENCY: String(IN_FLIGHT),
    KDEBUG_LIMITS_CONCURRENCY_MAX_RUNNING: String(2 * IN_FLIGHT),
    ...(opts.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.profile}` } : {}),
  };
  const roles = { bot: startRole('bot', env), worker1: startRole('worker', env), worker2: startRole('worker', env) };
  processes.push(...Object.values(roles));
  await Promise.all([roles.bot.waitForOutput(/bot started/, 30_000), roles.worker1.waitForOutput(/worker started/, 30_000), roles.worker2.waitForOutput(/worker started/, 30_000)]);
  console.error(`stack up in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s (${podNames.length} pods); settling 5 s for the idle RSS`);
  await sleep(5000);
  results.idle = Object.fromEntries(Object.entries(roles).map(([role, p]) => [role, procStatus(p.child.pid).rss]));

  const sender = new Worker(new URL('./support/command-sender.mjs', import.meta.url), { workerData: { connections: IN_FLIGHT } });
  cleanups.push(() => sender.terminate());
  let commandSeq = 0;
  let batchSeq = 0;
  /** Sends `fields` (slash commands), `inFlight` at a time, from the sender's thread; resolves with their timings. */
  async function send(fields, inFlight) {
    const id = batchSeq++;
    const answer = new Promise((resolve) => {
      const onMessage = (message) => {
        if (message.id !== id) return;
        sender.off('message', onMessage);
        resolve(message);
      };
      sender.on('message', onMessage);
    });
    sender.postMessage({ id, url: `http://127.0.0.1:${botPort}/slack/events`, signingSecret: SIGNING_SECRET, commands: fields, inFlight });
    const { timings, error } = await answer;
    if (error) throw new Error(`sending the commands failed: ${error}`);
    return timings;
  }
  /** Sends a dns command for each `{ pod, channel }`, `inFlight` at a time; returns their timings (ms since epoch). */
  async function commands(targets, inFlight) {
    const sent = targets.map(({ pod, channel }) => ({ pod, channel, user: `U0BENCH${String(commandSeq++).padStart(4, '0')}` }));
    const timings = await send(
      sent.map(({ pod, channel, user }) =>
        slack.slashCommand({ channel_id: channel, user_id: user, user_name: user.toLowerCase(), command: '/kdebug', text: `dns ${pod} -n ${NAMESPACE}` }),
      ),
      inFlight,
    );
    return sent.map((job, i) => {
      if (timings[i].status !== 200) throw new Error(`the bot answered ${timings[i].status} to the command for ${job.pod}`);
      return { ...job, sent: timings[i].sent, acked: timings[i].acked };
    });
  }
  // What the Slack emulator received, indexed as it arrives: rescanning every call for every job on
  // each 20 ms poll cost this thread (which runs the emulators) more CPU than the bot used in a burst.
  const rootByUser = new Map();
  const firstReply = new Map();
  const finalUpdate = new Map();
  let callsIndexed = 0;
  function indexCalls() {
    for (; callsIndexed < slack.calls.length; callsIndexed++) {
      const c = slack.calls[callsIndexed];
      if (c.status !== 200) continue;
      const key = `${c.args.channel} ${c.method === 'chat.update' ? c.args.ts : c.args.thread_ts}`;
      if (c.method === 'chat.postMessage' && c.args.thread_ts && !firstReply.has(key)) firstReply.set(key, c);
      if (c.method === 'chat.update' && /: (ok|failed|[a-z-]+): /.test(String(c.args.text)) && !finalUpdate.has(key)) finalUpdate.set(key, c);
    }
  }
  /** The job's root message, once posted: the one in its channel that mentions its user. */
  function rootOf(job) {
    if (!rootByUser.has(job.user)) {
      const root = slack.messages(job.channel).find((m) => !m.thread_ts && JSON.stringify(m.blocks ?? []).includes(`<@${job.user}>`));
      if (root) rootByUser.set(job.user, root);
    }
    return rootByUser.get(job.user);
  }
  /** The threaded answer reply, once it reached Slack. */
  const answered = (job) => {
    indexCalls();
    const root = rootOf(job);
    return root && firstReply.get(`${job.channel} ${root.ts}`);
  };
  function endedAt(pod) {
    const container = kube.getPod(NAMESPACE, pod)?.spec.ephemeralContainers?.[0]?.name;
    const times = [terminatedAt.get(pod), container && kube.lastLogLineAt(NAMESPACE, pod, container)].filter((t) => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  }
  /** The answer's arrival, once it happened. */
  function answeredJob(job) {
    const reply = answered(job);
    if (!reply) return undefined;
    return { ...job, answered: reply.time, ok: /^ok: /.test(String(reply.args.text)), ended: endedAt(job.pod), thread: `${job.channel} ${rootOf(job).ts}` };
  }
  /** The answer's arrival and the final root update, once both happened. */
  function finished(job) {
    const done = answeredJob(job);
    const final = done && finalUpdate.get(done.thread);
    return final ? { ...done, final: final.time } : undefined;
  }
  const waitAll = (jobs, timeoutMs, what) =>
    until(
      () => {
        const done = jobs.map(finished);
        return done.every(Boolean) ? done : undefined;
      },
      timeoutMs,
      `${what} (${jobs.map(finished).filter(Boolean).length} of ${jobs.length} answered)`,
    );

  // Warm-up, then jobs alone.
  console.error('warm-up and 5 jobs alone');
  const alone = [];
  for (let i = 0; i <= ALONE; i++) {
    const channel = `C0ALONE${i}`;
    slack.addChannel(channel, { botIsMember: true });
    const [done] = await waitAll(await commands([{ pod: `alone-${i}`, channel }], 1), 60_000, `the job alone on alone-${i}`);
    if (i > 0) alone.push(done);
  }

  // N commands, 50 in flight.
  console.error(`${JOBS} commands, ${IN_FLIGHT} in flight`);
  const channels = Array.from({ length: JOBS }, (_, i) => `C0LOAD${String(i).padStart(4, '0')}`);
  for (const channel of channels) slack.addChannel(channel, { botIsMember: true });
  if (opts.connections === 'open') {
    // The sender's connections to the bot opened beforehand by one `help` each (no job, no Slack
    // call), as a reverse proxy's keep-alive pool holds them; with --connections new the burst
    // opens them, and each waits for the bot to accept it (bench/README.md).
    await send(
      Array.from({ length: IN_FLIGHT }, (_, i) => slack.slashCommand({ channel_id: BUSY_CHANNEL, user_id: `U0OPEN${i}`, command: '/kdebug', text: 'help' })),
      IN_FLIGHT,
    );
  }
  const callsBefore = slack.calls.length;
  const kubeBefore = kube.requests.length;
  const tlsBefore = kube.tlsConnections;
  maxWatches = podWatches();
  await scrapeLoopDelay(roles);
  const cpuBefore = {
    ...Object.fromEntries(Object.entries(roles).map(([role, p]) => [role, cpuSeconds(p.child.pid)])),
    emulators: cpuSeconds(process.pid),
    machine: machineBusySeconds(),
  };
  // How long kdebug's event loops waited for a core: in the burst's first second (where the answers'
  // tail comes from) and until every answer arrived.
  const waiting = () => Object.fromEntries(Object.entries(roles).map(([role, p]) => [role, runQueueSeconds(p.child.pid)]));
  const waitingBefore = waiting();
  let waitingAfterFirstSecond;
  const firstSecond = setTimeout(() => (waitingAfterFirstSecond = waiting()), 1000);
  const loadStarted = Date.now();
  const emulatorDelay = monitorEventLoopDelay({ resolution: 10 });
  emulatorDelay.enable();
  const sent = await commands(
    channels.map((channel, i) => ({ pod: `web-${i}`, channel })),
    IN_FLIGHT,
  );
  const loadTimeoutMs = 120_000 + JOBS * 3000;
  // Where the machine's CPU went until every answer arrived (the roots' final updates after that
  // only wait for Slack's chat.update budget).
  await until(() => sent.every(answered), loadTimeoutMs, `the answers to the ${JOBS} jobs`);
  results.answeredSeconds = ((Date.now() - loadStarted) / 1000).toFixed(1);
  emulatorDelay.disable();
  results.emulatorDelay = [50, 99].map((p) => emulatorDelay.percentile(p) / 1e6).concat(emulatorDelay.max / 1e6);
  const cpu = {
    ...Object.fromEntries(Object.entries(roles).map(([role, p]) => [role, cpuSeconds(p.child.pid) - cpuBefore[role]])),
    emulators: cpuSeconds(process.pid) - cpuBefore.emulators,
  };
  const machine = machineBusySeconds() - cpuBefore.machine;
  results.cpu = `${Object.entries(cpu)
    .map(([who, seconds]) => `${who} ${seconds.toFixed(1)}`)
    .join(', ')}, everything else (dig, ip netns, the simulated node's runtime, other work) ${(machine - Object.values(cpu).reduce((a, b) => a + b, 0)).toFixed(1)} s`;
  results.kdebugCpuPerJobMs = ((1000 * (cpu.bot + cpu.worker1 + cpu.worker2)) / JOBS).toFixed(0);
  clearTimeout(firstSecond);
  const waitingAtEnd = waiting();
  const waitedShare = (until, seconds) =>
    Object.keys(roles)
      .map((role) => `${role} ${((100 * (until[role] - waitingBefore[role])) / seconds).toFixed(0)}%`)
      .join(', ');
  results.waiting = `${waitingAfterFirstSecond ? `first second: ${waitedShare(waitingAfterFirstSecond, 1)}; ` : ''}until all answered: ${waitedShare(waitingAtEnd, Number(results.answeredSeconds))}`;
  results.loop = Object.entries(await scrapeLoopDelay(roles))
    .map(([role, { p99, max }]) => `${role} ${p99.toFixed(0)} / ${max.toFixed(0)}`)
    .join(', ');
  const answersOnly = opts['answers-only'];
  const load = answersOnly ? sent.map(answeredJob) : await waitAll(sent, loadTimeoutMs, `the ${JOBS} jobs`);
  results.loadSeconds = (Date.now() - loadStarted) / 1000;
  results.loadWatches = maxWatches;
  const byKey = (items, key) => {
    const counts = {};
    for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
    return Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${(n / JOBS).toFixed(2)}`)
      .join(', ');
  };
  results.slackCalls = byKey(slack.calls.slice(callsBefore), (c) => (c.status === 200 ? c.method : `${c.method} (${c.status})`));
  results.tlsConnections = kube.tlsConnections - tlsBefore;
  results.kubeRequests = byKey(kube.requests.slice(kubeBefore), (r) => `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}`);
  results.load429 = slack.rateLimited();

  // 20 commands in one channel, Slack's limits on.
  const busy = [];
  if (!answersOnly) {
    console.error(`${BUSY_COMMANDS} commands in one channel, Slack's limits on`);
    slack.rateLimiter = new RateLimiter(undefined);
    await sleep(2000);
    const busyBefore429 = slack.rateLimited();
    const busyStarted = Date.now();
    const busySent = await commands(
      Array.from({ length: BUSY_COMMANDS }, () => ({ pod: 'busy', channel: BUSY_CHANNEL })),
      1,
    );
    busy.push(...(await waitAll(busySent, 240_000, `the ${BUSY_COMMANDS} commands in ${BUSY_CHANNEL}`)));
    results.busySeconds = (Math.max(...busy.map((j) => Math.max(j.answered, j.final))) - busyStarted) / 1000;
    results.busy429 = slack.rateLimited() - busyBefore429;
  }
  results.peak = Object.fromEntries(Object.entries(roles).map(([role, p]) => [role, procStatus(p.child.pid).hwm]));

  const notOk = [...alone, ...load, ...busy].filter((j) => !j.ok).length;
  const ms = (values) => `${percentile(values, 50).toFixed(0)} / ${percentile(values, 99).toFixed(0)} ms`;
  const s = (values) => `${(percentile(values, 50) / 1000).toFixed(2)} / ${(percentile(values, 99) / 1000).toFixed(2)} s`;
  const overhead = (jobs) => jobs.filter((j) => j.ended).map((j) => j.answered - j.ended);
  const delivered = await deliverySteps(redis.url, redis.prefix);
  const split = load.filter((j) => j.ended && delivered.has(j.thread)).map((j) => ({ ...j, ...delivered.get(j.thread) }));
  if (opts.timeline) {
    const times = split.map(({ pod, sent, acked, ended, queued, taken, answered, final }) => ({ pod, sent, acked, ended, queued, taken, answered, final }));
    writeFileSync(opts.timeline, `${JSON.stringify(times, null, 1)}\n`);
  }
  const rows = [
    [`ack, ${JOBS} commands with ${IN_FLIGHT} in flight, ${opts.connections} connections (p50 / p99)`, ms(sent.map((j) => j.acked - j.sent))],
    [`answer overhead, 1 job alone (p50 / p99 of ${ALONE})`, ms(overhead(alone))],
    [`answer overhead, ${JOBS} jobs at once (p50 / p99)`, ms(overhead(load))],
    [`  of which: ended → answer queued for delivery (worker)`, ms(split.map((j) => j.queued - j.ended))],
    [`  of which: queued → taken by a delivery process`, ms(split.map((j) => j.taken - j.queued))],
    [`  of which: taken → answer posted (pacing, Slack)`, ms(split.map((j) => j.answered - j.taken))],
    [`  containers that ended in the burst's first second (p50 / p99, jobs)`, overheadByEnd([load])],
    [`end to end to the answer, 1 job alone (p50 / p99)`, ms(alone.map((j) => j.answered - j.sent))],
    [`end to end to the answer, ${JOBS} jobs at once (p50 / p99)`, s(load.map((j) => j.answered - j.sent))],
    ...(answersOnly
      ? [[`${JOBS} jobs: all answered (final statuses not awaited)`, `${results.loadSeconds.toFixed(1)} s (Slack limits ${opts.limits}, ${results.load429} 429s)`]]
      : [
          [`end to end to the root's final status, ${JOBS} jobs (p50 / p99)`, s(load.map((j) => j.final - j.sent))],
          [`${JOBS} jobs: all answered and final`, `${results.loadSeconds.toFixed(1)} s (Slack limits ${opts.limits}, ${results.load429} 429s)`],
        ]),
    [`${JOBS} jobs: CPU seconds until all answered (${results.answeredSeconds} s)`, results.cpu],
    [`  the emulators' own event-loop delay meanwhile (p50 / p99 / max)`, `${results.emulatorDelay.map((v) => v.toFixed(0)).join(' / ')} ms`],
    [`  kdebug's event-loop delay meanwhile (p99 / max)`, `${results.loop} ms`],
    [`  kdebug's event loops runnable but waiting for a core (share of the time)`, results.waiting],
    ['kdebug CPU per job (bot + workers)', `${results.kdebugCpuPerJobMs} ms`],
    [`Slack calls per job, by method${answersOnly ? ' (until answered)' : ''}`, results.slackCalls],
    ['Kubernetes requests per job, by verb', results.kubeRequests],
    [`TLS connections opened to the API server during the ${JOBS} jobs`, String(results.tlsConnections)],
    ['pod watches open at once, most', String(results.loadWatches)],
    ...Object.keys(roles).map((role) => [`RSS ${role}: idle / peak (VmHWM)`, `${results.idle[role].toFixed(0)} / ${results.peak[role].toFixed(0)} MiB`]),
    ...(answersOnly ? [] : [[`${BUSY_COMMANDS} commands in one channel, limits on: all answered`, `${results.busySeconds.toFixed(1)} s (${results.busy429} 429s)`]]),
    ['answers other than ok', String(notOk)],
  ];
  const cpuGroup = kube.nodeCpuGroup();
  rows.push([
    `the simulated node's containers (started ${START_DELAY_MS} ms after being added), scheduled`,
    cpuGroup?.path
      ? `in one CPU cgroup, ${cpuGroup.path} (${cpuGroup.weight}${NODE_CPU === 'besteffort' ? ": a kubelet's weight for pods that request no CPU" : ': the default weight'})`
      : `each in its own session's autogroup, as a peer of all kdebug (no node cgroup: ${cpuGroup?.unavailable})`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`kdebug incident load (${new Date().toISOString()}; node ${process.version}; bot + 2 workers, queue concurrency ${IN_FLIGHT})`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  if (notOk) process.exitCode = 1;
} catch (err) {
  console.error(`incident-load failed: ${err.message}`);
  for (const p of processes) console.error(`--- last output of pid ${p.child.pid} ---\n${p.output().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
