import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { createDomain, getDomain, listVisibleDomains, removeDomain, rotateDomainToken, type DomainsDeps } from '../services/domains.js';
import { ListQuery } from './keys.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const DomainSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    visibility: z.enum(['network', 'public']),
    owner: z.string(),
    token_hint: z.string(),
    created_at: z.string(),
  })
  .openapi('Domain');
const DomainWithToken = DomainSchema.extend({ token: z.string().openapi({ description: 'The domain token. Shown once.' }) }).openapi('DomainWithToken');
const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });

export function domainsRoutes(deps: AppDeps) {
  const r = newRouter();
  const common = { tags: ['domains'], security: bearerSecurity, middleware: [authenticate(deps)] };
  const dd = (): DomainsDeps => ({ db: deps.db, keyPrefix: deps.config.keyPrefix, maxDomainsPerAccount: deps.config.maxDomainsPerAccount });

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains',
      summary: 'Register a domain and get its token (shown once)',
      request: {
        body: jsonBody(
          z
            .object({
              name: z.string().trim().toLowerCase().regex(DNS_NAME, 'must be a DNS name like node-42.example.org'),
              visibility: z.enum(['network', 'public']).optional(),
            })
            .strict(),
        ),
      },
      responses: { 201: json(DomainWithToken, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => {
      const { domain, token } = await createDomain(dd(), c.get('auth'), c.req.valid('json'), requestMeta(c, deps));
      c.header('cache-control', 'no-store');
      return c.json({ ...domain, token }, 201);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/domains',
      summary: 'Your domains (admins see all)',
      request: { query: ListQuery },
      responses: { 200: json(z.object({ data: z.array(DomainSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await listVisibleDomains(dd(), c.get('auth'), c.req.valid('query')), 200),
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
    async (c) => c.json(await getDomain(dd(), c.get('auth'), c.req.valid('param').id), 200),
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
      await removeDomain(dd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps));
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
      const { domain, token } = await rotateDomainToken(dd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps));
      c.header('cache-control', 'no-store');
      return c.json({ ...domain, token }, 200);
    },
  );

  return r;
}
