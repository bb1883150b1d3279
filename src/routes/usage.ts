import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { authenticate } from '../middleware/session-auth.js';
import { listAccountUsage, recordUsage } from '../services/usage.js';
import { PageQuery } from '../contract/common.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';
import { MAX_COST } from './verify-http.js';

const credits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const cost = z.number().int().min(0).max(MAX_COST);

/** One usage report: the body of POST /v1/usage, and one record of POST /v1/usage/batch. */
export const UsageReport = z
  .object({
    key_id: z.string().min(1).max(64),
    request_id: z.string().min(1).max(128),
    cost: cost.optional(),
    model: z.string().min(1).max(128).optional(),
    input_tokens: credits.optional(),
    output_tokens: credits.optional(),
  })
  .strict();

/** Usage: domains report what a request used (POST), accounts read their records (GET). */
export function usageRoutes(deps: AppDeps) {
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
        201: json(
          z.object({
            recorded: z.literal(true),
            id: z.string(),
            charged: z.number().int(),
            uncharged: z.number().int(),
            credits_remaining: z.number().int().nullable(),
          }),
          'Recorded',
        ),
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
        query: PageQuery.extend({
          key_id: z.string().max(64).optional(),
          request_id: z.string().max(128).optional(),
          from: z.iso.datetime({ offset: true }).optional(),
          to: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      responses: {
        200: json(
          z.object({
            data: z.array(
              z.object({
                id: z.string(),
                key_id: z.string(),
                domain: z.string().nullable(),
                domain_verified: z.boolean().openapi({ description: "Whether the domain's owner proved the name (see Domain.ownership)." }),
                request_id: z.string(),
                model: z.string().nullable(),
                input_tokens: z.number().int().nullable(),
                output_tokens: z.number().int().nullable(),
                cost: z.number().int(),
                charged: z.number().int(),
                uncharged: z.number().int(),
                created_at: z.string(),
              }),
            ),
            has_more: z.boolean(),
            next_cursor: z.string().nullable(),
          }),
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(await listAccountUsage(deps.db, c.get('auth').address, c.req.valid('query')), 200),
  );

  return r;
}
