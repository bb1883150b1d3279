/** Webhook endpoints and their deliveries (/v1/webhooks). */
import { z } from '@hono/zod-openapi';
import { idParam, IdParam, pageOf } from './common.js';

export const WEBHOOK_EVENT_TYPES = [
  'key.expiring',
  'key.expired',
  'key.quota_reached',
  'account.credits_low',
  'trial.approved',
  'trial.rejected',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const EventType = z.enum(WEBHOOK_EVENT_TYPES);

export const WebhookSchema = z
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
export type Webhook = z.infer<typeof WebhookSchema>;
export const WebhookPage = pageOf(WebhookSchema);

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: 'The signing secret (whsec_<base64>). Shown once.' }),
}).openapi('WebhookWithSecret');

export const DeliverySchema = z
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
export type Delivery = z.infer<typeof DeliverySchema>;
export const DeliveryPage = pageOf(DeliverySchema);

export const DeliveryParams = IdParam.extend({ delivery_id: idParam('delivery_id') });

export const CreateWebhookBody = z
  .object({
    url: z.string().min(1).max(2048),
    events: z
      .array(EventType)
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length * 2),
    description: z.string().max(1024).optional(),
  })
  .strict();

export const RotateWebhookSecretBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .optional(),
  })
  .strict();

export const WebhookTestSchema = z.object({ event_id: z.string() });
