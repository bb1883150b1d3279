import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { MAX_COST, runVerification, VerifyBody } from './verify-http.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

const RateLimit = z.object({ limit: z.number().int().nullable(), remaining: z.number().int().nullable(), reset: z.number().int() });
const VerifyResponse = z
  .object({
    valid: z.boolean(),
    code: z.string(),
    message: z.string().optional(),
    key_id: z.string().optional(),
    account: z.string().optional(),
    type: z.enum(['developer', 'network']).optional(),
    scopes: z.array(z.string()).optional(),
    models: z.array(z.string()).nullable().optional(),
    expires_at: z.string().nullable().optional(),
    credits_remaining: z.number().int().nullable().optional(),
    charged: z.number().int().optional(),
    ratelimit: RateLimit.optional(),
  })
  .openapi('VerifyResult');

export function verifyRoutes(deps: AppDeps) {
  const r = newRouter();
  const domainAuth = requireDomain(deps);

  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/verify',
      tags: ['verification'],
      summary: 'Check an API key for this domain (domain token), charging `cost` when it is valid',
      security: bearerSecurity,
      middleware: [domainAuth],
      request: {
        body: jsonBody(VerifyBody),
      },
      responses: { 200: json(VerifyResponse), ...errorResponses(400, 401, 413) },
    }),
    async (c) => {
      const domain = c.get('domain');
      const res = await runVerification(deps, domain, c.req.valid('json'));
      c.header('cache-control', 'no-store');
      return c.json(res, 200);
    },
  );

  return r;
}
