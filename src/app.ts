import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './deps.js';
import { AppError, errorBody } from './errors.js';
import { accessLog } from './middleware/access-log.js';
import { bodyLimit } from './middleware/body-limit.js';
import { apiHeaders } from './middleware/api-headers.js';
import { requestId } from './middleware/request-id.js';
import { authRoutes } from './routes/auth.js';
import { keysRoutes } from './routes/keys.js';
import { trialRoutes } from './routes/trial.js';
import { auditRoutes } from './routes/audit.js';
import { domainsRoutes } from './routes/domains.js';
import { usageBatchRoutes } from './routes/usage-batch.js';
import { usageRoutes } from './routes/usage.js';
import { verifyRoutes } from './routes/verify.js';
import { analyticsRoutes } from './routes/analytics.js';
import { adminRoutes } from './routes/admin.js';
import { webhooksRoutes } from './routes/webhooks.js';
import { teamsRoutes } from './routes/teams.js';
import { consoleRoutes } from './routes/console.js';
import { opsRoutes, renderDocs } from './routes/ops.js';
import { newRouter } from './routes/router.js';
import { createServices, type Services } from './services/index.js';
import type { OpenAPIHono } from '@hono/zod-openapi';

export const API_VERSION = '1.0.0';

function toAppError(err: unknown, deps: AppDeps, c: Context<AppEnv>): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    // Hono's validators throw these for unreadable bodies (malformed JSON and the like).
    if (err.status === 413) return new AppError('payload_too_large');
    if (err.status === 415) {
      return new AppError('invalid_request', 'The request body must be JSON (Content-Type: application/json).', {
        extra: { param: 'content-type' },
      });
    }
    if (err.status === 400) {
      return new AppError('invalid_request', 'The request body is not valid JSON.', { extra: { param: 'body' } });
    }
  }
  deps.logger.error('unhandled error', {
    request_id: c.get('requestId'),
    path: c.req.path,
    error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  });
  return new AppError('internal_error');
}

/** Builds the whole HTTP API from its dependencies; no runtime-specific imports here. */
export function createApp(deps: AppDeps) {
  const app = newRouter();
  // Built once: routes call the services bound to these deps (no per-request deps objects).
  const services = createServices(deps);

  app.use('*', requestId());
  app.use('*', accessLog(deps.logger, deps.metrics));
  const limitBody = bodyLimit(deps.config.bodyLimitBytes);
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') return limitBody(c, next);
    await next();
  });
  app.use('/v1/*', apiHeaders());
  // The unauthenticated operational routes get the same nosniff / no-framing headers.
  for (const path of ['/healthz', '/metrics', '/openapi.json', '/docs', '/.well-known/jwks.json']) app.use(path, apiHeaders());
  if (deps.config.corsOrigins.length > 0) {
    // Browser-facing routes only: /v1/verify and POST /v1/usage are called by node operators' servers.
    const allow = cors({
      origin: deps.config.corsOrigins,
      allowMethods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposeHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    });
    const browserFacing = [
      '/v1/auth/*',
      '/v1/me',
      '/v1/keys',
      '/v1/keys/*',
      '/v1/trial/*',
      '/v1/admin/*',
      '/v1/domains',
      '/v1/domains/*',
      '/v1/audit',
      '/v1/teams',
      '/v1/teams/*',
    ];
    for (const path of [...browserFacing, '/v1/usage', '/v1/usage/summary', '/v1/webhooks', '/v1/webhooks/*']) {
      app.use(path, allow);
    }
  }

  // One sub-app per resource, mounted in this order.
  const resources: ((deps: AppDeps, services: Services) => OpenAPIHono<AppEnv>)[] = [
    opsRoutes,
    authRoutes,
    keysRoutes,
    trialRoutes,
    auditRoutes,
    domainsRoutes,
    verifyRoutes,
    usageRoutes,
    usageBatchRoutes,
    analyticsRoutes,
    adminRoutes,
    webhooksRoutes,
    teamsRoutes,
    consoleRoutes,
  ];
  for (const routes of resources) app.route('/', routes(deps, services));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A session JWT, an API key with the needed scope, or a domain token, as each route says.',
  });
  const docConfig = {
    openapi: '3.1.0',
    info: { title: 'siwe-keys', version: API_VERSION, description: 'Sign-In with Ethereum sessions and typed API keys.' },
  };
  // Unauthenticated, so built once (on first use, when every route is registered) and served from memory.
  let doc: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  let docJson: string | undefined;
  let docHtml: string | undefined;
  const openApiDoc = () => (doc ??= app.getOpenAPI31Document(docConfig));
  app.get('/openapi.json', (c) =>
    c.body((docJson ??= JSON.stringify(openApiDoc())), 200, { 'content-type': 'application/json; charset=utf-8' }),
  );
  app.get('/docs', (c) => c.html((docHtml ??= renderDocs(openApiDoc() as unknown as Parameters<typeof renderDocs>[0]))));

  app.notFound((c) => {
    // The path is not echoed: callers sometimes paste secrets into URLs, and proxies log bodies.
    const err = new AppError('not_found', `No route for ${c.req.method} on this path.`);
    return c.json(errorBody(err, c.get('requestId') ?? 'req_unknown'), 404);
  });
  app.onError((err, c) => {
    const e = toAppError(err, deps, c);
    const rid = c.get('requestId') ?? 'req_unknown';
    c.header('x-request-id', rid);
    for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
    return c.json(errorBody(e, rid), e.status as 400);
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
