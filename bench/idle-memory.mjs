// Benchmark: resident memory of each role at idle, as real processes (node dist/cli.js <role>)
// against the Redis at REDIS_URL (default 127.0.0.1:6379). The figure to watch is RSS after start-up
// settles: each role should load only the libraries it uses (the bot never loads
// @kubernetes/client-node, the worker never loads Bolt).
//
//   npm run build && node bench/idle-memory.mjs [seconds to settle, default 5]
//
// Prints, per role: RSS (MB) after settling, and which of the big libraries the process loaded;
// exits 1 when a goal of issue 10 is missed (bot under 100 MB and without @kubernetes/client-node,
// worker under 120 MB and without Bolt).
// Each role runs twice: once as the image starts it, for the RSS, and once with a module-logging
// hook, for the libraries (the hook runs on a loader thread of its own, which adds about 15 MB).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const settleSeconds = Number(process.argv[2] ?? 5);
// node's flags as the image starts it (the Dockerfile's ENTRYPOINT), so the figures are what ships.
const NODE_FLAGS = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync('Dockerfile', 'utf8'))[1])
  .slice(1)
  .filter((arg) => arg.startsWith('--'));
const dir = mkdtempSync(join(tmpdir(), 'kdebug-bench-'));
// A kubeconfig the worker can load; idle, it never calls the API server.
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  [
    'apiVersion: v1',
    'kind: Config',
    'current-context: bench',
    'clusters: [{name: bench, cluster: {server: "https://127.0.0.1:1"}}]',
    'contexts: [{name: bench, context: {cluster: bench, user: bench}}]',
    'users: [{name: bench, user: {token: bench}}]',
    '',
  ].join('\n'),
);

const LIBRARIES = ['@kubernetes/client-node', '@slack/bolt', '@slack/web-api', 'bullmq', 'ioredis'];
const GOALS = {
  bot: { maxRssMb: 100, never: '@kubernetes/client-node' },
  worker: { maxRssMb: 120, never: '@slack/bolt' },
};

// Which packages each chunk of the bundle holds (scripts/build.mjs writes it).
const BUNDLE_CONTENTS = JSON.parse(readFileSync('dist/bundle-contents.json', 'utf8'));

/** The watched libraries a process loaded: the packages in the chunks of dist/ the module log names. */
function loadedLibraries(logFile) {
  let urls;
  try {
    urls = readFileSync(logFile, 'utf8').split('\n');
  } catch {
    return [];
  }
  const packages = new Set(urls.flatMap((url) => BUNDLE_CONTENTS[/\/dist\/([^/]+\.js)$/.exec(url)?.[1]] ?? []));
  return LIBRARIES.filter((name) => packages.has(name));
}

/** Starts `role`, lets it settle and returns its RSS in MB; with `moduleLog`, it logs the modules it loads there. */
async function measure(role, moduleLog) {
  const env = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    KDEBUG_REDIS_KEY_PREFIX: `bench-idle-${process.pid}`,
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: 'bench-secret',
    SLACK_API_URL: 'http://127.0.0.1:1/api/',
    PORT: '0',
    KDEBUG_HEALTH_PORT: '0',
    KUBECONFIG: kubeconfig,
    LOG_LEVEL: 'warn',
    ...(moduleLog ? { KDEBUG_BENCH_MODULE_LOG: moduleLog } : {}),
  };
  const logging = moduleLog ? ['--import', './bench/support/module-log.mjs'] : [];
  const child = spawn(process.execPath, [...NODE_FLAGS, ...logging, 'dist/cli.js', role], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
  if (child.exitCode !== null) throw new Error(`${role} exited ${child.exitCode}: ${output}`);
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rssMb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return rssMb;
}

console.log(`kdebug idle memory (${settleSeconds} s after start; node ${process.version}, ${process.platform} ${process.arch})`);
console.log('role     RSS MB  libraries loaded');
for (const role of ['bot', 'worker', 'all']) {
  const rssMb = await measure(role);
  const moduleLog = join(dir, `${role}.modules`);
  await measure(role, moduleLog);
  const libraries = loadedLibraries(moduleLog);
  const goal = GOALS[role];
  const missed = [
    ...(goal && rssMb >= goal.maxRssMb ? [`goal: under ${goal.maxRssMb} MB`] : []),
    ...(goal && libraries.includes(goal.never) ? [`goal: never loads ${goal.never}`] : []),
  ];
  if (missed.length) process.exitCode = 1;
  console.log(`${role.padEnd(8)} ${rssMb.toFixed(0).padStart(6)}  ${libraries.join(', ')}${missed.length ? `  MISSED ${missed.join(', ')}` : ''}`);
}
rmSync(dir, { recursive: true, force: true });
