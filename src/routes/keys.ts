import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { SCOPES } from '../contract/verify-codes.js';
import type { Services } from '../services/index.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

const credits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{C}]+$/u, 'must be printable characters')
  .refine((s) => s.trim() === s && s.length > 0, 'must not start or end with spaces');
const Scopes = z
  .array(z.enum(SCOPES))
  .min(1)
  .max(SCOPES.length)
  .refine((a) => new Set(a).size === a.length, 'must not repeat a scope')
  // Why: a key that node operators see (inference) must never be able to manage the account.
  .refine((a) => !a.includes('admin') || a.length === 1, 'admin cannot be combined with other scopes: an admin key manages keys only');
const Models = z.array(z.string().min(1).max(128)).min(1).max(100).nullable();
const Limits = z
  .object({
    rpm: z.number().int().min(1).max(1_000_000).optional(),
    daily_credits: credits.optional(),
    monthly_credits: credits.optional(),
  })
  .strict();
const Expiry = z.iso.datetime({ offset: true });

export const KeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    type: z.enum(['developer', 'network']),
    scopes: z.array(z.string()),
    hint: z.string().openapi({ example: 'sk_net_…a1b2' }),
    status: z.enum(['active', 'disabled']),
    disabled_reason: z.string().nullable().openapi({
      description:
        "Why the service disabled the key: 'trial_approved' (the account was approved for free developer credits; its keys never work on network domains).",
    }),
    models: z.array(z.string()).nullable(),
    limits: z.object({
      rpm: z.number().int().optional(),
      daily_credits: z.number().int().optional(),
      monthly_credits: z.number().int().optional(),
    }),
    usage: z.object({ today: z.number().int(), this_month: z.number().int(), total: z.number().int() }),
    expires_at: z.string().nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .openapi('Key');
const KeyWithSecret = KeySchema.extend({ key: z.string().openapi({ description: 'The secret. Shown once.' }) }).openapi('KeyWithSecret');

const CreateBody = z
  .object({
    name: Name,
    description: z.string().max(1024).optional(),
    type: z.enum(['developer', 'network']).optional(),
    scopes: Scopes.optional(),
    models: Models.optional(),
    limits: Limits.optional(),
    expires_at: Expiry.nullable().optional(),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
  })
  .strict()
  .openapi('CreateKeyRequest');

const UpdateBody = z
  .object({
    description: z.string().max(1024).nullable().optional(),
    status: z.enum(['active', 'disabled']).optional(),
    scopes: Scopes.optional(),
    models: Models.optional(),
    limits: z
      .object({
        rpm: z.number().int().min(1).max(1_000_000).nullable().optional(),
        daily_credits: credits.nullable().optional(),
        monthly_credits: credits.nullable().optional(),
      })
      .strict()
      .optional(),
    expires_at: Expiry.nullable().optional(),
  })
  .strict()
  .openapi('UpdateKeyRequest');

const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});
export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(64).optional(),
});

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
      request: { body: jsonBody(CreateBody) },
      responses: { 201: json(KeyWithSecret, 'Created'), ...errorResponses(400, 401, 403, 409) },
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
        query: ListQuery.extend({
          status: z.enum(['active', 'disabled']).optional(),
          expiring_within_days: z.coerce.number().int().min(0).max(3650).optional(),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(KeySchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        ...errorResponses(400, 401, 403),
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
      request: { params: IdParam, body: jsonBody(UpdateBody) },
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
          content: { 'application/json': { schema: z.object({ grace_seconds: z.number().int().min(0).max(86_400).optional() }).strict() } },
        },
      },
      responses: { 200: json(KeyWithSecret), ...errorResponses(400, 401, 403, 404) },
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
