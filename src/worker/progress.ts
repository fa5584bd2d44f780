// A job's progress on its root message, within Slack's budget.
import type { DiagnosticJob } from '../queue/job.js';
import { rootMessage } from '../slack/render.js';
import type { JobDeps } from './run-job.js';

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
export class Progress {
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
    if (this.closed || !this.deps.rootUpdates) return;
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
    this.inFlight = this.deps
      .rootUpdates!.updateRootIfFree(rootMessage(this.job, { state: 'running', detail }))
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
