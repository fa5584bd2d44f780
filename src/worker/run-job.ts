// One diagnostic job: find the pod, run the check's steps in a debug container, interpret the
// output, and put the answer in the job's outbox for delivery. Every failure becomes an answer too.
// Only progress updates of the root message go straight to Slack (best effort).
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyCheck } from '../checks/index.js';
import type { CheckContext, Finding } from '../checks/types.js';
import { debugContainerName } from '../core/debug-container.js';
import { UserFacingError } from '../core/errors.js';
import { cancelledOps, failedOps, replyOp, rootOp } from '../delivery/answer-ops.js';
import type { AnswerSink } from '../delivery/answer-sink.js';
import type { AnswerOp } from '../delivery/outbox.js';
import { runInPod, type PodRun } from '../runner/pod.js';
import type { KubeClients } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { DiagnosticJob } from '../queue/job.js';
import { findingMessage, rootMessage } from '../slack/render.js';
import type { JobThread } from '../slack/web.js';

export interface JobSettings {
  image: string;
  imagePullPolicy: string;
  maxLogBytes: number;
  maxInlineOutputChars: number;
  /** Every check's settings (config `checks`). */
  checks: CheckContext['settings'];
}

export interface JobOutcome {
  status: 'done' | 'failed' | 'cancelled' | 'recovered';
  verdict?: string;
  failure?: string;
  pod?: string;
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
  /** For progress updates of the root message only. */
  thread: JobThread;
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

const PROGRESS_INTERVAL_MS = 3000;

/**
 * Progress on the root message, best effort: a Slack hiccup never stops the diagnostic. Updates
 * coalesce: at most one chat.update in flight per job, the newest detail replaces any not yet
 * sent, none sooner than `progressIntervalMs` after the job started or after the previous one
 * (a job done within that time sends none), and one is sent only if chat.update's budget has a
 * slot free at that moment (else it is dropped: progress never delays an answer). settle()
 * drops what is pending and waits only for the call in flight, so a late progress update can
 * never overwrite the final status that the delivery posts afterwards.
 */
class Progress {
  private pending: string | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly intervalMs: number;
  private notBefore: number;

  constructor(
    private readonly deps: JobDeps,
    private readonly job: DiagnosticJob,
    private readonly now: () => number,
  ) {
    this.intervalMs = deps.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.notBefore = now() + this.intervalMs;
  }

