import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../deps.js';
import type { Logger } from '../logger.js';

/** One line per request. Logs the path without its query string: clients may put keys there. */
export function accessLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    logger.info('request', {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 100) / 100,
    });
  };
}
