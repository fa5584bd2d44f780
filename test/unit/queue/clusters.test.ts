// The cluster registry against a real Redis, with a clock the test moves.
import { ClusterRegistry } from '../../../src/queue/clusters.js';
import { clustersMessage } from '../../../src/slack/clusters.js';
import { suiteRedis } from '../policy/helpers.js';

const { redis, prefix } = suiteRedis();

test('clusters by name, each with its live workers, version and last beat; four missed beats and a worker is gone', async () => {
  let now = 1_000_000;
  const registry = new ClusterRegistry(redis(), prefix(), 15, () => now);
  await registry.beat('prod-eu', 'w1', 'v1.33.1');
  await registry.beat('prod-eu', 'w2', 'v1.33.1');
  await registry.beat('prod-us', 'w3', undefined);
  now += 30_000;
  await registry.beat('prod-eu', 'w1', 'v1.33.2');
  expect(await registry.list()).toEqual([
    { name: 'prod-eu', liveWorkers: 2, version: 'v1.33.2', lastSeen: 1_030_000 },
    { name: 'prod-us', liveWorkers: 1, lastSeen: 1_000_000 },
  ]);
  now += 45_000; // w2 and w3 last beat 75 s ago: past 4 × 15 s
  expect((await registry.list()).map((c) => [c.name, c.liveWorkers])).toEqual([
    ['prod-eu', 1],
    ['prod-us', 0],
  ]);
  now += 86_400_000; // a day later nobody is listed
  expect(await registry.list()).toEqual([]);
});

test('/kdebug clusters says which are alive, which are not and since when', () => {
  const now = 10_000_000;
  expect(
    clustersMessage(
      [
        { name: 'prod-eu', liveWorkers: 2, version: 'v1.33.1', lastSeen: now - 3_000 },
        { name: 'prod-us', liveWorkers: 0, version: 'v1.32.0', lastSeen: now - 360_000 },
      ],
      now,
    ),
  ).toBe(
    [
      'Clusters whose kdebug workers report here (2 clusters):',
      '• `prod-eu`: 2 workers alive, Kubernetes v1.33.1, last seen 3s ago',
      '• `prod-us`: no live worker, last seen 6m ago (Kubernetes v1.32.0): its jobs wait until one is back',
    ].join('\n'),
  );
  expect(clustersMessage([], now)).toMatch(/^No kdebug worker has reported to this Redis yet\./);
});
