import type { Kysely } from 'kysely';
import { addVerificationCountsQuery, hourOf, type VerificationCount } from '../db/repositories/analytics.js';
import type { Database } from '../db/schema.js';
import { inBatch } from '../db/tx.js';

/** Upserts per batch: one transaction (one D1 batch) each. */
const FLUSH_CHUNK = 100;

/**
 * Counts verification answers per domain, UTC hour and code in memory and writes them in batches
 * (one upsert per domain/hour/code that changed), never a write per verification. A flush starts
 * when `record` sees `intervalMs` passed since the last one; the Node entry also flushes on a
 * timer and at shutdown, the Workers entry hands flushes in flight to `waitUntil`, and the stats
 * endpoints flush before they read. A failed flush puts its counts back for the next one.
 */
export class VerifyStats {
  private pending = new Map<string, VerificationCount>();
  private lastFlush = 0;
  private flushing: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: Kysely<Database>,
    readonly intervalMs = 5_000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Synchronous and in memory: safe on the verification hot path. */
  record(domainId: string, code: string, charged: number, nowMs: number): void {
    const hour = hourOf(nowMs);
    const k = `${domainId}\u0000${hour}\u0000${code}`;
    const c = this.pending.get(k);
    if (c) {
      c.count += 1;
      c.charged += charged;
    } else {
      this.pending.set(k, { domainId, hour, code, count: 1, charged });
    }
    if (nowMs - this.lastFlush >= this.intervalMs) {
      this.lastFlush = nowMs;
      const p = this.flush().catch((err: unknown) => this.onError(err));
      this.inflight.add(p);
      void p.then(() => this.inflight.delete(p));
    }
  }

  /** Flushes started by `record` that have not finished (Workers pass them to waitUntil). */
  inFlight(): Promise<unknown> | null {
    return this.inflight.size > 0 ? Promise.all(this.inflight) : null;
  }

  /** Counts not yet written (for tests and shutdown logs). */
  pendingCount(): number {
    let n = 0;
    for (const c of this.pending.values()) n += c.count;
    return n;
  }

  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  private async write(batch: VerificationCount[]): Promise<void> {
    for (let i = 0; i < batch.length; i += FLUSH_CHUNK) {
      const chunk = batch.slice(i, i + FLUSH_CHUNK);
      try {
        await inBatch(
          this.db,
          chunk.map((c) => addVerificationCountsQuery(this.db, c)),
        );
      } catch (err) {
        // Nothing of this chunk was written (a batch is all or nothing): keep it and the rest.
        for (const c of batch.slice(i)) this.restore(c);
        throw err;
      }
    }
  }

  private restore(c: VerificationCount): void {
    const k = `${c.domainId}\u0000${c.hour}\u0000${c.code}`;
    const cur = this.pending.get(k);
    if (cur) {
      cur.count += c.count;
      cur.charged += c.charged;
    } else {
      this.pending.set(k, { ...c });
    }
  }
}
