import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { MAX_USAGE_BATCH, recordUsageBatch } from '../services/usage-batch.js';
import { UsageBatchResultSchema, usageBatchBody } from '../contract/usage.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

/** POST /v1/usage/batch: what a busy gateway sends instead of one POST /v1/usage per request. */
export function usageBatchRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/usage/batch',
      tags: ['verification'],
      summary: `Record up to ${MAX_USAGE_BATCH} usage reports in one call (domain token); each idempotent by (domain, request_id)`,
      description:
        'Each record is handled exactly as POST /v1/usage would handle it, in order, and gets its own result at the same index: ' +
        '`recorded: true` with the charge, or `recorded: false` with `not_found` or `forbidden` (a key this domain did not verify in ' +
        'the last 24 hours, or of a type it does not accept). A refused record does not undo the others; a retry of the whole call ' +
        'under the same request ids records nothing twice.',
      security: bearerSecurity,
      middleware: [requireDomain(deps)],
      request: { body: jsonBody(usageBatchBody(MAX_USAGE_BATCH)) },
      responses: {
        200: json(UsageBatchResultSchema, 'One result per record, in order'),
        ...errorResponses(400, 401, 413),
      },
    }),
    async (c) => {
      const results = await recordUsageBatch(deps, c.get('domain'), c.req.valid('json').records, deps.clock.now());
      for (const res of results) {
        if (!res.recorded) continue;
        deps.metrics.charges.inc({ source: 'usage' });
        deps.metrics.credits.inc({ source: 'usage' }, res.charged);
        deps.metrics.uncharged.inc({}, res.uncharged);
      }
      c.header('cache-control', 'no-store');
      return c.json({ results }, 200);
    },
  );
  return r;
}
