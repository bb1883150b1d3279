import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { IdParam } from '../contract/common.js';
import { CreateKeyBody, KeyListQuery, KeyPage, KeySchema, KeyWithSecretSchema, RotateKeyBody, UpdateKeyBody } from '../contract/keys.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import type { Services } from '../services/index.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

export function keysRoutes(deps: AppDeps, { keys }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();
  // A session, or an API key with the admin scope acting for its own account.
  const auth = authenticate(deps, { keyScope: 'admin' });
  const common = { tags: ['keys'], security: bearerSecurity, middleware: [auth] };

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/keys',
      summary: 'Create an API key (the secret is returned once)',
      request: { body: jsonBody(CreateKeyBody) },
      responses: { 201: json(KeyWithSecretSchema, 'Created'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { key, secret } = await keys.create(c.get('actor'), c.req.valid('json'));
      c.header('cache-control', 'no-store');
      return c.json({ ...key, key: secret }, 201);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/keys',
      summary: 'List keys, newest first',
      request: {
        query: KeyListQuery,
      },
      responses: {
        200: json(KeyPage),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => c.json(await keys.list(c.get('actor'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/keys/{id}',
      summary: 'Get one key',
      request: { params: IdParam },
      responses: { 200: json(KeySchema), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await keys.get(c.get('actor'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'patch',
      path: '/v1/keys/{id}',
      summary: 'Change description, status, scopes, models, limits or expiry (the name is immutable)',
      request: { params: IdParam, body: jsonBody(UpdateKeyBody) },
      responses: { 200: json(KeySchema), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      return c.json(await keys.update(c.get('actor'), { id: c.req.valid('param').id, changes: c.req.valid('json') }), 200);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/keys/{id}/rotate',
      summary: 'Issue a new secret for the key; the old one dies now or after grace_seconds',
      request: {
        params: IdParam,
        body: {
          required: false,
          content: { 'application/json': { schema: RotateKeyBody } },
        },
      },
      responses: { 200: json(KeyWithSecretSchema), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const { key, secret } = await keys.rotate(c.get('actor'), { id: c.req.valid('param').id, grace_seconds: body.grace_seconds });
      c.header('cache-control', 'no-store');
      return c.json({ ...key, key: secret }, 200);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'delete',
      path: '/v1/keys/{id}',
      summary: 'Delete a key permanently (its usage records stay)',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await keys.remove(c.get('actor'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  return r;
}
