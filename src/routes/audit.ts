import { createRoute, z } from '@hono/zod-openapi';
import { getAddress } from 'viem';
import type { AppDeps } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { listAuditPage } from '../services/audit.js';
import { bearerSecurity, errorResponses, json, newRouter } from './router.js';
import { PageQuery } from '../contract/common.js';

const EventSchema = z
  .object({
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    account: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    request_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('AuditEvent');
const Page = z.object({ data: z.array(EventSchema), has_more: z.boolean(), next_cursor: z.string().nullable() });

/** Filters: `action` (exact, e.g. key.create); on the admin log also `address` (actor or account). */
const AuditQuery = PageQuery.extend({
  action: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9_.]+$/, 'must be an action name like key.create')
    .optional(),
});
const AdminAuditQuery = AuditQuery.extend({
  address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x address')
    .optional(),
});

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
      responses: { 200: json(Page), ...errorResponses(400, 401) },
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
      responses: { 200: json(Page), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // Addresses are stored checksummed; match whatever case the admin typed.
      return c.json(await listAuditPage(deps.db, q, q.address ? getAddress(q.address) : undefined, 'admin'), 200);
    },
  );
  return r;
}
