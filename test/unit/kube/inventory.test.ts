import type { V1Pod } from '@kubernetes/client-node';
import { inventoryOf } from '../../../src/kube/inventory.js';
import { unknownPodMessage } from '../../../src/bot/unknown-pod.js';

const pod = (namespace: string, name: string, owner?: { kind: string; name: string }, hash?: string, extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: {
    namespace,
    name,
    ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'u', controller: true }] } : {}),
    ...(hash ? { labels: { 'pod-template-hash': hash } } : {}),
  },
  spec: { containers: [], nodeName: 'n1' },
  status: { phase: 'Running' },
  ...extra,
});

test('namespaces, workloads from the owners (a ReplicaSet stands for its Deployment), pods with node and phase', () => {
  const inventory = inventoryOf(
    [
      pod('prod', 'web-7f9c-b', { kind: 'ReplicaSet', name: 'web-7f9c' }, '7f9c'),
      pod('prod', 'web-7f9c-a', { kind: 'ReplicaSet', name: 'web-7f9c' }, '7f9c'),
      pod('prod', 'db-0', { kind: 'StatefulSet', name: 'db' }),
      pod('prod', 'job-x', { kind: 'Job', name: 'job' }),
      pod('prod', 'orphan', { kind: 'ReplicaSet', name: 'no-hash-rs' }),
      pod('kube-system', 'agent-1', { kind: 'DaemonSet', name: 'agent' }, undefined, { status: { phase: 'Pending' }, spec: { containers: [] } }),
    ],
    false,
    42,
  );
  expect(inventory).toEqual({
    at: 42,
    truncated: false,
    namespaces: {
      prod: {
        workloads: ['deployment/web', 'statefulset/db'],
        pods: [
          { name: 'db-0', node: 'n1', phase: 'Running' },
          { name: 'job-x', node: 'n1', phase: 'Running' },
          { name: 'orphan', node: 'n1', phase: 'Running' },
          { name: 'web-7f9c-a', node: 'n1', phase: 'Running' },
          { name: 'web-7f9c-b', node: 'n1', phase: 'Running' },
        ],
      },
      'kube-system': { workloads: ['daemonset/agent'], pods: [{ name: 'agent-1', phase: 'Pending' }] },
    },
  });
});

test('"did you mean" only from a fresh, complete inventory that knows the namespace and a close name', () => {
  const inventory = inventoryOf([pod('prod', 'web-7f9c-a'), pod('prod', 'db-0')], false, 1_000);
  const now = 31_000;
  expect(unknownPodMessage(inventory, 'prod', 'web-7f9c-b', 120_000, now)).toBe(
    "There's no pod `web-7f9c-b` in namespace `prod` (as of 30 s ago). Did you mean `web-7f9c-a`? If the pod is newer than that, run it as `pod/web-7f9c-b`.",
  );
  expect(unknownPodMessage(inventory, 'prod', 'web-7f9c-a', 120_000, now)).toBeUndefined(); // it exists
  expect(unknownPodMessage(inventory, 'prod', 'payments-0', 120_000, now)).toBeUndefined(); // nothing close: the worker decides
  expect(unknownPodMessage(inventory, 'staging', 'web-7f9c-b', 120_000, now)).toBeUndefined(); // namespace unknown
  expect(unknownPodMessage(inventory, 'prod', 'web-7f9c-b', 20_000, now)).toBeUndefined(); // stale
  expect(unknownPodMessage({ ...inventory, truncated: true }, 'prod', 'web-7f9c-b', 120_000, now)).toBeUndefined();
  expect(unknownPodMessage(undefined, 'prod', 'web-7f9c-b', 120_000, now)).toBeUndefined();
});
