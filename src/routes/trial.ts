import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
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
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { AppError } from '../errors.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

export function trialRoutes(deps: AppDeps, { trial }: Services): OpenAPIHono<AppEnv> {
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
    async (c) => c.json(await trial.apply(c.get('actor'), c.req.valid('json')), 201),
  );

  r.openapi(
    createRoute({
      ...user,
      method: 'get',
      path: '/v1/trial/applications/mine',
      summary: 'Your latest free-trial application',
      responses: { 200: json(ApplicationSchema), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await trial.mine(c.get('actor')), 200),
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

  return r;
}
