// The playground's simulated cluster: a shop (namespaces shop and payments) with a few workloads on
// two nodes, built so that every check has something to find. Pods on node-b have a broken resolver (nothing answers DNS on their
// side), the api pod listens on 127.0.0.1 only, and the partner API at expired.tls.test presents a
// certificate that expired two days ago. With network namespaces (root), each pod has its own
// network and resolver as in the tests; without, the tools run on this host and see its network.
import { spawn, type ChildProcess } from 'node:child_process';
import { CERT_HOSTS, testCerts } from './certs.js';
import { DnsServer } from './dns-server.js';
import type { KubeEmulator, KubeObject } from './kube-emulator.js';
import { startHttpServer, startHttpsServer, type Listening } from './web-servers.js';

const NAMESPACE = 'shop';
const PAYMENTS = 'payments';
const HEALTHY_NODE = 'node-a';
const BROKEN_DNS_NODE = 'node-b';
const API_PORT = 8080;
const WEB_SERVICE = `web.${NAMESPACE}.svc.cluster.local`;
const PARTNER_API = CERT_HOSTS.expired;

export interface Scenario {
  /** Commands worth trying, shown on the page. */
  examples: string[];
  /** What the user should know about this simulation. */
  notes: string[];
  stop(): Promise<void>;
}

interface PodPlan {
  namespace: string;
  name: string;
  node: string;
  workload: 'web' | 'api' | 'ledger';
}

const IMAGES = { web: 'nginx:1.27', api: 'ghcr.io/example/shop-api:2.4.1', ledger: 'postgres:17' };

const PODS: PodPlan[] = [
  { namespace: NAMESPACE, name: 'web-7f9c5d-4xk2p', node: HEALTHY_NODE, workload: 'web' },
  { namespace: NAMESPACE, name: 'web-7f9c5d-9wq7m', node: HEALTHY_NODE, workload: 'web' },
  { namespace: NAMESPACE, name: 'web-7f9c5d-tz6rb', node: BROKEN_DNS_NODE, workload: 'web' },
  { namespace: NAMESPACE, name: 'api-5b8d4c-h2lfn', node: HEALTHY_NODE, workload: 'api' },
  { namespace: PAYMENTS, name: 'ledger-0', node: HEALTHY_NODE, workload: 'ledger' },
  { namespace: PAYMENTS, name: 'ledger-1', node: BROKEN_DNS_NODE, workload: 'ledger' },
];

