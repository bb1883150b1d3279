import type { Kysely } from 'kysely';
import { claimRateSlots } from '../db/repositories/metering.js';
import type { Database } from '../db/schema.js';

interface Window {
  minute: number;
  rpm: number;
  /** Slots claimed in the database and not used yet. */
  held: number;
  /** The key's window count in the database after this instance's last claim. */
  count: number;
  /** Claims of one slot failed: the window is full for this minute (slots are never handed back). */
  full: boolean;
  block: number;
}

/**
 * Per-key rpm windows without a write per call (Node). Slots are claimed from the key's row in
 * blocks, each block one conditional UPDATE that changes nothing unless the whole block fits under
 * the limit, so instances sharing a database can never exceed it together; the calls then take
 * slots from memory. A block is a sixteenth of the limit (1 to 256 slots): keys with rpm < 32 claim
 * one slot per call, exactly as before. On one process (SQLite) every claimed slot is used, so the
 * limit is exact; slots a stopped process or another instance still holds go unused until the minute
 * ends (the limit is never exceeded, it may be under-used by up to a block per instance).
 */
export class RpmBlocks {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxKeys = 100_000,
  ) {}

  static blockSize(rpm: number): number {
    return Math.max(1, Math.min(256, Math.floor(rpm / 16)));
  }

  private window(keyId: string, rpm: number, minute: number): Window {
    let w = this.windows.get(keyId);
    // A new minute, or a changed limit (slots held under another limit are dropped: never more).
    if (!w || w.minute !== minute || w.rpm !== rpm) {
      if (!w && this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
      w = { minute, rpm, held: 0, count: 0, full: false, block: RpmBlocks.blockSize(rpm) };
      this.windows.set(keyId, w);
    }
    return w;
  }

  /** True when this minute's window is known to be full: refuse without a write. */
  isFull(keyId: string, rpm: number, minute: number): boolean {
    const w = this.windows.get(keyId);
    return w !== undefined && w.minute === minute && w.rpm === rpm && w.held === 0 && w.full;
  }

  /** Takes one slot; returns the requests counted in the window after it, or null when the limit is reached. */
  async take(keyId: string, rpm: number, minute: number): Promise<number | null> {
    const w = this.window(keyId, rpm, minute);
    if (w.held > 0) {
      w.held--;
      return w.count - w.held;
    }
    if (w.full) return null;
    let n = w.block;
    let after = await claimRateSlots(this.db, keyId, minute, n);
    if (after === null && n > 1) {
      // Near the limit: fall back to single slots for the rest of the minute.
      w.block = 1;
      n = 1;
      after = await claimRateSlots(this.db, keyId, minute, 1);
    }
    const now = this.windows.get(keyId);
    if (after === null) {
      if (now === w) w.full = true;
      return null;
    }
    if (now !== w) return after - n + 1;
    w.count = Math.max(w.count, after);
    w.held += n - 1;
    return w.count - w.held;
  }

  /** Hands back a slot taken for a call that was refused afterwards (its charge rolled back). */
  giveBack(keyId: string, rpm: number, minute: number): void {
    const w = this.windows.get(keyId);
    if (w && w.minute === minute && w.rpm === rpm) w.held++;
  }
}
