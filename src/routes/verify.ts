import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { VerifyBody, VerifyResultSchema } from '../contract/verify.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { requireDomain } from '../middleware/domain-auth.js';
import { runVerification } from '../services/verification.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

export function verifyRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
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
      responses: { 200: json(VerifyResultSchema), ...errorResponses(400, 401, 413) },
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