/** Adds the shop to `kube` and starts what its pods talk to; `netns` says whether pods have networks of their own. */
export async function startScenario(kube: KubeEmulator, netns: boolean): Promise<Scenario> {
  kube.addNode(HEALTHY_NODE, { zone: 'eu-west-1a' });
  kube.addNode(BROKEN_DNS_NODE, { zone: 'eu-west-1b' });
  kube.addNamespace(NAMESPACE);
  kube.addNamespace(PAYMENTS);
  // A Deployment's pods belong to its current ReplicaSet, whose hash is in their names.
  const deployment = (name: string, hash: string, replicas: number): KubeObject => {
    kube.addWorkload('deployment', { namespace: NAMESPACE, name, matchLabels: { app: name }, replicas });
    return kube.addReplicaSet({ namespace: NAMESPACE, deployment: name, hash, replicas });
  };
  const owners = {
    web: deployment('web', '7f9c5d', 3),
    api: deployment('api', '5b8d4c', 1),
    ledger: kube.addWorkload('statefulset', { namespace: PAYMENTS, name: 'ledger', matchLabels: { app: 'ledger' }, replicas: 2 }),
  };
  const { certs } = await testCerts();
  const stoppers: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const fn of stoppers.splice(0).reverse()) await fn();
  };
  try {
    for (const plan of PODS) {
      const { network } = await kube.addPod({
        namespace: plan.namespace,
        name: plan.name,
        owner: owners[plan.workload],
        nodeName: plan.node,
        containers: [{ name: plan.workload, image: IMAGES[plan.workload] }],
        network: { search: [`${plan.namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'], ndots: 5 },
      });
      if (!network) continue;
      // What the pod reaches is on its host side: the services below, and on node-a a DNS server.
      const services: Listening[] = [await startHttpServer({ host: network.hostIp, port: 80 }), await startHttpsServer(certs.expired, { host: network.hostIp, port: 443 })];
      stoppers.push(() => Promise.all(services.map((s) => s.close())).then(() => undefined));
      if (plan.node !== BROKEN_DNS_NODE) {
        const dns = new DnsServer({ host: network.hostIp, port: 53, zones: ['cluster.local', 'tls.test'] });
        await dns.start();
        dns.addRecord('kubernetes.default.svc.cluster.local', 'A', '10.96.0.1');
        dns.addRecord(WEB_SERVICE, 'A', network.hostIp);
        dns.addRecord(PARTNER_API, 'A', network.hostIp);
        stoppers.push(() => dns.stop());
      }
      if (plan.workload === 'api') stoppers.push(listenInside(network.netns, API_PORT));
    }
    if (netns) {
      return {
        examples: [
          `dns deploy/web -n ${NAMESPACE}`,
          `dns deploy/web --all -n ${NAMESPACE}`,
          `tls deploy/web -n ${NAMESPACE} ${PARTNER_API}`,
          `listen deploy/api -n ${NAMESPACE} ${API_PORT}`,
          `triage web-7f9c5d-tz6rb -n ${NAMESPACE} http://${WEB_SERVICE}/healthz`,
          `conn sts/ledger --all -n ${PAYMENTS} ${WEB_SERVICE} 80`,
          `capture deploy/web -n ${NAMESPACE} --duration 10s`,
          'help',
        ],
        notes: [
          `A simulated cluster: in namespace ${NAMESPACE} deployments web (3 pods) and api (1 pod), in ${PAYMENTS} statefulset ledger (2 pods), on nodes ${HEALTHY_NODE} and ${BROKEN_DNS_NODE}. Each pod has a network namespace of its own on this machine, and the real dig, curl, openssl, ping and tcpdump run in it.`,
          `Things to find: pods on ${BROKEN_DNS_NODE} have a broken resolver; api listens on 127.0.0.1:${API_PORT} only; ${PARTNER_API} presents an expired certificate.`,
        ],
        stop,
      };
    }
    // Without network namespaces the tools run on this host: services listen on loopback ports.
    const web = await startHttpServer();
    const partner = await startHttpsServer(certs.expired);
    const api = await startHttpServer();
    stoppers.push(
      () => web.close(),
      () => partner.close(),
      () => api.close(),
    );
    return {
      examples: [
        `dns deploy/web -n ${NAMESPACE} localhost`,
        `http deploy/web -n ${NAMESPACE} http://127.0.0.1:${web.port}/healthz`,
        `tls deploy/web -n ${NAMESPACE} 127.0.0.1:${partner.port}`,
        `listen deploy/api -n ${NAMESPACE} ${api.port}`,
        `dns deploy/web --all -n ${NAMESPACE} localhost`,
        'help',
      ],
      notes: [
        `A simulated cluster: in namespace ${NAMESPACE} deployments web (3 pods) and api (1 pod), in ${PAYMENTS} statefulset ledger (2 pods), on nodes ${HEALTHY_NODE} and ${BROKEN_DNS_NODE}.`,
        'Not running as root, so the simulated pods have no network namespaces of their own: the real tools run on this host and see its network and resolver. Run the playground as root for pods with networks of their own (a broken resolver on node-b, a loopback-only listener).',
        `${web.host}:${partner.port} presents an expired certificate; ${web.host}:${api.port} listens on loopback only.`,
      ],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A TCP listener on 127.0.0.1:port inside a network namespace (a process in it: a socket belongs to the namespace it was made in). */
function listenInside(netns: string, port: number): () => Promise<void> {
  const script = `require('node:net').createServer((s) => s.end()).listen(${port}, '127.0.0.1')`;
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: 'ignore' });
  child.on('error', () => undefined);
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
}
