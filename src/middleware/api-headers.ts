import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../deps.js';

/**
 * API responses are per caller and may carry secrets (keys, tokens, sessions): never stored by a
 * shared cache unless a route says otherwise (a route's own c.header replaces the default), never
 * sniffed as HTML, never framed. Set before the response exists: changing headers afterwards
 * forces a copy of the response on every request.
 */
export function apiHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
    c.header('x-frame-options', 'DENY');
    c.header('referrer-policy', 'no-referrer');
    await next();
  };
}
