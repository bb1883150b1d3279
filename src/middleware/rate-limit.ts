import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';
import type { AppEnv } from '../deps.js';
import { AppError } from '../errors.js';

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

export function rateLimit(opts: {
  limit: number;
  clock: Clock;
  key: (c: Context<AppEnv>) => string | null;
  what: string;
}): MiddlewareHandler<AppEnv> {
  if (opts.limit <= 0) return async (_c, next) => next();
  const limiter = new WindowLimiter(opts.limit, opts.clock);
  return async (c, next) => {
    const wait = limiter.hit(opts.key(c) ?? 'unknown');
    if (wait > 0) {
      throw new AppError('rate_limited', `Too many ${opts.what} from your address. Try again in ${wait} s.`, {
        headers: { 'retry-after': String(wait) },
      });
    }
    await next();
  };
}
