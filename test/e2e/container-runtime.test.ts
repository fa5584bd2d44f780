// The simulated node's container runtime (src/playground/kube/runtime.ts and runtime-process.mjs):
// real commands started by a process of its own, their output and exit relayed in order, their
// process groups killed on demand, on stop, and accounted for when the runtime itself dies.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ContainerRuntime, type ContainerEvents } from '../../src/playground/kube/runtime.js';

type Seen = ['missing'] | ['started'] | ['output', string, string] | ['error', string] | ['exited', number | null, string | null];

/** Runs `argv` and records every event until it exits (or is reported missing). */
function run(runtime: ContainerRuntime, argv: string[]): { id: number; seen: Seen[]; ended: Promise<Seen[]>; output(): string } {
  const seen: Seen[] = [];
  let end: () => void = () => undefined;
  const ended = new Promise<Seen[]>((resolve) => (end = () => resolve(seen)));
  const events: ContainerEvents = {
    missing: () => {
      seen.push(['missing']);
      end();
    },
    started: () => seen.push(['started']),
    output: (stream, text) => seen.push(['output', stream, text]),
    error: (message) => seen.push(['error', message]),
    exited: (code, signal) => {
      seen.push(['exited', code, signal]);
      end();
    },
  };
  const id = runtime.run({ command: argv[0]!, argv, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: '/' }, events);
  const output = () =>
    seen
      .filter((e) => e[0] === 'output')
      .map((e) => e[2])
      .join('');
  return { id, seen, ended, output };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether `pid` runs: a zombie (killed, not yet reaped by whoever inherited it) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of this process's children whose command line mentions `text`. */
function childrenRunning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return pids;
}

/** The pid a command printed as its first line (`sleep … & echo $!`). */
function printedPid(job: { output(): string }): number | undefined {
  const line = /^(\d+)\n/.exec(job.output());
  return line ? Number(line[1]) : undefined;
}

let runtime: ContainerRuntime;
beforeEach(() => (runtime = new ContainerRuntime()));
afterEach(() => runtime.stop());

