import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { IdParam, PageQuery } from '../contract/common.js';
import { DomainClaimSchema, DomainNameBody, DomainPage, DomainSchema, DomainWithTokenSchema } from '../contract/domains.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { WindowLimiter } from '../middleware/rate-limit.js';
import { authenticate } from '../middleware/session-auth.js';
import {
  checkClaim,
  checkDomainOwnership,
  claimDomain,
  createDomain,
  getDomain,
  listVisibleDomains,
  removeDomain,
  rotateDomainToken,
  type DomainsDeps,
} from '../services/domains.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

/** Ownership checks (DNS + HTTP requests) per account per minute. */
export const OWNERSHIP_CHECKS_PER_MINUTE = 10;

export function domainsRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const common = { tags: ['domains'], security: bearerSecurity, middleware: [authenticate(deps)] };
  const dd = (): DomainsDeps => ({
    db: deps.db,
    keyPrefix: deps.config.keyPrefix,
    maxDomainsPerAccount: deps.config.maxDomainsPerAccount,
    checker: deps.domainChecker,
  });

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/domains',
      summary: 'Register a domain and get its token (shown once)',
      request: {
        body: jsonBody(DomainNameBody),
      },
      responses: { 201: json(DomainWithTokenSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
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
      request: { query: PageQuery },
      responses: {
        200: json(DomainPage),
        ...errorResponses(400, 401),
      },
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
      responses: { 200: json(DomainWithTokenSchema), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const { domain, token } = await rotateDomainToken(dd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps));
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
      const { claim, created } = await claimDomain(dd(), c.get('auth'), c.req.valid('json'), requestMeta(c, deps));
      return created ? c.json(claim, 201) : c.json(claim, 200);
    },
  );

  // Why: every check makes the service send DNS and HTTP requests; a signed-in account must not be
  // able to turn it into a request cannon. Per account, per instance.
  // Counted in the handler, after the request was validated (a malformed request is a 400, not a 429).
  const checkLimiter = new WindowLimiter(OWNERSHIP_CHECKS_PER_MINUTE, deps.clock);
  const countCheck = (address: string): void => {
    const wait = checkLimiter.hit(address);
    if (wait > 0)
      throw new AppError('rate_limited', `Too many ownership checks from your account. Try again in ${wait} s.`, {
        headers: { 'retry-after': String(wait) },
      });
  };

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
      countCheck(c.get('auth').address);
      const { domain, token } = await checkClaim(dd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps));
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
      const id = c.req.valid('param').id;
      countCheck(c.get('auth').address);
      return c.json(await checkDomainOwnership(dd(), c.get('auth'), id, requestMeta(c, deps)), 200);
    },
  );

  return r;
}
