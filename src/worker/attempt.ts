// One attempt at a job, as the part that diagnoses it (one pod, or every pod with --all) sees it.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyCheck } from '../checks/index.js';
import type { CheckContext } from '../checks/types.js';
import type { AnswerOp } from '../delivery/outbox.js';
import type { Logger } from '../observability/logger.js';
import type { DiagnosticJob } from '../queue/job.js';
import type { Target } from '../core/target.js';
import type { ArtifactRequest } from '../runner/decoded-log.js';
import type { PodStepsRun } from '../runner/pod.js';
import type { Progress } from './progress.js';
import type { JobDeps } from './run-job.js';

/** One attempt at a job, as the part that diagnoses sees it. */
export interface Attempt {
  job: DiagnosticJob;
  check: AnyCheck;
  args: unknown;
  deps: JobDeps;
  log: Logger;
  now: () => number;
  started: number;
  deadline: number;
  containerName: string;
  context: () => CheckContext;
  progress: Progress;
  /** The answer so far: the diagnosing part adds its replies, files and the root's final state. */
  ops: AnswerOp[];
  /** Files to remove once the answer is written (the outbox has read them). */
  scratch: string[];
  /** Pods a debug container was added to (or found in): for the cancel message and the audit record. */
  podsWithContainer: Set<string>;
}

/** What a job's pods are run with, one pod or all of them: target, image, steps, deadline, budget. */
export function podRun(attempt: Attempt): PodStepsRun & { target: Target } {
  const { job, check, args, deps, containerName, context } = attempt;
  return {
    namespace: job.namespace,
    target: job.target,
    ...(job.container ? { container: job.container } : {}),
    containerName,
    image: deps.settings.image,
    imagePullPolicy: deps.settings.imagePullPolicy,
    capabilities: check.capabilities,
    steps: check.steps(args, context()),
    timeoutSeconds: job.timeoutSeconds,
    deadline: attempt.deadline,
    maxLogBytes: deps.settings.maxLogBytes,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.beforeAdd ? { beforeAdd: deps.beforeAdd } : {}),
  };
}

/** A check's output decoder's file for this job (and pod, for `--all`), attached if it holds anything. */
export function artifactRequest(attempt: Attempt, pod?: string, pods = 1): ArtifactRequest | undefined {
  const { check, job } = attempt;
  if (!check.decoder) return undefined;
  const path = join(tmpdir(), `kdebug-${job.id}${pod ? `-${pod}` : ''}.${check.decoder.extension}`);
  attempt.scratch.push(path);
  // With --all the pods share the one budget (checks.capture.maxBytes): every pcap waits in Redis until posted.
  return { decoder: check.decoder, maxBytes: Math.floor(check.decoder.maxBytes(attempt.context()) / pods), path };
}
