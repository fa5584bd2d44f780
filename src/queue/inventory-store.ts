// The inventory in Redis: one JSON value per cluster, written by whichever of its workers refreshed
// last, read by the bot. It expires when no worker has refreshed it for a while, so the bot never
// offers a stale world.
import type { Redis } from 'ioredis';
import type { Inventory } from '../core/inventory.js';
import { DEFAULT_CLUSTER } from './job.js';

export class InventoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** How often workers refresh it (config inventory.refreshSeconds): it expires after three missed refreshes. */
    private readonly refreshSeconds: number,
  ) {}

  /** The default cluster keeps the key it had before clusters. */
  key(cluster: string): string {
    return cluster === DEFAULT_CLUSTER ? `${this.prefix}:inventory` : `${this.prefix}:inventory:${cluster}`;
  }

  async write(cluster: string, inventory: Inventory): Promise<void> {
    await this.redis.set(this.key(cluster), JSON.stringify(inventory), 'EX', Math.max(1, 3 * this.refreshSeconds));
  }

  /** A cluster's latest inventory, or undefined when none is fresh (no worker, or no permission to list pods). */
  async read(cluster: string): Promise<Inventory | undefined> {
    const text = await this.redis.get(this.key(cluster));
    if (!text) return undefined;
    try {
      return JSON.parse(text) as Inventory;
    } catch {
      return undefined;
    }
  }
}
