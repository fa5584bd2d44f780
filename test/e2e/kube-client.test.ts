// The worker's Kubernetes clients (createKubeClients) against the emulator over TLS: connections
// are kept alive and reused, rather than one TLS handshake per API request; and, as with a real
// API server, which offers HTTP/2, every request and stream shares one connection.
import { PassThrough } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createKubeClients } from '../../src/kube/client.js';
import { KubeEmulator } from '../../src/playground/kube-emulator.js';

let dir: string;
let kube: KubeEmulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kdebug-kube-client-'));
  kube = new KubeEmulator();
  await kube.start();
  await kube.addPod({ namespace: 'prod', name: 'web-0', containers: [{ name: 'app', image: 'web:1' }] });
  kube.writeKubeconfig(join(dir, 'kubeconfig'));
});
afterAll(async () => {
  await kube.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('API requests one after another share one TLS connection', async () => {
  const clients = createKubeClients(loadConfig({ env: { KUBECONFIG: join(dir, 'kubeconfig') } }));
  const before = kube.tlsConnections;
  for (let i = 0; i < 10; i++) {
    const pod = await clients.core.readNamespacedPod({ namespace: 'prod', name: 'web-0' });
    expect(pod.metadata?.name).toBe('web-0');
  }
  // undici may open a second connection when a request comes before the previous one's socket is
  // back in its pool; what matters is that it stops there (client-node alone opens 10).
  expect(kube.tlsConnections - before).toBeLessThanOrEqual(2);
});

test('requests at the same time open a few connections, not one each, and later ones reuse them', async () => {
  const clients = createKubeClients(loadConfig({ env: { KUBECONFIG: join(dir, 'kubeconfig') } }));
  const before = kube.tlsConnections;
  await Promise.all(Array.from({ length: 20 }, () => clients.core.readNamespacedPod({ namespace: 'prod', name: 'web-0' })));
  const opened = kube.tlsConnections - before;
  await Promise.all(Array.from({ length: 20 }, () => clients.core.readNamespacedPod({ namespace: 'prod', name: 'web-0' })));
  expect(kube.tlsConnections - before - opened).toBeLessThanOrEqual(2);
});

test('over HTTP/2, 20 followed logs held open and 20 reads at the same time share one TLS connection', async () => {
  const clients = createKubeClients(loadConfig({ env: { KUBECONFIG: join(dir, 'kubeconfig') } }));
  const before = kube.tlsConnections;
  const follows = await Promise.all(
    Array.from({ length: 20 }, () => {
      const sink = new PassThrough();
      // Aborted below: client-node leaves the response's abort error to whoever listens.
      sink.on('pipe', (response: NodeJS.ReadableStream) => response.on('error', () => undefined));
      return new Log(clients.kc).log('prod', 'web-0', 'app', sink, { follow: true });
    }),
  );
  const pods = await Promise.all(Array.from({ length: 20 }, () => clients.core.readNamespacedPod({ namespace: 'prod', name: 'web-0' })));
  expect(pods.every((pod) => pod.metadata?.name === 'web-0')).toBe(true);
  expect(kube.tlsConnections - before).toBe(1);
  for (const follow of follows) follow.abort();
});
