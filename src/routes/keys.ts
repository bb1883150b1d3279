import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { IdParam } from '../contract/common.js';
import { CreateKeyBody, KeyListQuery, KeyPage, KeySchema, KeyWithSecretSchema, RotateKeyBody, UpdateKeyBody } from '../contract/keys.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { createKey, deleteKey, getKey, listOwnKeys, rotateKey, updateKey, type Caller, type KeysDeps } from '../services/keys.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

export function keysRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  // A session, or an API key with the admin scope acting for its own account.
  const auth = authenticate(deps, { keyScope: 'admin' });
  const kd = (): KeysDeps => ({ db: deps.db, keyPrefix: deps.config.keyPrefix, maxKeysPerAccount: deps.config.maxKeysPerAccount });
  // An admin key acts as itself: the audit trail names the key, and `account` names its owner.
  const actorOf = (a: { kind: string; address: string; keyId?: string }): Caller =>
    a.kind === 'key' && a.keyId ? { id: a.keyId, via: 'key' } : { id: a.address, via: 'session' };
  const common = { tags: ['keys'], security: bearerSecurity, middleware: [auth] };

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/keys',
      summary: 'Create an API key (the secret is returned once)',
      request: { body: jsonBody(CreateKeyBody) },
      responses: { 201: json(KeyWithSecretSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => {
      const a = c.get('auth');
      const { key, secret } = await createKey(kd(), a.address, actorOf(a), c.req.valid('json'), requestMeta(c, deps));
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
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(await listOwnKeys(kd(), c.get('auth').address, c.req.valid('query'), deps.clock.now().getTime()), 200),
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
    async (c) => c.json(await getKey(kd(), c.get('auth').address, c.req.valid('param').id, deps.clock.now().getTime()), 200),
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
      const a = c.get('auth');
      return c.json(await updateKey(kd(), a.address, actorOf(a), c.req.valid('param').id, c.req.valid('json'), requestMeta(c, deps)), 200);
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
      const a = c.get('auth');
      const body = c.req.valid('json') ?? {};
      const { key, secret } = await rotateKey(
        kd(),
        a.address,
        actorOf(a),
        c.req.valid('param').id,
        body.grace_seconds ?? 0,
        requestMeta(c, deps),
      );
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
      const a = c.get('auth');
      await deleteKey(kd(), a.address, actorOf(a), c.req.valid('param').id, requestMeta(c, deps));
      return c.body(null, 204);
    },
  );

  return r;
}
