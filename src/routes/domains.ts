import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { IdParam } from '../contract/common.js';
import {
  CreateDomainBody,
  DomainClaimSchema,
  DomainListQuery,
  DomainNameBody,
  DomainPage,
  DomainSchema,
  DomainWithTokenSchema,
} from '../contract/domains.js';
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { AppError } from '../errors.js';
import { authenticate } from '../middleware/session-auth.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

/** Ownership checks (DNS + HTTP requests) per account per minute. */
export const OWNERSHIP_CHECKS_PER_MINUTE = 10;

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
        body: jsonBody(CreateDomainBody),
      },
      responses: { 201: json(DomainWithTokenSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
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
      summary: 'Your domains (admins see all)',
      request: { query: DomainListQuery },
      responses: {
        200: json(DomainPage),
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
      responses: { 200: json(DomainWithTokenSchema), ...errorResponses(401, 404) },
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
      request: { body: jsonBody(DomainNameBody) },
      responses: {
        201: json(DomainClaimSchema, 'Created'),
        200: json(DomainClaimSchema, 'Your existing claim on this name'),
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
        201: json(DomainWithTokenSchema, 'The claimed domain and its token (shown once)'),
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
