// One diagnostic job: find the pod, run the check's steps in a debug container, interpret the
// output, and put the answer in the job's outbox for delivery. Every failure becomes an answer too.
// Only progress updates of the root message go straight to Slack (best effort).
import { rm } from 'node:fs/promises';
import type { AnyCheck } from '../checks/index.js';
import type { CheckContext } from '../checks/types.js';
import { debugContainerName } from '../core/debug-container.js';
import { describeTarget } from '../core/target.js';
import { UserFacingError } from '../core/errors.js';
import { cancelledOps, failedOps } from '../delivery/answer-ops.js';
import type { AnswerSink } from '../delivery/answer-sink.js';
import type { Config } from '../config/schema.js';
import type { KubeClients } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { DiagnosticJob } from '../queue/job.js';
import type { PodRun } from '../runner/pod.js';
import type { RootUpdates } from '../slack/web.js';
import { answerAllPods } from './all-pods.js';
import type { Attempt } from './attempt.js';
import { answerOnePod } from './one-pod.js';
import { Progress } from './progress.js';

export interface JobSettings {
  image: string;
  imagePullPolicy: string;
  maxLogBytes: number;
  maxInlineOutputChars: number;
  /** Every check's settings (config `checks`). */
  checks: CheckContext['settings'];
  /** `--all`: how many pods, how many at once (config `fanout`). */
  fanout: Config['fanout'];
}

export interface JobOutcome {
  status: 'done' | 'failed' | 'cancelled' | 'recovered';
  verdict?: string;
  failure?: string;
  pod?: string;
  /** `--all`: every pod a container was added to or found in. */
  pods?: string[];
  /** `--all`: the comparison's headline. */
  headline?: string;
  container?: string;
}

/** The worker is shutting down: the job goes back to the queue rather than answering now. */
export class JobHandedBack extends Error {
  override name = 'JobHandedBack';
  constructor() {
    super('the worker is shutting down; the job goes back to the queue');
  }
}

/** Someone cancelled the job (/kdebug cancel or the Cancel button). */
export class JobCancelled extends Error {
  override name = 'JobCancelled';
  constructor(readonly by: string) {
    super(`cancelled by ${by}`);
  }
}

export interface JobDeps {
  kube: KubeClients;
  /** Checks the pod's container budget before a container is added (see PodRun.beforeAdd). */
  beforeAdd?: PodRun['beforeAdd'];
  /** Progress updates of the root message: straight to Slack, or relayed by the bot for a worker without Slack credentials. */
  rootUpdates?: RootUpdates;
  answers: AnswerSink;
  settings: JobSettings;
  logger: Logger;
  metrics: Metrics;
  /** Aborted with JobHandedBack when the worker shuts down mid-job. */
  signal?: AbortSignal;
  now?: () => number;
  /** The least time between progress updates of one job, and before the first (default 3 s). */
  progressIntervalMs?: number;
}

export async function runJob(job: DiagnosticJob, check: AnyCheck, args: unknown, deps: JobDeps): Promise<JobOutcome> {
  const log = deps.logger.child({ jobId: job.id, check: job.check, namespace: job.namespace });
  if (await deps.answers.exists(job.id)) {
    // An earlier attempt finished the diagnostic and died before handing over the answer.
    log.info('answer already written by an earlier attempt; delivering it');
    await deps.answers.deliver(job);
    return { status: 'recovered' };
  }
  const now = deps.now ?? Date.now;
  const started = now();
  const deadline = job.enqueuedAt + job.timeoutSeconds * 1000;
  const containerName = debugContainerName(job.id);
  const context = (): CheckContext => ({ settings: deps.settings.checks, now: new Date(now()), secondsLeft: (deadline - now()) / 1000 });
  const attempt: Attempt = {
    job,
    check,
    args,
    deps,
    log,
    now,
    started,
    deadline,
    containerName,
    context,
    progress: new Progress(deps, job, now),
    ops: [],
    scratch: [],
    podsWithContainer: new Set(),
  };
  try {
    return await finish(attempt);
  } finally {
    // Read by the outbox once the answer is written, and needed no longer; a cancelled or
    // handed-back job leaves nothing behind either.
    await Promise.all(attempt.scratch.map((path) => rm(path, { force: true })));
  }
}

/** Runs the attempt and writes its answer: a finding, a comparison, a failure or a cancellation. */
async function finish(attempt: Attempt): Promise<JobOutcome> {
  const { job, deps, log, ops, progress, now, started, containerName } = attempt;
  const pods = () => [...attempt.podsWithContainer].sort();
  let outcome: JobOutcome;
  try {
    deps.signal?.throwIfAborted();
    progress.report(job.target.kind === 'selector' ? `finding the pods of ${describeTarget(job.target)}` : `finding ${job.target.kind} ${job.target.name}`);
    outcome = job.all ? await answerAllPods(attempt) : await answerOnePod(attempt);
  } catch (err) {
    if (deps.signal?.aborted && deps.signal.reason instanceof JobHandedBack) {
      await progress.settle();
      throw deps.signal.reason;
    }
    if (deps.signal?.aborted && deps.signal.reason instanceof JobCancelled) {
      const by = deps.signal.reason.by;
      log.info({ by }, 'job cancelled');
      ops.push(...cancelledOps(job, by, now() - started, pods()));
      await progress.settle();
      await deps.answers.write(job.id, ops);
      await deps.answers.deliver(job);
      return { status: 'cancelled', container: containerName, ...podsOf(job, pods()) };
    }
    const failure =
      err instanceof UserFacingError
        ? err
        : new UserFacingError(
            `Internal error while running the diagnostic (${(err as Error)?.message ?? String(err)}). The worker's log has details for job ${job.id}.`,
            'internal',
          );
    log.warn({ kind: failure.kind, err: failure.message }, 'job failed');
    deps.metrics.verdicts.inc({ check: job.check, verdict: `failed:${failure.kind}` });
    if (!['internal', 'deadline', 'invalid-target', 'not-running'].includes(failure.kind)) deps.metrics.kubernetesErrors.inc({ kind: failure.kind });
    ops.push(...failedOps(job, failure.message, now() - started));
    outcome = { status: 'failed', failure: failure.kind, container: containerName, ...podsOf(job, pods()) };
  }
  deps.metrics.jobDuration.observe({ check: job.check }, (now() - started) / 1000);
  const built = performance.now();
  await progress.settle();
  await deps.answers.write(job.id, ops);
  await deps.answers.deliver(job);
  deps.metrics.answerSteps.observe({ step: 'handover' }, (performance.now() - built) / 1000);
  return outcome;
}

/** For the audit record: the pod (or with --all, every pod) a debug container went into. */
function podsOf(job: DiagnosticJob, pods: string[]): Pick<JobOutcome, 'pod' | 'pods'> {
  if (job.all) return pods.length ? { pods } : {};
  return pods[0] ? { pod: pods[0] } : {};
}
