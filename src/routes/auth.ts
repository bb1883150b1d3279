import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { AccountSchema, NonceSchema, SessionSchema, SiweVerifyBody } from '../contract/accounts.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { rateLimitKey } from '../ip-prefix.js';
import { rateLimit } from '../middleware/rate-limit.js';
import { requireSession } from '../middleware/session-auth.js';
import { issueNonce, me, signIn, signOut, signOutAll } from '../services/auth.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, refuseInvalid, requestMeta } from './router.js';

export function authRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const session = requireSession(deps);
  // IPv6 clients count per network prefix (a /64 by default), IPv4 clients per address.
  const byIp = (c: Parameters<typeof deps.clientIp>[0]): string | null => rateLimitKey(deps.clientIp(c), deps.config.ipv6RateLimitPrefix);
  const nonceLimit = rateLimit({ limit: deps.config.nonceRateLimit, clock: deps.clock, key: byIp, what: 'nonce requests' });
  const signInLimit = rateLimit({ limit: deps.config.signInRateLimit, clock: deps.clock, key: byIp, what: 'sign-in attempts' });

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/auth/nonce',
      tags: ['auth'],
      middleware: [nonceLimit],
      summary: 'Issue a single-use SIWE nonce (5 minutes)',
      responses: { 200: json(NonceSchema), ...errorResponses(429) },
    }),
    async (c) => {
      const { nonce, expiresAt } = await issueNonce(deps, deps.clientIp(c));
      c.header('cache-control', 'no-store');
      return c.json({ nonce, expires_at: expiresAt.toISOString() }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/verify',
      tags: ['auth'],
      middleware: [signInLimit],
      summary: 'Exchange a signed EIP-4361 message for a session JWT',
      request: { body: jsonBody(SiweVerifyBody) },
      responses: { 200: json(SessionSchema), ...errorResponses(400, 401, 413, 429) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      let res: Awaited<ReturnType<typeof signIn>>;
      try {
        res = await signIn(deps, { message: body.message, signature: body.signature as `0x${string}` }, requestMeta(c, deps));
      } catch (err) {
        deps.metrics.signIns.inc({ result: err instanceof AppError ? err.code : 'error' });
        throw err;
      }
      deps.metrics.signIns.inc({ result: 'ok' });
      c.header('cache-control', 'no-store');
      return c.json({ token: res.token, expires_at: res.expiresAt.toISOString(), account: res.account }, 200);
    },
    // A NUL in the message is a grammar error (invalid_siwe_message, as the contract names it); nothing
    // of the message is stored as text, so the router's NUL rule is not needed here.
    (result) => refuseInvalid(result),
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/logout',
      tags: ['auth'],
      summary: 'Revoke this session',
      security: bearerSecurity,
      middleware: [session] as const,
      responses: { 204: { description: 'Revoked' }, ...errorResponses(401) },
    }),
    async (c) => {
      const auth = c.get('auth');
      if (auth.kind === 'session') await signOut(deps, auth, requestMeta(c, deps));
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/logout-all',
      tags: ['auth'],
      summary: 'Revoke every session of the account',
      security: bearerSecurity,
      middleware: [session] as const,
      responses: { 204: { description: 'Revoked' }, ...errorResponses(401) },
    }),
    async (c) => {
      await signOutAll(deps, c.get('auth'), requestMeta(c, deps));
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me',
      tags: ['auth'],
      summary: 'The signed-in account',
      security: bearerSecurity,
      middleware: [session] as const,
      responses: { 200: json(AccountSchema), ...errorResponses(401) },
    }),
    async (c) => c.json(await me(deps, c.get('auth')), 200),
  );

  return r;
}
