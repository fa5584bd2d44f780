// The answer to `--all`: the check in every pod of the workload (or label selector), compared in
// ONE threaded reply: the pattern as the headline, a table with the odd pods first, every pod's
// output in one attached file; a capture's pcaps attached one per pod. The root message counts the
// pods done while they run, within the pacing rules.
import { replyOp, rootOp } from '../delivery/answer-ops.js';
import { compareAllPods, runOnAllPods } from '../runner/fanout.js';
import { nextStepButtons, nextSteps } from '../slack/next-steps.js';
import { comparisonEmoji, comparisonMessage } from '../slack/render-fanout.js';
import { rootMessage } from '../slack/render.js';
import { artifactRequest, podRun, type Attempt } from './attempt.js';
import type { JobOutcome } from './run-job.js';

export async function answerAllPods(attempt: Attempt): Promise<JobOutcome> {
  const { job, check, args, deps, log, ops, progress, context, containerName, now, started } = attempt;
  const run = await runOnAllPods(deps.kube, {
    ...podRun(attempt),
    maxPods: deps.settings.fanout.maxPods,
    maxParallel: deps.settings.fanout.maxParallel,
    outputFor: (pod, pods) => artifactRequest(attempt, pod, pods),
    onContainerStatus: (pod, status) => {
      if (/^(added|found) debug container/.test(status)) attempt.podsWithContainer.add(pod);
      log.debug({ pod, container: containerName, status }, 'debug container progress');
    },
    onProgress: (status) => progress.report(status),
  });

  const { comparison, pods } = compareAllPods(check, args, run, context);
  for (const pod of pods) {
    if (pod.added) deps.metrics.containersAdded.inc({ namespace: job.namespace });
    if (pod.finding) deps.metrics.verdicts.inc({ check: job.check, verdict: pod.finding.verdict });
  }
  const fileBaseName = `${job.check}-${job.target.name.replace(/[^A-Za-z0-9.-]+/g, '-')}-${job.id}`;
  const notes = [run.zonesProblem, `debug container ${containerName} in each pod`].filter(Boolean).join(' · ');
  const rendered = comparisonMessage(comparison, pods, { sample: run.sample, note: notes, maxInlineOutputChars: deps.settings.maxInlineOutputChars, fileBaseName });
  const buttons = nextStepButtons(nextSteps(job, undefined));
  ops.push(replyOp(buttons ? { ...rendered, blocks: [...rendered.blocks, buttons] } : rendered));
  if (rendered.file) ops.push({ kind: 'file', filename: rendered.file.filename, title: `${job.check} output of every pod`, source: { text: rendered.file.content } });
  // The artifacts stay on disk: the outbox streams each into Redis, never holding it whole.
  for (const pod of run.pods) {
    if (pod.result?.artifact && check.decoder) {
      ops.push({
        kind: 'file',
        filename: `${job.check}-${pod.pod}-${job.id}.${check.decoder.extension}`,
        title: `${check.decoder.title} from ${pod.pod} (${job.namespace})`,
        source: { path: pod.result.artifact.path },
      });
    }
  }
  ops.push(rootOp(rootMessage(job, { state: 'compared', headline: comparison.headline, emoji: comparisonEmoji(comparison), durationMs: now() - started })));
  const checked = [...attempt.podsWithContainer].sort();
  // The worst verdict stands for the request in the audit record and the logs.
  const worst = Object.keys(comparison.summary.byVerdict)[0];
  log.info({ pods: checked, summary: comparison.summary, container: containerName, durationMs: now() - started }, 'job done');
  return { status: 'done', ...(worst ? { verdict: worst } : {}), headline: comparison.headline, pods: checked, container: containerName };
}
