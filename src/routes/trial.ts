import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { ApplicationSchema, ApplyBody } from '../contract/trial.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { apply, myApplication } from '../services/trial.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

export function trialRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const session = authenticate(deps);
  const user = { tags: ['trial'], security: bearerSecurity, middleware: [session] };

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

  return r;
}
