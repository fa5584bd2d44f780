// Prometheus metrics (prom-client), served on /metrics by the health server.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'kdebug_requests_total',
    help: 'Slash commands by check and outcome (enqueued, usage, help, duplicate, not-in-channel, refused, rate-limited, enqueue-failed).',
    labelNames: ['check', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly verdicts = new Counter({
    name: 'kdebug_verdicts_total',
    help: 'Finished diagnostics by check and verdict (or failure kind).',
    labelNames: ['check', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: 'kdebug_job_duration_seconds',
    help: 'Time from a worker taking a job to its final answer.',
    labelNames: ['check'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  readonly queueWait = new Histogram({
    name: 'kdebug_queue_wait_seconds',
    help: 'Time a job waited in the queue before a worker took it.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly answerSteps = new Histogram({
    name: 'kdebug_answer_step_seconds',
    help:
      "The steps from a diagnostic's answer to Slack: handover (answer built → in the outbox and queued for delivery, by the worker), " +
      'pickup (queued → taken by a delivery process) and post (taken → its first reply accepted by Slack).',
    labelNames: ['step'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'kdebug_queue_jobs',
    help: 'Jobs in the queue by state, read at scrape time.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly slackErrors = new Counter({
    name: 'kdebug_slack_api_errors_total',
    help: 'Slack Web API calls that failed, by method and error code.',
    labelNames: ['method', 'error'] as const,
    registers: [this.registry],
  });

  readonly kubernetesErrors = new Counter({
    name: 'kdebug_kubernetes_api_errors_total',
    help: 'Kubernetes API failures by kind (forbidden, not-found, invalid, kube-unavailable, …).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly containersAdded = new Counter({
    name: 'kdebug_ephemeral_containers_added_total',
    help: 'Ephemeral debug containers added to pods (they stay in the pod until it is replaced).',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });

  constructor(collectProcessMetrics = true) {
    if (collectProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'kdebug_' });
  }

  /** Called at scrape time so queue depth is current without a polling loop. */
  onScrape(collect: () => Promise<void>): void {
    this.beforeScrape = collect;
  }

  async render(): Promise<string> {
    await this.beforeScrape?.().catch(() => undefined);
    return this.registry.metrics();
  }

  private beforeScrape?: () => Promise<void>;
}
