import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../deps.js';

/**
 * API responses are per caller and may carry secrets (keys, tokens, sessions): never stored by a
 * shared cache unless a route says otherwise (a route's own c.header replaces the default), never
 * sniffed as HTML, never framed. Set before the response exists: changing headers afterwards
 * forces a copy of the response on every request.
 */
export const API_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

export function apiHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    for (const [name, value] of Object.entries(API_HEADERS)) c.header(name, value);
    await next();
  };
}
