import { createRoute } from '@hono/zod-openapi';
import { IdParam } from '../contract/common.js';
import {
  AddressParam,
  ApplicationListQuery,
  ApplicationPage,
  ApplicationSchema,
  ApplyBody,
  ApproveBody,
  CreditsChangeBody,
  RejectBody,
} from '../contract/trial.js';
import { AccountSchema } from '../contract/accounts.js';
import { getAddress, isAddress } from 'viem';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { rolesFor } from '../services/accounts.js';
import { apply, approve, changeCredits, listForAdmin, myApplication, reject } from '../services/trial.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

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
        body: jsonBody(ApplyBody),
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
        query: ApplicationListQuery,
      },
      responses: {
        200: json(ApplicationPage),
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
        body: { required: false, content: { 'application/json': { schema: ApproveBody } } },
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
      request: { params: IdParam, body: jsonBody(RejectBody) },
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
        params: AddressParam,
        body: jsonBody(CreditsChangeBody),
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
