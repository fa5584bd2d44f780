// Starts kdebug roles as real child processes (node dist/cli.js <role>) and keeps their output,
// so tests can wait on it, show it when something fails, and search it for leaked secrets.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = 'dist/cli.js';

/** The flags the image starts node with (the Dockerfile's ENTRYPOINT), so tests run what ships. */
export function shippedNodeFlags(): string[] {
  const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (!entrypoint) throw new Error('the Dockerfile has no exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint[1]!) as string[];
  return argv.slice(1).filter((arg) => arg.startsWith('--'));
}
/** The shipped policy refuses everything; tests start from one that allows everything. */
export const ALLOW_ALL_POLICY = fileURLToPath(new URL('../fixtures/policy/allow-all.yaml', import.meta.url));

/**
 * What every test process starts with unless the test says otherwise: a free health port (parallel
 * suites never collide), the allow-all policy, and pod budgets that suites adding many containers
 * to one pod do not reach (the budget has a test of its own).
 */
const TEST_DEFAULTS: Record<string, string> = {
  KDEBUG_HEALTH_PORT: '0',
  KDEBUG_POLICY_PATH: ALLOW_ALL_POLICY,
  KDEBUG_LIMITS_POD_BUDGET_MAX_CONTAINERS: '1000',
  KDEBUG_LIMITS_POD_BUDGET_OVERRIDE_MAX_CONTAINERS: '1000',
};

export interface RoleProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when a line of output matches, rejects on exit or timeout (with the output so far). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function startRole(role: 'bot' | 'worker' | 'all', env: Record<string, string>): RoleProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const child = spawn(process.execPath, [...shippedNodeFlags(), CLI, role], { env: { PATH: process.env.PATH ?? '', ...TEST_DEFAULTS, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    child,
    output: () => output,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) done(resolve);
        };
        const timer = setTimeout(() => done(() => reject(new Error(`kdebug ${role}: no output matching ${pattern} within ${timeoutMs} ms. Output:\n${output}`))), timeoutMs);
        const onExit = () => done(() => reject(new Error(`kdebug ${role} exited (code ${child.exitCode}) before printing ${pattern}. Output:\n${output}`)));
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
          settle();
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
