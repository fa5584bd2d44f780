// Runs a check's steps on this machine (`kdebug run --local`): the same sequencing script the
// debug container runs, so the same parsers read the output. A check with an output decoder
// (capture) has its output decoded into a file while it runs, exactly as the pod runner does.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Step, StepResult } from '../checks/types.js';
import { decodeToFile, discardArtifact, keptArtifact, type Artifact, type ArtifactRequest, type DecodedLog } from './decoded-log.js';
import { newMarker, scriptCommand, splitOutput } from './script.js';

export interface LocalRun {
  steps: Step[];
  timeoutSeconds: number;
  /** For a check with an output decoder: the decoder, where its artifact goes, the most bytes to keep. */
  output?: ArtifactRequest;
}

export interface LocalRunResult {
  results: StepResult[];
  /** The decoded artifact (run.output), when it holds anything worth attaching. */
  artifact?: Artifact;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

export async function runLocal(run: LocalRun): Promise<LocalRunResult> {
  const marker = newMarker();
  const [shell, ...args] = scriptCommand(run.steps, marker);
  const decoded = run.output ? decodeToFile(run.output) : undefined;
  let child: Child | undefined;
  try {
    child = spawn(shell!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: run.timeoutSeconds * 1000, killSignal: 'SIGKILL' });
    const log = decoded ? await decodedOutput(child, decoded) : await collectedOutput(child);
    const results = splitOutput(log, run.steps, marker);
    const artifact = run.output && decoded ? await keptArtifact(run.output, decoded) : undefined;
    return { results, ...(artifact ? { artifact } : {}) };
  } catch (err) {
    child?.kill('SIGKILL');
    await discardArtifact(run.output);
    throw err;
  }
}

function collectedOutput(child: Child): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

/** stdout and stderr interleaved, as a container log is, streamed through the decoder. */
async function decodedOutput(child: Child, decoded: DecodedLog): Promise<string> {
  const merged = new PassThrough();
  child.stdout.pipe(merged, { end: false });
  child.stderr.pipe(merged, { end: false });
  // 'close' comes after both streams ended, so everything they carried is in `merged` by then.
  child.on('close', () => merged.end());
  child.on('error', (err) => merged.destroy(err));
  await pipeline(merged, decoded);
  return decoded.result().text;
}
