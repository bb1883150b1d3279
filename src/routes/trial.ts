import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { ApplicationSchema, ApplyBody } from '../contract/trial.js';
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { authenticate } from '../middleware/session-auth.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

export function trialRoutes(deps: AppDeps, { trial }: Services): OpenAPIHono<AppEnv> {
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

  return r;
}
