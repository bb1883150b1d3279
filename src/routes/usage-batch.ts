import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { MAX_USAGE_BATCH } from '../services/usage-batch.js';
import type { Services } from '../services/index.js';
import { UsageReport } from './usage.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

const Recorded = z.object({
  recorded: z.literal(true),
  request_id: z.string(),
  id: z.string(),
  charged: z.number().int(),
  uncharged: z.number().int(),
  credits_remaining: z.number().int().nullable(),
});
const Refused = z.object({
  recorded: z.literal(false),
  request_id: z.string(),
  error: z.object({ code: z.enum(['not_found', 'forbidden']), message: z.string() }),
});

/** POST /v1/usage/batch: what a busy gateway sends instead of one POST /v1/usage per request. */
export function usageBatchRoutes(deps: AppDeps, { usage }: Services): OpenAPIHono<AppEnv> {
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
      request: { body: jsonBody(z.object({ records: z.array(UsageReport).min(1).max(MAX_USAGE_BATCH) }).strict()) },
      responses: {
        200: json(
          z.object({ results: z.array(z.union([Recorded, Refused])) }).openapi('UsageBatchResult'),
          'One result per record, in order',
        ),
        ...errorResponses(400, 401, 413),
      },
    }),
    async (c) => {
      const results = await usage.recordBatch(c.get('domain'), c.req.valid('json').records);
      c.header('cache-control', 'no-store');
      return c.json({ results }, 200);
    },
  );
  return r;
}
