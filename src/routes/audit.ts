import { createRoute, z } from '@hono/zod-openapi';
import { listAuditEvents } from '../db/repositories/audit.js';
import { keyIdsOfAccount } from '../db/repositories/keys.js';
import type { AuditEventsTable } from '../db/schema.js';
import type { AppDeps } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { iso } from '../services/accounts.js';
import { toPage } from '../services/pagination.js';
import { bearerSecurity, errorResponses, json, newRouter } from './router.js';
import { ListQuery } from './keys.js';

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

function view(e: AuditEventsTable): z.infer<typeof EventSchema> {
  return { ...e, at: iso(e.at) as string, detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null };
}

async function page(deps: AppDeps, q: { limit: number; cursor?: string }, account?: string): Promise<z.infer<typeof Page>> {
  const events = await listAuditEvents(deps.db, { account, cursor: q.cursor, limit: q.limit + 1 });
  // Users see events about their account that admins caused, but not the admin's IP or browser;
  // what their own wallet or their own API keys did shows where it came from (a leaked key's use).
  const ownKeys = account === undefined ? new Set<string>() : await keyIdsOfAccount(deps.db, account, [...new Set(events.filter((e) => e.actor !== account).map((e) => e.actor))]);
  const redact = (e: AuditEventsTable): AuditEventsTable =>
    account !== undefined && e.actor !== account && !ownKeys.has(e.actor) ? { ...e, ip: null, user_agent: null } : e;
  return toPage(events, q.limit, (e) => view(redact(e)));
}

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
      request: { query: ListQuery },
      responses: { 200: json(Page), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await page(deps, c.req.valid('query'), c.get('auth').address), 200),
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/audit',
      tags: ['admin'],
      summary: 'All audit events, newest first (admin)',
      security: bearerSecurity,
      middleware: [session, requireAdmin()],
      request: { query: ListQuery },
      responses: { 200: json(Page), ...errorResponses(400, 401, 403) },
    }),
    async (c) => c.json(await page(deps, c.req.valid('query')), 200),
  );
  return r;
}
