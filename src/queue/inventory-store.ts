// The inventory in Redis: one JSON value, written by whichever worker refreshed last, read by the
// bot. It expires when no worker has refreshed it for a while, so the bot never offers a stale world.
import type { Redis } from 'ioredis';
import type { Inventory } from '../core/inventory.js';

export class InventoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** How often workers refresh it (config inventory.refreshSeconds): it expires after three missed refreshes. */
    private readonly refreshSeconds: number,
  ) {}

  private get key(): string {
    return `${this.prefix}:inventory`;
  }

  async write(inventory: Inventory): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(inventory), 'EX', Math.max(1, 3 * this.refreshSeconds));
  }

  /** The latest inventory, or undefined when none is fresh (no worker, or no permission to list pods). */
  async read(): Promise<Inventory | undefined> {
    const text = await this.redis.get(this.key);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as Inventory;
    } catch {
      return undefined;
    }
  }
}
