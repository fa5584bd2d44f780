// Runs a check's steps on this machine (`kdebug run --local`): the same sequencing script the
// debug container runs, so the same parsers read the output.
import { spawn } from 'node:child_process';
import type { Step, StepResult } from '../checks/types.js';
import { newMarker, scriptCommand, splitOutput } from './script.js';

export async function runLocally(steps: Step[], timeoutSeconds: number): Promise<StepResult[]> {
  const marker = newMarker();
  const [shell, ...args] = scriptCommand(steps, marker);
  const log = await new Promise<string>((resolve, reject) => {
    const child = spawn(shell!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutSeconds * 1000, killSignal: 'SIGKILL' });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
  return splitOutput(log, steps, marker);
}
