import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../deps.js';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a well-formed incoming x-request-id, otherwise generates one; always sets the header. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    // randomUUID draws from a batched entropy pool: far cheaper per request than getRandomValues.
    const id = incoming && WELL_FORMED.test(incoming) ? incoming : `req_${crypto.randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
    c.header('x-request-id', id);
  };
}
