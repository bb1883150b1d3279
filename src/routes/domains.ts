import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import type { Services } from '../services/index.js';
import { ListQuery } from './keys.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const DomainSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    visibility: z.enum(['network', 'public']),
    owner: z.string(),
    token_hint: z.string(),
    created_at: z.string(),
    ownership: z.enum(['verified', 'unverified']).openapi({ description: 'Whether the owner proved control of the name.' }),
    ownership_challenge: z.string().openapi({
      description:
        'Publish it as a TXT record at `_siwe-keys.<name>` or as the body of `https://<name>/.well-known/siwe-keys.txt`, then call the ownership check.',
    }),
    verified_at: z.string().nullable(),
    team_id: z.string().nullable().openapi({ description: 'The team that owns the domain (`owner` is then the team id), or null.' }),
    created_by: z.string().nullable().openapi({ description: 'The member wallet that registered a team domain; null otherwise.' }),
  })
  .openapi('Domain');
const ClaimSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    visibility: z.enum(['network', 'public']),
    status: z.literal('pending'),
    ownership_challenge: z.string().openapi({ description: "This claim's own challenge: publish it on the name, then check the claim." }),
    created_at: z.string(),
  })
  .openapi('DomainClaim');
const DomainWithToken = DomainSchema.extend({ token: z.string().openapi({ description: 'The domain token. Shown once.' }) }).openapi(
  'DomainWithToken',
);
const NameBody = z
  .object({
    name: z.string().trim().toLowerCase().regex(DNS_NAME, 'must be a DNS name like node-42.example.org'),
    visibility: z.enum(['network', 'public']).optional(),
  })
  .strict();
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});
const TeamId = z.string().min(1).max(64);
const CreateBody = NameBody.extend({
  team_id: TeamId.optional().openapi({ description: 'Register it for this team (owners and admins).' }),
}).strict();

export function domainsRoutes(deps: AppDeps, { domains }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const common = { tags: ['domains'], security: bearerSecurity, middleware: [authenticate(deps)] };

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains',
      summary: 'Register a domain and get its token (shown once)',
      request: {
        body: jsonBody(CreateBody),
      },
      responses: { 201: json(DomainWithToken, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => {
      const { domain, token } = await domains.create(c.get('actor'), c.req.valid('json'));
      c.header('cache-control', 'no-store');
      return c.json({ ...domain, token }, 201);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/domains',
      summary: "Your domains (admins see all), or with team_id a team's",
      request: { query: ListQuery.extend({ team_id: TeamId.optional() }) },
      responses: {
        200: json(z.object({ data: z.array(DomainSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => c.json(await domains.list(c.get('actor'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/domains/{id}',
      summary: 'One domain',
      request: { params: IdParam },
      responses: { 200: json(DomainSchema), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await domains.get(c.get('actor'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'delete',
      path: '/v1/domains/{id}',
      summary: 'Delete a domain (its token dies at once)',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      await domains.remove(c.get('actor'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains/{id}/token/rotate',
      summary: 'Issue a new domain token; the old one dies at once',
      request: { params: IdParam },
      responses: { 200: json(DomainWithToken), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const { domain, token } = await domains.rotateToken(c.get('actor'), c.req.valid('param').id);
      c.header('cache-control', 'no-store');
      return c.json({ ...domain, token }, 200);
    },
  );

  // Registered before /v1/domains/{id}/... so "claims" is never taken for a domain id.
  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains/claim',
      summary: 'Claim a name that another account registered but never proved (pending until its check passes)',
      request: { body: jsonBody(NameBody) },
      responses: {
        201: json(ClaimSchema, 'Created'),
        200: json(ClaimSchema, 'Your existing claim on this name'),
        ...errorResponses(400, 401, 403, 409),
      },
    }),
    async (c) => {
      const { claim, created } = await domains.claim(c.get('actor'), c.req.valid('json'));
      return created ? c.json(claim, 201) : c.json(claim, 200);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains/claims/{id}/check',
      summary:
        "Check a claim's challenge on the name; on success the claimant owns the domain and the unproven holder's domain and token are gone",
      request: { params: IdParam },
      responses: {
        201: json(DomainWithToken, 'The claimed domain and its token (shown once)'),
        ...errorResponses(401, 404, 409, 422, 429),
      },
    }),
    async (c) => {
      const { domain, token } = await domains.checkClaim(c.get('actor'), c.req.valid('param').id);
      c.header('cache-control', 'no-store');
      return c.json({ ...domain, token }, 201);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains/{id}/ownership/check',
      summary: 'Prove ownership: look for the challenge in DNS (TXT _siwe-keys.<name>) or at https://<name>/.well-known/siwe-keys.txt',
      request: { params: IdParam },
      responses: { 200: json(DomainSchema), ...errorResponses(401, 404, 422, 429) },
    }),
    async (c) => {
      return c.json(await domains.checkOwnership(c.get('actor'), c.req.valid('param').id), 200);
    },
  );

  return r;
}
