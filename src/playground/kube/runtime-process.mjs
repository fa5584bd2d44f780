// The simulated node's container runtime, a small process of its own: it starts the containers'
// commands for the kubelet (runtime.ts) and relays their output and exit over its IPC channel.
//
// Why not spawn from the emulator: node's spawn blocks its thread until the child has exec'd, which
// on a busy machine waits for the child to be scheduled (3 to 7 ms each in bench/incident-load.mjs,
// a third of the emulator's time in a burst), and a real API server never forks. This process is
// small, so its forks are cheap, and its waits delay nobody else.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The CPU cgroup of the simulated node, beside this process's own; kept once made. */
const NODE_CPU_GROUP = 'kdebug-simulated-node';
/** Its containers' group when they weigh what a kubelet gives BestEffort pods; its sibling. */
const BESTEFFORT_CPU_GROUP = 'kdebug-simulated-node-besteffort';
/** How much the containers weigh: 'equal' (the node's group, as much as any sibling) or 'besteffort'. */
const containerWeight = process.argv[2] === 'besteffort' ? 'besteffort' : 'equal';
/** Set when the containers have a group other than this process's: each joins it before its command runs. */
let containersProcsFile;

/** The mounted hierarchy with the cpu controller, and this process's group in it; or why there is none. */
function cpuHierarchy() {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '));
  const v1 = mounts.find(([, , type, options]) => type === 'cgroup' && options.split(',').includes('cpu'));
  const v2 = mounts.find(([, , type]) => type === 'cgroup2');
  const mount = v1?.[1] ?? v2?.[1];
  if (!mount) return { unavailable: 'no cgroup hierarchy with the cpu controller is mounted' };
  // This process's group in that hierarchy: "N:cpu,cpuacct:/path" (v1) or "0::/path" (v2).
  const own = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find(([, controllers]) => (v1 ? controllers.split(',').includes('cpu') : controllers === ''));
  const parent = own?.slice(2).join(':') ?? '/';
  if (
    !v1 &&
    !readFileSync(join(mount, parent, 'cgroup.subtree_control'), 'utf8')
      .split(' ')
      .includes('cpu')
  ) {
    return { unavailable: `the cpu controller is not enabled below ${parent}` };
  }
  return { mount, parent, v1: v1 !== undefined };
}

/**
 * Makes (or finds: groups are kept between runs) group `name` beside this process's own and writes
 * its weight, so that the weight reported is the one in force. BestEffort is the kubelet's own
 * figure for that QoS class (cpu.shares 2; cpu.weight 1 on cgroup v2); the default weight otherwise.
 */
function cpuGroup({ mount, parent, v1 }, name, besteffort) {
  const path = join(parent, name);
  mkdirSync(join(mount, path), { recursive: true });
  const [file, value] = v1 ? ['cpu.shares', besteffort ? 2 : 1024] : ['cpu.weight', besteffort ? 1 : 100];
  writeFileSync(join(mount, path, file), String(value));
  return { path, weight: `${file} ${value}`, procsFile: join(mount, path, 'cgroup.procs') };
}

/**
 * Moves this process, and so every container it starts, into one CPU cgroup: the simulated node's,
 * as a real node's pods share its `kubepods` cgroup. Why: each container is started in a session of
 * its own (its own process group, for kill), and with the kernel's autogroup (on by default) every
 * session is scheduled as one entity, weighing as much as the whole session that runs kdebug and the
 * emulators. Fifty containers at once then had 50/51 of the CPU, as no real cluster's containers
 * take from the machines kdebug runs on (autogroup does not apply inside a cgroup).
 *
 * With 'besteffort', the containers get a group of their own at the weight a kubelet gives pods
 * that request no CPU (the simulated pods request none): they run on what the processes beside
 * them (kdebug, the emulators) leave, while this process, like a node's kubelet and container
 * runtime outside `kubepods`, keeps the default weight and relays their output and exits promptly.
 *
 * Returns the containers' group (its path in the hierarchy and weight), or why there is none (not
 * root, no writable cpu controller): the containers then run as before.
 */
