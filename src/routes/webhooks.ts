import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { IdParam, PageQuery } from '../contract/common.js';
import {
  CreateWebhookBody,
  DeliveryPage,
  DeliveryParams,
  DeliverySchema,
  RotateWebhookSecretBody,
  WebhookPage,
  WebhookSchema,
  WebhookTestSchema,
  WebhookWithSecretSchema,
} from '../contract/webhooks.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  retryDelivery,
  rotateWebhookSecret,
  sendTestEvent,
  type WebhooksDeps,
} from '../services/webhooks.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

export function webhooksRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();
  const common = { tags: ['webhooks'], security: bearerSecurity, middleware: [authenticate(deps, { keyScope: 'admin' })] };
  const wd = (): WebhooksDeps => ({
    db: deps.db,
    allowPrivateUrls: deps.config.webhooks.allowPrivateUrls,
    maxPerAccount: deps.config.webhooks.maxPerAccount,
    secretGraceSeconds: deps.config.webhooks.secretGraceSeconds,
  });

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/webhooks',
      summary: 'Register a webhook endpoint; its signing secret is shown once',
      request: {
        body: jsonBody(CreateWebhookBody),
      },
      responses: { 201: json(WebhookWithSecretSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => {
      const { webhook, secret } = await createWebhook(wd(), c.get('auth'), c.req.valid('json'), requestMeta(c, deps));
      c.header('cache-control', 'no-store');
      return c.json({ ...webhook, secret }, 201);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/webhooks',
      summary: 'Your webhook endpoints (newest first)',
      request: { query: PageQuery },
      responses: { 200: json(WebhookPage), ...errorResponses(400, 401, 403) },
    }),
    async (c) => c.json(await listWebhooks(wd(), c.get('auth'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/webhooks/{id}',
      summary: 'One webhook endpoint',
      request: { params: IdParam },
      responses: { 200: json(WebhookSchema), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await getWebhook(wd(), c.get('auth'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'delete',
      path: '/v1/webhooks/{id}',
      summary: 'Delete a webhook endpoint (nothing more is sent to it)',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await deleteWebhook(wd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps));
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/webhooks/{id}/rotate-secret',
      summary: 'New signing secret (shown once); the old one also signs for grace_seconds',
      request: {
        params: IdParam,
        body: {
          required: false,
          content: {
            'application/json': {
              schema: RotateWebhookSecretBody,
            },
          },
        },
      },
      responses: { 200: json(WebhookWithSecretSchema), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { webhook, secret } = await rotateWebhookSecret(
        wd(),
        c.get('auth'),
        c.req.valid('param').id,
        c.req.valid('json') ?? {},
        requestMeta(c, deps),
      );
      c.header('cache-control', 'no-store');
      return c.json({ ...webhook, secret }, 200);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/webhooks/{id}/test',
      summary: 'Send a webhook.test event to this endpoint',
      request: { params: IdParam },
      responses: { 202: json(WebhookTestSchema, 'Queued'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await sendTestEvent(wd(), c.get('auth'), c.req.valid('param').id, requestMeta(c, deps)), 202),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/webhooks/{id}/deliveries',
      summary: "This endpoint's deliveries (newest first)",
      request: { params: IdParam, query: PageQuery },
      responses: { 200: json(DeliveryPage), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => c.json(await listDeliveries(wd(), c.get('auth'), c.req.valid('param').id, c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/webhooks/{id}/deliveries/{delivery_id}/retry',
      summary: 'Attempt a delivery again now',
      request: { params: DeliveryParams },
      responses: { 202: json(DeliverySchema, 'Queued'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const p = c.req.valid('param');
      return c.json(await retryDelivery(wd(), c.get('auth'), p.id, p.delivery_id, requestMeta(c, deps)), 202);
    },
  );

  return r;
}
