// The kubelet's side of the simulated container runtime (runtime-process.mjs): it starts that
// process on first use, asks it to start and kill containers' commands, and hands each container's
// events to its own callbacks, in the order the runtime saw them.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Beside this module in src/playground/kube/, and beside the chunks in dist/ (scripts/build.mjs copies it). */
const RUNTIME_PROCESS = fileURLToPath(new URL('./runtime-process.mjs', import.meta.url));

export interface ContainerCommand {
  /** The container's own executable, looked up in env.PATH: missing, the container fails to start. */
  command: string;
  /** What runs: the command and its arguments, perhaps wrapped (`ip netns exec …`). */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface ContainerEvents {
  /** The command's executable was not found; nothing ran. */
  missing(): void;
  started(): void;
  output(stream: 'stdout' | 'stderr', text: string): void;
  error(message: string): void;
  /** Its stdio closed: the command and whatever it forked ended. */
  exited(code: number | null, signal: NodeJS.Signals | null): void;
}

/** Where the node's containers are scheduled: one CPU cgroup (its path and weight, e.g. "cpu.shares 2"), or why not. */
export type CpuGroup = { path: string; weight: string } | { unavailable: string };

/**
 * The node's containers' CPU weight against the processes outside the node: 'equal' (their group
 * weighs as much as any other, e.g. the session running kdebug and the emulators) or 'besteffort'
 * (a kubelet's weight for pods that request no CPU: they run on what the others leave).
 */
export type NodeCpuWeight = 'equal' | 'besteffort';

type RuntimeEvent =
  | ({ id?: undefined; event: 'cpu-group' } & CpuGroup)
  | { id: number; event: 'missing' }
  | { id: number; event: 'started'; pid?: number }
  | { id: number; event: 'output'; stream: 'stdout' | 'stderr'; text: string }
  | { id: number; event: 'error'; message: string }
  | { id: number; event: 'exited'; code: number | null; signal: NodeJS.Signals | null };

interface Container {
  events: ContainerEvents;
  pid?: number;
}

export class ContainerRuntime {
  private process: ChildProcess | undefined;
  private nextId = 1;
  private readonly containers = new Map<number, Container>();
  private reportedCpuGroup: CpuGroup | undefined;

  constructor(private readonly cpuWeight: NodeCpuWeight = 'equal') {}

  /** Starts `command`; returns the id that kill() takes. */
  run(command: ContainerCommand, events: ContainerEvents): number {
    const id = this.nextId++;
    this.containers.set(id, { events });
    // A send that fails means the runtime process is gone: its 'exit' reports the container killed.
    this.runtime().send({ op: 'start', id, ...command }, () => undefined);
    return id;
  }

  /** SIGKILLs the container's process group. */
  kill(id: number): void {
    if (this.containers.has(id)) this.process?.send({ op: 'kill', id }, () => undefined);
  }

  /** Where the containers are scheduled, as the runtime process reported on starting (undefined before). */
  cpuGroup(): CpuGroup | undefined {
    return this.reportedCpuGroup;
  }

  /** Kills every container's process group now, and ends the runtime process. */
  stop(): void {
    for (const { pid } of this.containers.values()) killGroup(pid);
    this.containers.clear();
    // The runtime process kills whatever is left (a container it was starting) and exits.
    if (this.process?.connected) this.process.disconnect();
    this.process = undefined;
  }

  private runtime(): ChildProcess {
    if (this.process) return this.process;
    // No execArgv: the emulator's own flags (a test runner's, a profiler's) are not the runtime's.
    const child = spawn(process.execPath, [RUNTIME_PROCESS, this.cpuWeight], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (message: RuntimeEvent) => this.deliver(message));
    const ended = () => {
      if (this.process !== child) return;
      // It died under its containers: they are killed, and reported so, so that nothing waits on them forever.
      this.process = undefined;
      for (const [id, { pid }] of [...this.containers]) {
        killGroup(pid);
        this.deliver({ id, event: 'error', message: 'the container runtime exited' });
        this.deliver({ id, event: 'exited', code: null, signal: 'SIGKILL' });
      }
    };
    // 'error': it could not be started (failed sends go to their callbacks; nothing here kills it).
    child.on('exit', ended);
    child.on('error', ended);
    // Its channel alone never keeps the emulator's process alive: that ends when its servers close.
    child.unref();
    child.channel?.unref();
    this.process = child;
    return child;
  }

  private deliver(message: RuntimeEvent): void {
    if (message.event === 'cpu-group') {
      this.reportedCpuGroup = 'path' in message ? { path: message.path, weight: message.weight } : { unavailable: message.unavailable };
      return;
    }
    const container = this.containers.get(message.id);
    if (!container) return;
    switch (message.event) {
      case 'missing':
        this.containers.delete(message.id);
        container.events.missing();
        break;
      case 'started':
        container.pid = message.pid;
        container.events.started();
        break;
      case 'output':
        container.events.output(message.stream, message.text);
        break;
      case 'error':
        container.events.error(message.message);
        break;
      case 'exited':
        this.containers.delete(message.id);
        container.events.exited(message.code, message.signal);
        break;
    }
  }
}

/** SIGKILLs a container's process group (its command and whatever that forked). */
function killGroup(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