function joinNodeCpuGroup() {
  try {
    const hierarchy = cpuHierarchy();
    if (hierarchy.unavailable) return hierarchy;
    const node = cpuGroup(hierarchy, NODE_CPU_GROUP, false);
    writeFileSync(node.procsFile, String(process.pid));
    const containers = containerWeight === 'besteffort' ? cpuGroup(hierarchy, BESTEFFORT_CPU_GROUP, true) : node;
    if (containers !== node) containersProcsFile = containers.procsFile;
    return { path: containers.path, weight: containers.weight };
  } catch (err) {
    return { unavailable: err.message };
  }
}

/** id → the container's process, until its stdio closes. */
const children = new Map();

function send(message) {
  // A failed send means the emulator is gone; 'disconnect' below ends the containers and this
  // process. (Without the callback, node would throw the failure, EPIPE, as an 'error' event.)
  if (process.connected) process.send(message, () => undefined);
}

/** Whether `file` (a path, or a name looked up in PATH) is an executable, as exec would find it. */
function executable(file, PATH) {
  const candidates = file.includes('/')
    ? [file]
    : PATH.split(':')
        .filter(Boolean)
        .map((dir) => join(dir, file));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Kills a container's process group (its stdio still being open means some member is alive). */
function killGroup(child) {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function start({ id, command, argv, env, cwd }) {
  if (!executable(command, env.PATH ?? '')) {
    send({ id, event: 'missing' });
    return;
  }
  // In a group of its own, the container joins it before its command runs, as runc does: moved
  // after the spawn, whatever it forked first would stay behind. (The path and argv are arguments,
  // never part of the script.)
  const [file, args] = containersProcsFile ? ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', containersProcsFile, ...argv]] : [argv[0], argv.slice(1)];
  // Own process group, so a kill reaches whatever the command forks.
  const child = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.set(id, child);
  send({ id, event: 'started', pid: child.pid });
  child.stdout.setEncoding('utf8').on('data', (text) => send({ id, event: 'output', stream: 'stdout', text }));
  child.stderr.setEncoding('utf8').on('data', (text) => send({ id, event: 'output', stream: 'stderr', text }));
  child.on('error', (err) => send({ id, event: 'error', message: err.message }));
  child.on('close', (code, signal) => {
    children.delete(id);
    send({ id, event: 'exited', code, signal });
  });
}

// Start requests not served yet, oldest first. Node's spawn blocks this process until the child has
// exec'd (tens of milliseconds on a busy machine), and the IPC channel hands over every queued
// message at once: started all in a row, a burst of containers kept this process from relaying any
// running container's output or exit until the last had started (in bench/incident-load.mjs, 600 ms
// of containers then all "ended" within a millisecond). One start per turn of the event loop lets
// output and exits through in between, as on a real node, whose runtime starts containers apart.
const queued = [];
let starting = false;

function startNext() {
  const next = queued.shift();
  if (next) start(next);
  starting = queued.length > 0;
  if (starting) setImmediate(startNext);
}

function kill(id) {
  const at = queued.findIndex((message) => message.id === id);
  if (at === -1) return killGroup(children.get(id));
  // Killed before it started: it never runs.
  queued.splice(at, 1);
  send({ id, event: 'exited', code: null, signal: 'SIGKILL' });
}

send({ event: 'cpu-group', ...joinNodeCpuGroup() });

process.on('message', (message) => {
  if (message.op === 'start') {
    queued.push(message);
    if (!starting) {
      starting = true;
      setImmediate(startNext);
    }
  } else if (message.op === 'kill') kill(message.id);
});

// The emulator stopped (or died): so do its containers.
process.on('disconnect', () => {
  for (const child of children.values()) killGroup(child);
  process.exit(0);
});
