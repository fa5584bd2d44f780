// The Kubernetes clients the worker uses, from one kubeconfig.
import { createHash } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { NodeZones } from './node-zones.js';
import { PodWatches } from './pod-watches.js';
import { retrying, type RetryPolicy } from './retry.js';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  /** API server URL, for messages. */
  server: string;
  /** One pod watch per namespace, shared by every job of this process that waits on a pod there. */
  podWatches: PodWatches;
  /** Nodes' zones, for `--all`. */
  nodeZones: NodeZones;
  /** The API server's version (`/version`, readable without any permission), e.g. "v1.33.1". */
  serverVersion(): Promise<string | undefined>;
}

/**
 * An explicit kubeconfig path wins; otherwise in-cluster inside a pod, else ~/.kube/config.
 * `context` (kdebug run --cluster) picks one of the kubeconfig's contexts instead of its current one.
 */
export function createKubeClients(config: Config, onRetry?: RetryPolicy['onRetry'], context?: string): KubeClients {
  const kc = new KubeConfig();
  reuseConnections(kc);
  try {
    if (config.kubernetes.kubeconfig) kc.loadFromFile(config.kubernetes.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError(
      `cannot load the kubeconfig ${config.kubernetes.kubeconfig || '(default)'}: ${(err as Error).message.split('\n')[0]}; set KUBECONFIG to a valid file, or run kdebug in a pod with a service account`,
    );
  }
  if (context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) throw new ConfigError(`no context ${context} in the kubeconfig (it has: ${names.join(', ') || 'none'}); --cluster names a kubeconfig context`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new ConfigError('no Kubernetes cluster configured: set KUBECONFIG to a kubeconfig with a current context, or run kdebug in a pod with a service account');
  }
  const policy: RetryPolicy = { attempts: 4, baseDelayMs: 300, timeoutMs: config.kubernetes.requestTimeoutSeconds * 1000, onRetry };
  const core = retrying(kc.makeApiClient(CoreV1Api), policy);
  return {
    kc,
    core,
    apps: retrying(kc.makeApiClient(AppsV1Api), policy),
    server: kc.getCurrentCluster()?.server ?? '(no cluster)',
    podWatches: new PodWatches(kc, core),
    nodeZones: new NodeZones(core),
    serverVersion: () =>
      kc
        .makeApiClient(VersionApi)
        .getCode()
        .then(
          (info) => info.gitVersion,
          () => undefined,
        ),
  };
}

type DispatcherFactory = { createDispatcher(cluster: unknown, agentOptions: unknown): unknown };

/**
 * client-node 2.0 builds a new undici Agent for every API request, so every get, patch and log
 * opens a new TLS connection (a handshake and a TLS context on both sides: a third of the worker's
 * CPU per job under load). One Agent per set of connection options keeps connections alive; a new
 * CA or client certificate (rotation) gets a new Agent and the old one is closed once idle.
 * (`createDispatcher` is private in client-node's typings, hence the cast.)
 */
function reuseConnections(kc: KubeConfig): void {
  const factory = kc as unknown as DispatcherFactory;
  const build = factory.createDispatcher.bind(kc);
  let current: { key: string; dispatcher: unknown } | undefined;
  factory.createDispatcher = (cluster, agentOptions) => {
    const options = kc.createDispatcherOptions(
      cluster as Parameters<KubeConfig['createDispatcherOptions']>[0],
      agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1],
    );
    const key = createHash('sha256').update(JSON.stringify(options)).digest('hex');
    if (current?.key !== key) {
      void (current?.dispatcher as { close?: () => Promise<void> } | undefined)?.close?.().catch(() => undefined);
      current = { key, dispatcher: build(cluster, agentOptions) };
    }
    return current.dispatcher;
  };
}
