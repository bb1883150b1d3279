import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../deps.js';
import { authenticate } from '../middleware/session-auth.js';
import { WEBHOOK_EVENT_TYPES } from '../services/webhook-events.js';
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
import { PageQuery } from '../contract/common.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, requestMeta } from './router.js';

const EventType = z.enum(WEBHOOK_EVENT_TYPES);
const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(EventType),
    secret_hint: z.string().openapi({ description: 'The end of the signing secret, to tell secrets apart; never the secret.' }),
    previous_secret_expires_at: z.string().nullable().openapi({ description: 'After a rotation, when the previous secret stops signing.' }),
    created_at: z.string(),
  })
  .openapi('Webhook');
const WebhookWithSecret = WebhookSchema.extend({
  secret: z.string().openapi({ description: 'The signing secret (whsec_<base64>). Shown once.' }),
}).openapi('WebhookWithSecret');
const DeliverySchema = z
  .object({
    id: z.string(),
    event_id: z.string().openapi({ description: 'The webhook-id header: the same on every attempt.' }),
    type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('WebhookDelivery');
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});
const DeliveryParams = IdParam.extend({
  delivery_id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'delivery_id', in: 'path' } }),
});
const page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable() });

export function webhooksRoutes(deps: AppDeps) {
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
        body: jsonBody(
          z
            .object({
              url: z.string().min(1).max(2048),
              events: z
                .array(EventType)
                .min(1)
                .max(WEBHOOK_EVENT_TYPES.length * 2),
              description: z.string().max(1024).optional(),
            })
            .strict(),
        ),
      },
      responses: { 201: json(WebhookWithSecret, 'Created'), ...errorResponses(400, 401, 403, 409) },
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
      responses: { 200: json(page(WebhookSchema)), ...errorResponses(400, 401, 403) },
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
              schema: z
                .object({
                  grace_seconds: z
                    .number()
                    .int()
                    .min(0)
                    .max(7 * 86400)
                    .optional(),
                })
                .strict(),
            },
          },
        },
      },
      responses: { 200: json(WebhookWithSecret), ...errorResponses(400, 401, 403, 404) },
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
      responses: { 202: json(z.object({ event_id: z.string() }), 'Queued'), ...errorResponses(401, 403, 404) },
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
      responses: { 200: json(page(DeliverySchema)), ...errorResponses(400, 401, 403, 404) },
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
