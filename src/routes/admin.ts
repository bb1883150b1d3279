import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { AccountSchema } from '../contract/accounts.js';
import { AdminStatsQuery, AdminStatsSchema } from '../contract/analytics.js';
import { AdminAuditQuery, AuditPage } from '../contract/audit.js';
import { CreditsChangeBody, IdParam } from '../contract/common.js';
import { AddressParam, ApplicationListQuery, ApplicationPage, ApplicationSchema, ApproveBody, RejectBody } from '../contract/trial.js';
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { wantsCsv } from '../services/csv.js';
import { bearerSecurity, csvResponse, errorResponses, json, jsonBody, jsonOrCsv, newRouter } from './router.js';

/** The admin endpoints (/v1/admin/...): trial review, account credits, the audit log and platform stats. */
export function adminRoutes(deps: AppDeps, { trial, audit, analytics }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const session = authenticate(deps);
  const admin = { tags: ['admin'], security: bearerSecurity, middleware: [session, requireAdmin()] };

  r.openapi(
    createRoute({
      ...admin,
      method: 'get',
      path: '/v1/admin/trial/applications',
      summary: 'Free-trial applications (admin)',
      request: {
        query: ApplicationListQuery,
      },
      responses: {
        200: json(ApplicationPage),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(await trial.list(c.get('actor'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/trial/applications/{id}/approve',
      summary: 'Approve: the account becomes a developer account with credits (admin)',
      request: {
        params: IdParam,
        body: { required: false, content: { 'application/json': { schema: ApproveBody } } },
      },
      responses: { 200: json(ApplicationSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      return c.json(await trial.approve(c.get('actor'), { id: c.req.valid('param').id, credits: body.credits }), 200);
    },
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/trial/applications/{id}/reject',
      summary: 'Reject with a reason (admin)',
      request: { params: IdParam, body: jsonBody(RejectBody) },
      responses: { 200: json(ApplicationSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await trial.reject(c.get('actor'), { id: c.req.valid('param').id, reason: c.req.valid('json').reason }), 200),
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/accounts/{address}/credits',
      summary: "Change an account's credit balance by delta (admin)",
      request: {
        params: AddressParam,
        body: jsonBody(CreditsChangeBody),
      },
      responses: { 200: json(AccountSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await trial.changeCredits(c.get('actor'), { ...c.req.valid('json'), address: c.req.valid('param').address }), 200),
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
    async (c) => c.json(await audit.all(c.get('actor'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/stats',
      tags: ['admin'],
      summary: 'Platform overview: accounts, trial, credits, verifications, keys, and a daily series (admin)',
      security: bearerSecurity,
      middleware: [authenticate(deps), requireAdmin()],
      request: { query: AdminStatsQuery },
      responses: { 200: jsonOrCsv(AdminStatsSchema), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const s = await analytics.adminStats(c.get('actor'), c.req.valid('query'));
      if (wantsCsv(c.req.header('accept'))) {
        return csvResponse(
          c,
          'platform-by-day',
          ['bucket', 'verifications', 'valid', 'refused', 'credits_charged', 'requests'],
          s.data.map((b) => [b.bucket, b.verifications, b.valid, b.refused, b.credits_charged, b.requests]),
        );
      }
      return c.json(s, 200);
    },
  );

  return r;
}
