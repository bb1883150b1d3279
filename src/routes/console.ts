import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../deps.js';
import { CONSOLE_CSS, CONSOLE_CSS_PATH, CONSOLE_HTML, CONSOLE_JS, CONSOLE_JS_PATH } from '../web/assets.generated.js';
import { json, newRouter } from './router.js';

/**
 * No inline script or style anywhere, nothing from other origins: the bundle is served from here.
 * img-src allows data: for the wallet icons EIP-6963 announces (the spec requires data URIs).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

// Set per response, not with `use('*')`: middleware of a sub-app mounted at '/' would also run for
// every API route.
function secure(c: Context<AppEnv>): void {
  c.header('content-security-policy', CONSOLE_CSP);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
  c.header('cross-origin-opener-policy', 'same-origin');
  c.header('cross-origin-resource-policy', 'same-origin');
  c.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
}

const ConsoleConfigSchema = z
  .object({
    origin: z.string().openapi({ example: 'http://localhost:8787' }),
    domains: z.array(z.string()),
    chain_ids: z.array(z.number().int()),
    key_prefix: z.string(),
    trial_credits: z.number().int(),
    session_ttl_seconds: z.number().int(),
    statement: z.string(),
  })
  .openapi('ConsoleConfig');

/** The dApp console at `/`: static assets built from src/web/ plus the settings it needs. */
export function consoleRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const { config } = deps;

  r.get('/', (c) => {
    secure(c);
    // Always revalidate the page; its assets have content-hashed names and cache for good.
    c.header('cache-control', 'no-cache');
    return c.html(CONSOLE_HTML);
  });

  r.get(CONSOLE_JS_PATH, (c) => {
    secure(c);
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'public, max-age=31536000, immutable');
    return c.body(CONSOLE_JS);
  });

  r.get(CONSOLE_CSS_PATH, (c) => {
    secure(c);
    c.header('content-type', 'text/css; charset=utf-8');
    c.header('cache-control', 'public, max-age=31536000, immutable');
    return c.body(CONSOLE_CSS);
  });

  r.openapi(
    createRoute({
      method: 'get',
      path: '/console/config.json',
      tags: ['console'],
      summary: 'Public settings the console needs to build a sign-in message',
      responses: { 200: json(ConsoleConfigSchema) },
    }),
    (c) => {
      secure(c);
      c.header('cache-control', 'no-cache');
      return c.json(
        {
          origin: config.publicOrigin,
          domains: config.siweDomains,
          chain_ids: config.chainIds,
          key_prefix: config.keyPrefix,
          trial_credits: config.trialCredits,
          session_ttl_seconds: config.sessionTtlSeconds,
          statement: 'Sign in to the siwe-keys console.',
        },
        200,
      );
    },
  );

  return r;
}
