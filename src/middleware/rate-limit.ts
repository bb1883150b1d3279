import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';
import type { AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { WindowLimiter } from '../services/window-limiter.js';

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
