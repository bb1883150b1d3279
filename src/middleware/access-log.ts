import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from '../deps.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../services/metrics.js';

/**
 * One log line and one latency observation per request. Logs the path without its query string
 * (clients may put keys there); metrics use the route pattern, so ids never become labels.
 */
export function accessLog(logger: Logger, metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    const ms = performance.now() - start;
    let route = routePath(c, -1);
    if (!route || route === '*' || route === '/*') route = 'unmatched';
    metrics.requests.observe({ route, method: c.req.method, status: `${Math.floor(c.res.status / 100)}xx` }, ms / 1000);
    logger.info('request', {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(ms * 100) / 100,
    });
  };
}
