import { createRoute } from '@hono/zod-openapi';
import { AdminAuditQuery, AuditPage, AuditQuery } from '../contract/audit.js';
import { getAddress } from 'viem';
import type { AppDeps } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { listAuditPage } from '../services/audit.js';
import { bearerSecurity, errorResponses, json, newRouter } from './router.js';

export function auditRoutes(deps: AppDeps) {
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

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/audit',
      tags: ['admin'],
      summary: 'All audit events, newest first (admin)',
      security: bearerSecurity,
      middleware: [session, requireAdmin()],
      request: { query: AdminAuditQuery },
      responses: { 200: json(AuditPage), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // Addresses are stored checksummed; match whatever case the admin typed.
      return c.json(await listAuditPage(deps.db, q, q.address ? getAddress(q.address) : undefined, 'admin'), 200);
    },
  );
  return r;
}
