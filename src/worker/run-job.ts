// One diagnostic job, start to finish: find the pod, run the check's steps in a debug container,
// interpret the output, and answer in the job's thread. Every failure becomes a message there.
import type { CheckDefinition, CheckSettings, Finding } from '../checks/types.js';
import { runInPod } from '../exec/pod-runner.js';
import type { KubeClients } from '../kube/client.js';
import { UserFacingError } from '../kube/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { debugContainerName, type DiagnosticJob } from '../queue/job.js';
import { failureMessage, findingMessage, rootMessage } from '../slack/render.js';
import type { JobThread } from '../slack/web.js';

export interface JobSettings {
  image: string;
  imagePullPolicy: string;
  maxLogBytes: number;
  maxInlineOutputChars: number;
  checks: CheckSettings;
}

export interface JobOutcome {
  status: 'done' | 'failed';
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

export interface JobDeps {
  kube: KubeClients;
  thread: JobThread;
  settings: JobSettings;
  logger: Logger;
  metrics: Metrics;
  /** Aborted with JobHandedBack when the worker shuts down mid-job. */
  signal?: AbortSignal;
  now?: () => number;
}

/** Update the root message without letting a Slack hiccup stop the diagnostic. */
async function progress(deps: JobDeps, job: DiagnosticJob, detail: string): Promise<void> {
  try {
    await deps.thread.updateRoot(rootMessage(job, { state: 'running', detail }));
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, jobId: job.id }, 'could not update progress');
  }
}

export async function runJob(job: DiagnosticJob, check: CheckDefinition<unknown>, args: unknown, deps: JobDeps): Promise<JobOutcome> {
  const now = deps.now ?? Date.now;
  const started = now();
  const deadline = job.enqueuedAt + job.timeoutSeconds * 1000;
  const log = deps.logger.child({ jobId: job.id, check: job.check, namespace: job.namespace });
  let podName: string | undefined;
  let containerName: string | undefined;
  try {
    await progress(deps, job, `finding ${job.target.kind} ${job.target.name}`);
    containerName = debugContainerName(job.id);
    const result = await runInPod(deps.kube, {
      namespace: job.namespace,
      target: job.target,
      container: job.container,
      containerName,
      image: deps.settings.image,
      imagePullPolicy: deps.settings.imagePullPolicy,
      capabilities: check.capabilities,
      steps: check.steps(args, { settings: deps.settings.checks, now: new Date(now()) }),
      timeoutSeconds: job.timeoutSeconds,
      deadline,
      maxLogBytes: deps.settings.maxLogBytes,
      signal: deps.signal,
      onPodPicked: (note) => deps.thread.reply({ text: note, blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: note }] }] }),
      onProgress: (status) => {
        log.info({ container: containerName, status }, 'debug container progress');
        void progress(deps, job, status);
      },
    });
    podName = result.pod;
    if (result.added) deps.metrics.containersAdded.inc({ namespace: job.namespace });
    const results = result.results;
    const finding: Finding = check.interpret(args, results, { settings: deps.settings.checks, now: new Date(now()) });
    const rendered = findingMessage(finding, {
      maxInlineOutputChars: deps.settings.maxInlineOutputChars,
      fileBaseName: `${job.check}-${podName}-${job.id}`,
      note: `pod ${podName} · container ${result.targetContainer} · debug container ${containerName}${result.deadlineState ? ' · deadline reached, partial output' : ''}`,
    });
    await deps.thread.reply(rendered);
    if (rendered.file) await deps.thread.attach(rendered.file.filename, rendered.file.content, `${job.check} output for ${podName}`);
    await deps.thread.updateRoot(rootMessage(job, { state: 'done', finding, durationMs: now() - started }));
    log.info({ pod: podName, container: containerName, verdict: finding.verdict, durationMs: now() - started }, 'job done');
    deps.metrics.verdicts.inc({ check: job.check, verdict: finding.verdict });
    deps.metrics.jobDuration.observe({ check: job.check }, (now() - started) / 1000);
    return { status: 'done', verdict: finding.verdict, pod: podName, container: containerName };
  } catch (err) {
    if (deps.signal?.aborted && deps.signal.reason instanceof JobHandedBack) throw deps.signal.reason;
    const failure = err instanceof UserFacingError ? err : new UserFacingError(`Internal error while running the diagnostic (${(err as Error)?.message ?? String(err)}). The worker's log has details for job ${job.id}.`, 'internal');
    log.warn({ kind: failure.kind, err: failure.message, pod: podName }, 'job failed');
    deps.metrics.verdicts.inc({ check: job.check, verdict: `failed:${failure.kind}` });
    deps.metrics.jobDuration.observe({ check: job.check }, (now() - started) / 1000);
    if (!['internal', 'deadline', 'invalid-target', 'not-running'].includes(failure.kind)) deps.metrics.kubernetesErrors.inc({ kind: failure.kind });
    await deps.thread.reply(failureMessage(failure.message));
    await deps.thread.updateRoot(rootMessage(job, { state: 'failed', message: failure.message, durationMs: now() - started }));
    return { status: 'failed', failure: failure.kind, pod: podName, container: containerName };
  }
}
