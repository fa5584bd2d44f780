// Which clusters have live workers: each worker writes a heartbeat to Redis (its cluster's name,
// the Kubernetes version it talks to, when), and the bot reads them for `/kdebug clusters`. The
// first piece of serving many clusters from one bot (issue 13); one cluster, "default", until then.
import type { Redis } from 'ioredis';
import { z } from 'zod';

const beatSchema = z.object({ at: z.number(), version: z.string().optional() });

/** A worker not heard from for a day is forgotten. */
const FORGET_MS = 86_400_000;

export interface ClusterStatus {
  name: string;
  /** Workers that beat within the alive window. */
  liveWorkers: number;
  /** The Kubernetes version the newest beat reported. */
  version?: string;
  /** Epoch ms of the newest beat. */
  lastSeen: number;
}

export class ClusterRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** How often workers beat (config cluster.heartbeatSeconds): four missed beats and a worker counts as gone. */
    private readonly heartbeatSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  private get aliveMs(): number {
    return 4 * this.heartbeatSeconds * 1000;
  }

  private get clustersKey(): string {
    return `${this.prefix}:clusters`;
  }

  private workersKey(cluster: string): string {
    return `${this.prefix}:cluster:${cluster}:workers`;
  }

  async beat(cluster: string, worker: string, version: string | undefined): Promise<void> {
    const key = this.workersKey(cluster);
    await this.redis
      .multi()
      .sadd(this.clustersKey, cluster)
      .hset(key, worker, JSON.stringify({ at: this.now(), ...(version ? { version } : {}) }))
      .pexpire(key, FORGET_MS)
      .exec();
  }

  /** Every cluster a worker has reported from in the last day, by name. */
  async list(): Promise<ClusterStatus[]> {
    const now = this.now();
    const names = (await this.redis.smembers(this.clustersKey)).sort();
    const statuses = await Promise.all(
      names.map(async (name): Promise<ClusterStatus | undefined> => {
        const beats = Object.values(await this.redis.hgetall(this.workersKey(name))).flatMap((text) => {
          try {
            const parsed = beatSchema.safeParse(JSON.parse(text));
            return parsed.success && now - parsed.data.at < FORGET_MS ? [parsed.data] : [];
          } catch {
            return [];
          }
        });
        const newest = beats.reduce<(typeof beats)[number] | undefined>((a, b) => (a && a.at >= b.at ? a : b), undefined);
        if (!newest) return undefined;
        return { name, liveWorkers: beats.filter((b) => now - b.at <= this.aliveMs).length, lastSeen: newest.at, ...(newest.version ? { version: newest.version } : {}) };
      }),
    );
    return statuses.filter((s): s is ClusterStatus => s !== undefined);
  }
}
