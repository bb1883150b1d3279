import { createRoute, z } from '@hono/zod-openapi';
import { AccountSchema } from '../contract/accounts.js';
import { getAddress, isAddress } from 'viem';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { rolesFor } from '../services/accounts.js';
import { apply, approve, changeCredits, listForAdmin, myApplication, reject } from '../services/trial.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';
import { PageQuery } from '../contract/common.js';

export const ApplicationSchema = z
  .object({
    id: z.string(),
    address: z.string(),
    status: z.enum(['pending', 'approved', 'rejected']),
    use_case: z.string(),
    contact: z.string().nullable(),
    credits_granted: z.number().int().nullable(),
    reviewed_by: z.string().nullable(),
    reason: z.string().nullable(),
    created_at: z.string(),
    reviewed_at: z.string().nullable(),
  })
  .openapi('Application');

const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});
const credits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function trialRoutes(deps: AppDeps) {
  const r = newRouter();
  const session = authenticate(deps);
  const user = { tags: ['trial'], security: bearerSecurity, middleware: [session] };
  const admin = { tags: ['admin'], security: bearerSecurity, middleware: [session, requireAdmin()] };

  r.openapi(
    createRoute({
      ...user,
      method: 'post',
      path: '/v1/trial/applications',
      summary: 'Apply for the developer free trial',
      request: {
        body: jsonBody(z.object({ use_case: z.string().trim().min(1).max(4000), contact: z.string().trim().max(255).optional() }).strict()),
      },
      responses: { 201: json(ApplicationSchema, 'Created'), ...errorResponses(400, 401, 409) },
    }),
    async (c) => c.json(await apply(deps.db, c.get('auth').address, c.req.valid('json'), requestMeta(c, deps)), 201),
  );

  r.openapi(
    createRoute({
      ...user,
      method: 'get',
      path: '/v1/trial/applications/mine',
      summary: 'Your latest free-trial application',
      responses: { 200: json(ApplicationSchema), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await myApplication(deps.db, c.get('auth').address), 200),
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'get',
      path: '/v1/admin/trial/applications',
      summary: 'Free-trial applications (admin)',
      request: {
        query: PageQuery.extend({
          status: z.enum(['pending', 'approved', 'rejected']).optional(),
          address: z
            .string()
            .refine((a) => isAddress(a, { strict: false }), 'must be an address')
            .optional(),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(ApplicationSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await listForAdmin(deps.db, { ...q, address: q.address ? getAddress(q.address) : undefined }), 200);
    },
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/trial/applications/{id}/approve',
      summary: 'Approve: the account becomes a developer account with credits (admin)',
      request: {
        params: IdParam,
        body: { required: false, content: { 'application/json': { schema: z.object({ credits: credits.optional() }).strict() } } },
      },
      responses: { 200: json(ApplicationSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const res = await approve(
        deps.db,
        c.req.valid('param').id,
        c.get('auth').address,
        body.credits ?? deps.config.trialCredits,
        requestMeta(c, deps),
      );
      return c.json(res, 200);
    },
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/trial/applications/{id}/reject',
      summary: 'Reject with a reason (admin)',
      request: { params: IdParam, body: jsonBody(z.object({ reason: z.string().trim().min(1).max(2000) }).strict()) },
      responses: { 200: json(ApplicationSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) =>
      c.json(await reject(deps.db, c.req.valid('param').id, c.get('auth').address, c.req.valid('json').reason, requestMeta(c, deps)), 200),
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/accounts/{address}/credits',
      summary: "Change an account's credit balance by delta (admin)",
      request: {
        params: z.object({ address: z.string().openapi({ param: { name: 'address', in: 'path' } }) }),
        body: jsonBody(
          z
            .object({
              // 0 is refused: it would turn an unenforced (null) balance into an enforced 0 by accident.
              delta: z
                .number()
                .int()
                .min(-Number.MAX_SAFE_INTEGER)
                .max(Number.MAX_SAFE_INTEGER)
                .refine((d) => d !== 0, 'must not be 0'),
              reason: z.string().trim().min(1).max(2000),
            })
            .strict(),
        ),
      },
      responses: { 200: json(AccountSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const raw = c.req.valid('param').address;
      if (!isAddress(raw, { strict: false })) throw new AppError('invalid_request', 'Invalid address.', { extra: { param: 'address' } });
      const res = await changeCredits(deps.db, getAddress(raw), c.get('auth').address, c.req.valid('json'), requestMeta(c, deps), (a) =>
        rolesFor(a, deps.config.adminAddresses),
      );
      return c.json(res, 200);
    },
  );

  return r;
}
