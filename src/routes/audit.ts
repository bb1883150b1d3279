import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { AuditPage, AuditQuery } from '../contract/audit.js';
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { authenticate } from '../middleware/session-auth.js';
import { bearerSecurity, errorResponses, json, newRouter } from './router.js';

export function auditRoutes(deps: AppDeps, { audit }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const session = authenticate(deps);

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit',
      tags: ['audit'],
      summary: 'Audit events of your account, newest first',
      security: bearerSecurity,
      middleware: [session],
      request: { query: AuditQuery },
      responses: { 200: json(AuditPage), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await audit.own(c.get('actor'), c.req.valid('query')), 200),
  );

  return r;
}
