// The simulated node's container runtime, a small process of its own: it starts the containers'
// commands for the kubelet (runtime.ts) and relays their output and exit over its IPC channel.
//
// Why not spawn from the emulator: node's spawn blocks its thread until the child has exec'd, which
// on a busy machine waits for the child to be scheduled (3 to 7 ms each in bench/incident-load.mjs,
// a third of the emulator's time in a burst), and a real API server never forks. This process is
// small, so its forks are cheap, and its waits delay nobody else.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

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
  // Own process group, so a kill reaches whatever the command forks.
  const child = spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
