import type { Kysely } from 'kysely';
import { touchLastUsed } from '../db/repositories/metering.js';
import type { Database } from '../db/schema.js';

/**
 * Batches `last_used_at` writes: verification stays read-only for keys without limits, and the
 * column lags by at most `intervalMs` (plus the time until the next request or timer tick).
 */
export class LastUsedTracker {
  private pending = new Map<string, number>();
  private lastFlush = 0;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    readonly intervalMs = 5_000,
  ) {}

  /** Records a use; returns a flush promise when one is due (Workers hand it to waitUntil). */
  touch(keyId: string, at: number): Promise<void> | null {
    const prev = this.pending.get(keyId);
    if (prev === undefined || prev < at) this.pending.set(keyId, at);
    if (at - this.lastFlush >= this.intervalMs) {
      this.lastFlush = at;
      return this.flush();
    }
    return null;
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = touchLastUsed(this.db, batch).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }
}
