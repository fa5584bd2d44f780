// The answer to a job for one pod (named, or picked from its workload): the finding as a threaded
// reply, the tools' raw output inline or attached, a capture's pcap attached.
import type { Finding } from '../checks/types.js';
import { replyOp, rootOp } from '../delivery/answer-ops.js';
import { runInPod } from '../runner/pod.js';
import { nextStepButtons, nextSteps } from '../slack/next-steps.js';
import { findingMessage, rootMessage } from '../slack/render.js';
import { artifactRequest, podRun, type Attempt } from './attempt.js';
import type { JobOutcome } from './run-job.js';

/** How often a long check's live progress is read (the root message shows it at most every 3 s). */
const LIVE_PROGRESS_MS = 2000;

/** The job's one pod (named, or picked from its workload): its finding as a threaded reply. */
export async function answerOnePod(attempt: Attempt): Promise<JobOutcome> {
  const { job, check, args, deps, log, ops, progress, context, containerName, now, started } = attempt;
  const output = artifactRequest(attempt);
  const result = await runInPod(deps.kube, {
    ...podRun(attempt),
    ...(output ? { output } : {}),
    // A long check (capture) says how far it is; the root message shows it within Slack's pacing.
    ...(check.liveProgress
      ? {
          liveProgress: {
            everyMs: LIVE_PROGRESS_MS,
            describe: (done) => check.liveProgress!(args, done, context()),
            report: (line) => progress.report(line),
          },
        }
      : {}),
    onPodPicked: (note) => {
      ops.push(replyOp({ text: note, blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: note }] }] }));
    },
    onProgress: (status) => {
      const added = /^(?:added|found) debug container \S+ (?:to|in) pod (\S+)/.exec(status);
      if (added) attempt.podsWithContainer.add(added[1]!);
      log.info({ container: containerName, status }, 'debug container progress');
      progress.report(status);
    },
  });
  const podName = result.pod;
  if (result.added) deps.metrics.containersAdded.inc({ namespace: job.namespace });
  const finding: Finding = check.interpret(args, result.results, context());
  const rendered = findingMessage(finding, {
    maxInlineOutputChars: deps.settings.maxInlineOutputChars,
    fileBaseName: `${job.check}-${podName}-${job.id}`,
    note: `pod ${podName} · container ${result.targetContainer} · debug container ${containerName}${result.deadlineState ? ' · deadline reached, partial output' : ''}`,
  });
  const buttons = nextStepButtons(nextSteps(job, finding, podName));
  ops.push(replyOp(buttons ? { ...rendered, blocks: [...rendered.blocks, buttons] } : rendered));
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
  return { status: 'done', verdict: finding.verdict, pod: podName, container: containerName };
}
