// `/kdebug clusters`: every cluster whose workers report to this Redis, whether any is alive, the
// Kubernetes version they talk to and when one was last heard from.
import type { ClusterStatus } from '../queue/clusters.js';
import { formatDuration } from '../core/duration.js';
import { plural } from '../core/text.js';

export function clustersMessage(clusters: readonly ClusterStatus[], now: number): string {
  if (clusters.length === 0) {
    return 'No kdebug worker has reported to this Redis yet. Start one (`kdebug worker`, or the Helm chart with its worker) with the same `REDIS_URL` and key prefix as the bot.';
  }
  const lines = clusters.map((c) => {
    const ago = `${formatDuration(Math.max(0, Math.round((now - c.lastSeen) / 1000)))} ago`;
    const version = c.version ? `Kubernetes ${c.version}` : 'Kubernetes version unknown';
    return c.liveWorkers > 0
      ? `• \`${c.name}\`: ${plural(c.liveWorkers, 'worker')} alive, ${version}, last seen ${ago}`
      : `• \`${c.name}\`: no live worker, last seen ${ago} (${version}): its jobs wait until one is back`;
  });
  return [`Clusters whose kdebug workers report here (${plural(clusters.length, 'cluster')}):`, ...lines].join('\n');
}
