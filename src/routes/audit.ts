import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { AuditPage, AuditQuery } from '../contract/audit.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { listAuditPage } from '../services/audit.js';
import { bearerSecurity, errorResponses, json, newRouter } from './router.js';

export function auditRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
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
    async (c) => c.json(await listAuditPage(deps.db, c.req.valid('query'), c.get('auth').address, 'user'), 200),
  );

  return r;
}