  report(detail: string): void {
    if (this.closed) return;
    this.pending = detail;
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.inFlight || this.timer || this.pending === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.send();
      },
      Math.max(0, this.notBefore - this.now()),
    );
  }

  private send(): void {
    const detail = this.pending;
    if (this.closed || detail === undefined) return;
    this.pending = undefined;
    this.inFlight = this.deps.thread
      .updateRootIfFree(rootMessage(this.job, { state: 'running', detail }))
      .then(
        (sent) => {
          if (!sent) this.deps.logger.debug({ jobId: this.job.id }, 'progress update dropped: no chat.update slot free');
        },
        (err: Error) => this.deps.logger.warn({ err: err.message, jobId: this.job.id }, 'could not update progress'),
      )
      .finally(() => {
        this.inFlight = undefined;
        this.notBefore = this.now() + this.intervalMs;
        this.schedule();
      });
  }

  async settle(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
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
  const ops: AnswerOp[] = [];
  const progress = new Progress(deps, job, now);
  // A check with an output decoder (capture) has its log decoded into this file, attached if it holds anything.
  const output = check.decoder
    ? { decoder: check.decoder, maxBytes: check.decoder.maxBytes(context()), path: join(tmpdir(), `kdebug-${job.id}.${check.decoder.extension}`) }
    : undefined;
  let podName: string | undefined;
  let containerAdded = false;
  let outcome: JobOutcome;
  try {
    deps.signal?.throwIfAborted();
    progress.report(`finding ${job.target.kind} ${job.target.name}`);
    const result = await runInPod(deps.kube, {
      namespace: job.namespace,
      target: job.target,
      container: job.container,
      containerName,
      image: deps.settings.image,
      imagePullPolicy: deps.settings.imagePullPolicy,
      capabilities: check.capabilities,
      steps: check.steps(args, context()),
      timeoutSeconds: job.timeoutSeconds,
      deadline,
      maxLogBytes: deps.settings.maxLogBytes,
      signal: deps.signal,
      beforeAdd: deps.beforeAdd,
      ...(output ? { output } : {}),
      onPodPicked: (note) => {
        ops.push(replyOp({ text: note, blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: note }] }] }));
      },
      onProgress: (status) => {
        if (/^(added|found) debug container/.test(status)) containerAdded = true;
        log.info({ container: containerName, status }, 'debug container progress');
        progress.report(status);
      },
    });
    podName = result.pod;
    if (result.added) deps.metrics.containersAdded.inc({ namespace: job.namespace });
    const finding: Finding = check.interpret(args, result.results, context());
    const rendered = findingMessage(finding, {
      maxInlineOutputChars: deps.settings.maxInlineOutputChars,
      fileBaseName: `${job.check}-${podName}-${job.id}`,
      note: `pod ${podName} · container ${result.targetContainer} · debug container ${containerName}${result.deadlineState ? ' · deadline reached, partial output' : ''}`,
    });
    ops.push(replyOp(rendered));
    if (rendered.file)
      ops.push({
        kind: 'file',
        filename: rendered.file.filename,
        title: `${job.check} output for ${podName}`,
        source: { text: rendered.file.content },
      });
    // The artifact stays on disk: the outbox streams it into Redis, never holding it whole.
    if (result.artifact && check.decoder) {
      ops.push({
        kind: 'file',
        filename: `${job.check}-${podName}-${job.id}.${check.decoder.extension}`,
        title: `${check.decoder.title} from ${podName} (${job.namespace})`,
        source: { path: result.artifact.path },
      });
    }
    ops.push(rootOp(rootMessage(job, { state: 'done', finding, durationMs: now() - started })));
    deps.metrics.verdicts.inc({ check: job.check, verdict: finding.verdict });
    log.info({ pod: podName, container: containerName, verdict: finding.verdict, durationMs: now() - started }, 'job done');
    outcome = { status: 'done', verdict: finding.verdict, pod: podName, container: containerName };
  } catch (err) {
    if (deps.signal?.aborted && deps.signal.reason instanceof JobHandedBack) {
      await progress.settle();
      throw deps.signal.reason;
    }
    if (deps.signal?.aborted && deps.signal.reason instanceof JobCancelled) {
      const by = deps.signal.reason.by;
      log.info({ by }, 'job cancelled');
      ops.push(...cancelledOps(job, by, now() - started, containerAdded));
      await progress.settle();
      await deps.answers.write(job.id, ops);
      await deps.answers.deliver(job);
      return { status: 'cancelled', pod: podName, container: containerName };
    }
    const failure =
      err instanceof UserFacingError
        ? err
        : new UserFacingError(
            `Internal error while running the diagnostic (${(err as Error)?.message ?? String(err)}). The worker's log has details for job ${job.id}.`,
            'internal',
          );
    log.warn({ kind: failure.kind, err: failure.message, pod: podName }, 'job failed');
    deps.metrics.verdicts.inc({ check: job.check, verdict: `failed:${failure.kind}` });
    if (!['internal', 'deadline', 'invalid-target', 'not-running'].includes(failure.kind)) deps.metrics.kubernetesErrors.inc({ kind: failure.kind });
    ops.push(...failedOps(job, failure.message, now() - started));
    outcome = { status: 'failed', failure: failure.kind, pod: podName, container: containerName };
  }
  deps.metrics.jobDuration.observe({ check: job.check }, (now() - started) / 1000);
  await progress.settle();
  try {
    await deps.answers.write(job.id, ops);
  } finally {
    // Read by the write above, and needed no longer.
    if (output) await rm(output.path, { force: true });
  }
  await deps.answers.deliver(job);
  return outcome;
}
