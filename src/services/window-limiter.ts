import type { Clock } from '../clock.js';

/**
 * Fixed one-minute windows per key (the client IP), in memory. Per instance by design: these
 * limits blunt floods of unauthenticated work (nonces, signature checks); exact shared limits
 * (API key rpm) live in the database.
 */
export class WindowLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly limit: number,
    private readonly clock: Clock,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 50_000,
  ) {}

  /** Counts one hit; returns seconds to wait when over the limit, else 0. */
  hit(key: string): number {
    const now = this.clock.now().getTime();
    const start = now - (now % this.windowMs);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (this.windows.size >= this.maxKeys) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= this.limit) return Math.max(1, Math.ceil((start + this.windowMs - now) / 1000));
    w.count += 1;
    return 0;
  }

  /** Bounded memory: drop windows that have ended, and if still full, the oldest entries. */
  private sweep(currentStart: number): void {
    for (const [k, w] of this.windows) if (w.start !== currentStart) this.windows.delete(k);
    while (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
  }
}