test('a command runs: started, its stdout and stderr, then its exit code, in that order', async () => {
  const job = run(runtime, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
  const seen = await job.ended;
  expect(seen[0]).toEqual(['started']);
  expect(seen.at(-1)).toEqual(['exited', 3, null]);
  expect(seen).toContainEqual(['output', 'stdout', 'out\n']);
  expect(seen).toContainEqual(['output', 'stderr', 'err\n']);
});

test('an executable not in PATH is reported missing, and nothing runs', async () => {
  const job = run(runtime, ['kdebug-no-such-tool', '--version']);
  expect(await job.ended).toEqual([['missing']]);
});

test('the commands are children of the runtime process, not of the emulator: the emulator forks once, whatever the number of containers', async () => {
  const jobs = [1, 2, 3, 4, 5].map(() => run(runtime, ['sh', '-c', 'sleep 30']));
  await until('five containers started', () => (jobs.every((j) => j.seen.length > 0) ? true : undefined));
  expect(childrenRunning('sleep 30')).toEqual([]);
  expect(childrenRunning('runtime-process.mjs')).toHaveLength(1);
});

test('kill() ends the whole process group, whatever the command forked', async () => {
  const job = run(runtime, ['sh', '-c', 'sleep 30 & echo $!; wait']);
  const forked = await until('the forked pid', () => printedPid(job));
  runtime.kill(job.id);
  expect((await job.ended).at(-1)).toEqual(['exited', null, 'SIGKILL']);
  await until('the forked sleep to end', () => (alive(forked) ? undefined : true));
});

test('stop() kills every running container and ends the runtime process', async () => {
  const job = run(runtime, ['sh', '-c', 'sleep 30 & echo $!; wait']);
  const forked = await until('the forked pid', () => printedPid(job));
  const [runtimePid] = childrenRunning('runtime-process.mjs');
  runtime.stop();
  await until('the forked sleep to end', () => (alive(forked) ? undefined : true));
  await until('the runtime process to end', () => (runtimePid !== undefined && alive(runtimePid) ? undefined : true));
});

test('a runtime process that dies under its containers: they are killed and reported so, so that nothing waits forever', async () => {
  const job = run(runtime, ['sh', '-c', 'sleep 30 & echo $!; wait']);
  const forked = await until('the forked pid', () => printedPid(job));
  const [runtimePid] = childrenRunning('runtime-process.mjs');
  process.kill(runtimePid!, 'SIGKILL');
  expect((await job.ended).slice(-2)).toEqual([
    ['error', 'the container runtime exited'],
    ['exited', null, 'SIGKILL'],
  ]);
  await until('the forked sleep to end', () => (alive(forked) ? undefined : true));
  // The next container gets a new runtime process.
  expect((await run(runtime, ['sh', '-c', 'echo again']).ended).at(-1)).toEqual(['exited', 0, null]);
});

test('the runtime process ends quietly when the emulator leaves while it is still starting containers', async () => {
  // Its own stderr is inherited by the emulator's; here it is piped to read it.
  const program = fileURLToPath(new URL('../../src/playground/kube/runtime-process.mjs', import.meta.url));
  const child = spawn(process.execPath, [program], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let id = 0; id < 200; id++) child.send({ op: 'start', id, command: 'true', argv: ['true'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: '/' });
  setTimeout(() => child.disconnect(), 5);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
});

test("a burst of starts does not hold back a running container's exit until the last has started", async () => {
  const quick = run(runtime, ['sh', '-c', 'echo quick']);
  const burst = Array.from({ length: 40 }, () => run(runtime, ['sleep', '30']));
  await quick.ended;
  // Node's spawn blocks until the child has exec'd: started in a row, all 40 would be up first.
  expect(burst.filter((job) => job.seen.length > 0).length).toBeLessThan(burst.length);
  await until('the burst to start', () => (burst.every((job) => job.seen.length > 0) ? true : undefined));
});

test('a container killed before it started is reported killed, and never runs', async () => {
  const burst = Array.from({ length: 20 }, () => run(runtime, ['sleep', '30']));
  const late = run(runtime, ['sh', '-c', 'echo ran']);
  runtime.kill(late.id);
  expect(await late.ended).toEqual([['exited', null, 'SIGKILL']]);
  await until('the burst to start', () => (burst.every((job) => job.seen.length > 0) ? true : undefined));
});

/** This process's group in the hierarchy with the cpu controller, from a /proc/<pid>/cgroup text. */
function cpuGroupIn(cgroupFile: string): string | undefined {
  const lines = cgroupFile.split('\n').map((line) => line.split(':'));
  const line = lines.find(([, controllers]) => controllers!.split(',').includes('cpu')) ?? lines.find(([id]) => id === '0');
  return line?.slice(2).join(':');
}

test("the containers share one CPU cgroup, the node's, as a real node's pods share kubepods", async () => {
  const job = run(runtime, ['cat', '/proc/self/cgroup']);
  await job.ended;
  const group = runtime.cpuGroup();
  // Its containers run where it says: in its group, or, without one, where the emulator is.
  if (group && 'path' in group) expect(cpuGroupIn(job.output())).toBe(group.path);
  else expect(cpuGroupIn(job.output())).toBe(cpuGroupIn(readFileSync('/proc/self/cgroup', 'utf8')));
  // Root with cgroup v1's cpu hierarchy mounted read-write (this project's machines) must get one,
  // at the default weight (BestEffort's is only ever its sibling's).
  const mount = writableCpuMountV1();
  if (mount) {
    expect(group && 'path' in group ? group.path : `none: ${JSON.stringify(group)}`).toMatch(/\/kdebug-simulated-node$/);
    expect(group).toMatchObject({ weight: 'cpu.shares 1024' });
    expect(readFileSync(`${mount}${(group as { path: string }).path}/cpu.shares`, 'utf8').trim()).toBe('1024');
  } else expect(group).toBeDefined();
});

test("'besteffort': the containers, and what they fork, weigh what a kubelet gives pods that request no CPU; the runtime keeps the default weight", async () => {
  const besteffort = new ContainerRuntime('besteffort');
  try {
    const job = run(besteffort, ['sh', '-c', 'cat /proc/self/cgroup; exit 3']);
    const seen = await job.ended;
    // Joining the group changes nothing else: the command's output and exit code are its own.
    expect(seen.at(-1)).toEqual(['exited', 3, null]);
    const group = besteffort.cpuGroup();
    if (group && 'path' in group) expect(cpuGroupIn(job.output())).toBe(group.path);
    else expect(cpuGroupIn(job.output())).toBe(cpuGroupIn(readFileSync('/proc/self/cgroup', 'utf8')));
    const mount = writableCpuMountV1();
    if (mount) {
      expect(group && 'path' in group ? group.path : `none: ${JSON.stringify(group)}`).toMatch(/\/kdebug-simulated-node-besteffort$/);
      expect(group).toMatchObject({ weight: 'cpu.shares 2' });
      expect(readFileSync(`${mount}${(group as { path: string }).path}/cpu.shares`, 'utf8').trim()).toBe('2');
      // The runtime process itself (the node's kubelet and container runtime) is in the node's group.
      const runtimePid = childrenRunning('runtime-process.mjs').find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('besteffort'));
      expect(cpuGroupIn(readFileSync(`/proc/${runtimePid}/cgroup`, 'utf8'))).toMatch(/\/kdebug-simulated-node$/);
    } else expect(group).toBeDefined();
  } finally {
    besteffort.stop();
  }
});

/**
 * Where cgroup v1's cpu hierarchy is mounted, when this process is root and it is mounted read-write
 * (this project's machines): there the runtime must make its groups. Undefined otherwise.
 */
function writableCpuMountV1(): string | undefined {
  const v1 = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find(([, , type, options]) => type === 'cgroup' && options!.split(',').includes('cpu'));
  return process.getuid?.() === 0 && v1?.[3]!.split(',').includes('rw') ? v1[1] : undefined;
}
