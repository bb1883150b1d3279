import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../deps.js';

/**
 * API responses are per caller and may carry secrets (keys, tokens, sessions): never stored by a
 * shared cache unless a route says otherwise, never sniffed as HTML, never framed.
 */
export function apiHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
    c.header('x-frame-options', 'DENY');
    c.header('referrer-policy', 'no-referrer');
  };
}
