import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { authenticate } from '../middleware/session-auth.js';
import { listAccountUsage, recordUsage } from '../services/usage.js';
import { UsageListQuery, UsageRecordedSchema, UsageRecordPage, UsageReport } from '../contract/usage.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

/** Usage: domains report what a request used (POST), accounts read their records (GET). */
export function usageRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const domainAuth = requireDomain(deps);

  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/usage',
      tags: ['verification'],
      summary: 'Record what a request used (domain token); idempotent by (domain, request_id)',
      security: bearerSecurity,
      middleware: [domainAuth],
      request: {
        body: jsonBody(UsageReport),
      },
      responses: {
        201: json(UsageRecordedSchema, 'Recorded'),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const res = await recordUsage(deps, c.get('domain'), c.req.valid('json'), deps.clock.now());
      deps.metrics.charges.inc({ source: 'usage' });
      deps.metrics.credits.inc({ source: 'usage' }, res.charged);
      deps.metrics.uncharged.inc({}, res.uncharged);
      return c.json(res, 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage',
      tags: ['verification'],
      summary: "The account's usage records (session, or a key with analytics:read)",
      security: bearerSecurity,
      middleware: [authenticate(deps, { keyScope: 'analytics:read' })],
      request: {
        query: UsageListQuery,
      },
      responses: {
        200: json(UsageRecordPage),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(await listAccountUsage(deps.db, c.get('auth').address, c.req.valid('query')), 200),
  );

  return r;
}
