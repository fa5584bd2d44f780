// Health endpoints for Kubernetes probes, and /metrics for Prometheus, on one small HTTP server.
// /healthz: the process is alive. /readyz: every dependency this role needs answers.
import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.js';

/** A named readiness condition; returns a reason when not ready. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface HealthServer {
  server: Server;
  port: number;
  /** From now on /readyz answers 503, so the pod leaves its Service while it drains. */
  markStopping(): void;
  close(): Promise<void>;
}

export async function startHealthServer(port: number, checks: Record<string, ReadinessCheck>, metrics?: Metrics): Promise<HealthServer> {
  let stopping = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      void (async () => {
        const problems: string[] = [];
        if (stopping) problems.push('shutting down');
        for (const [name, check] of Object.entries(checks)) {
          const reason = await Promise.resolve()
            .then(check)
            .catch((err: Error) => err.message);
          if (reason) problems.push(`${name}: ${reason}`);
        }
        res.writeHead(problems.length ? 503 : 200, { 'content-type': 'text/plain' }).end(problems.length ? `${problems.join('\n')}\n` : 'ready\n');
      })();
      return;
    }
    if (path === '/metrics' && metrics) {
      void metrics.render().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return {
    server,
    port: (server.address() as { port: number }).port,
    markStopping: () => {
      stopping = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
