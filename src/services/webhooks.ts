// Webhook endpoints: register, list, get, delete, rotate the secret, send a test, deliveries.
import type { Kysely } from 'kysely';
import type { Database, WebhookEndpointRow } from '../db/schema.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import {
  countWebhooks,
  deleteOwnWebhookQuery,
  deliveryExists,
  findOwnWebhook,
  insertWebhookQuery,
  listDeliveryRows,
  listWebhookRows,
  requeueDelivery,
  rotateWebhookSecretQuery,
} from '../db/repositories/webhooks.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import { auditEventStep } from './audit.js';
import { auditMeta, type Actor } from './actor.js';
import type { Clock } from '../clock.js';
import { toPage, type Page } from './pagination.js';
import { deliveryView } from './webhook-delivery.js';
import type { Delivery, Webhook } from '../contract/webhooks.js';
import { outboxHint, outboxInsertQuery, type WebhookEventType } from './webhook-events.js';
import { newWebhookSecret, secretHint } from './webhook-signing.js';
import { checkWebhookUrl, hostOf, isPrivateAddress, REFUSAL_MESSAGES } from './webhook-url.js';

export interface WebhooksDeps {
  db: Kysely<Database>;
  clock: Clock;
  allowPrivateUrls: boolean;
  maxPerAccount: number;
  secretGraceSeconds: number;
}

/**
 * Resolves a host name to its addresses where the runtime can (Node sets it; Workers cannot
 * resolve), so registration refuses a name that points inside the network.
 */
let resolveHost: ((host: string) => Promise<string[]>) | null = null;
export function setWebhookHostResolver(fn: ((host: string) => Promise<string[]>) | null): void {
  resolveHost = fn;
}

export type WebhookView = Webhook;

export function webhookView(r: WebhookEndpointRow): WebhookView {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    events: JSON.parse(r.events) as WebhookEventType[],
    secret_hint: secretHint(r.secret),
    previous_secret_expires_at: r.prev_secret && r.prev_expires_at !== null ? iso(r.prev_expires_at) : null,
    created_at: iso(r.created_at) as string,
  };
}

async function assertSafeUrl(deps: WebhooksDeps, raw: string): Promise<string> {
  const checked = checkWebhookUrl(raw, deps.allowPrivateUrls);
  if (!checked.url)
    throw new AppError('invalid_request', REFUSAL_MESSAGES[checked.refusal], { extra: { param: 'url', reason: checked.refusal } });
  if (!deps.allowPrivateUrls && resolveHost) {
    const host = hostOf(checked.url);
    let addresses: string[] = [];
    try {
      addresses = isPrivateAddress(host) ? [host] : await resolveHost(host);
    } catch {
      throw new AppError('invalid_request', 'The url host does not resolve.', { extra: { param: 'url', reason: 'unresolvable_host' } });
    }
    if (addresses.some(isPrivateAddress)) {
      throw new AppError('invalid_request', REFUSAL_MESSAGES.private_address, { extra: { param: 'url', reason: 'private_address' } });
    }
  }
  return checked.url.toString();
}

async function ownEndpoint(db: Kysely<Database>, account: string, id: string): Promise<WebhookEndpointRow> {
  const row = await findOwnWebhook(db, account, id);
  // Another account's id is "not found", never "forbidden": no existence leak.
  if (!row) throw new AppError('not_found', 'No such webhook.');
  return row;
}

export async function createWebhook(
  deps: WebhooksDeps,
  auth: Actor,
  input: { url: string; events: WebhookEventType[]; description?: string },
): Promise<{ webhook: WebhookView; secret: string }> {
  const meta = auditMeta(auth, deps.clock.now());
  const url = await assertSafeUrl(deps, input.url);
  if ((await countWebhooks(deps.db, auth.address)) >= deps.maxPerAccount)
    throw new AppError('limit_reached', `An account may have at most ${deps.maxPerAccount} webhooks.`);
  const secret = newWebhookSecret();
  const row: WebhookEndpointRow = {
    id: newId('wh', meta.now),
    account: auth.address,
    url,
    description: input.description ?? null,
    events: JSON.stringify([...new Set(input.events)]),
    secret,
    prev_secret: null,
    prev_expires_at: null,
    created_at: meta.now.getTime(),
  };
  await inBatch(deps.db, [
    insertWebhookQuery(deps.db, row),
    auditEventStep(deps.db, meta, {
      actor: auth.address,
      account: auth.address,
      action: 'webhook.create',
      target: row.id,
      detail: { url, events: JSON.parse(row.events) },
    }),
  ]);
  return { webhook: webhookView(row), secret };
}

export async function listWebhooks(deps: WebhooksDeps, auth: Actor, q: { cursor?: string; limit: number }): Promise<Page<WebhookView>> {
  return toPage(await listWebhookRows(deps.db, { account: auth.address, cursor: q.cursor, limit: q.limit + 1 }), q.limit, webhookView);
}

export async function getWebhook(deps: WebhooksDeps, auth: Actor, id: string): Promise<WebhookView> {
  return webhookView(await ownEndpoint(deps.db, auth.address, id));
}

/** Deletes the endpoint; its pending deliveries are failed by the worker (the endpoint is gone). */
export async function deleteWebhook(deps: WebhooksDeps, auth: Actor, id: string): Promise<void> {
  const meta = auditMeta(auth, deps.clock.now());
  await ownEndpoint(deps.db, auth.address, id);
  await inBatch(deps.db, [
    { query: deleteOwnWebhookQuery(deps.db, auth.address, id), mustChange: true },
    auditEventStep(deps.db, meta, { actor: auth.address, account: auth.address, action: 'webhook.delete', target: id }),
  ]).catch((err: unknown) => {
    throw err instanceof BatchConditionFailed ? new AppError('not_found', 'No such webhook.') : err;
  });
}

/**
 * A new secret, shown once. The old one keeps signing (a second v1 signature in the header) for
 * grace_seconds, so receivers can switch without dropping a delivery.
 */
export async function rotateWebhookSecret(
  deps: WebhooksDeps,
  auth: Actor,
  input: { id: string; grace_seconds?: number },
): Promise<{ webhook: WebhookView; secret: string }> {
  const { id } = input;
  const meta = auditMeta(auth, deps.clock.now());
  const row = await ownEndpoint(deps.db, auth.address, id);
  const grace = input.grace_seconds ?? deps.secretGraceSeconds;
  const secret = newWebhookSecret();
  const prevExpires = grace > 0 ? meta.now.getTime() + grace * 1000 : null;
  await inBatch(deps.db, [
    {
      query: rotateWebhookSecretQuery(deps.db, id, row.secret, {
        secret,
        prev_secret: grace > 0 ? row.secret : null,
        prev_expires_at: prevExpires,
      }),
      mustChange: true,
    },
    auditEventStep(deps.db, meta, {
      actor: auth.address,
      account: auth.address,
      action: 'webhook.rotate_secret',
      target: id,
      detail: { grace_seconds: grace },
    }),
  ]).catch((err: unknown) => {
    throw err instanceof BatchConditionFailed ? new AppError('invalid_request', 'The secret was rotated concurrently; try again.') : err;
  });
  return { webhook: webhookView({ ...row, secret, prev_secret: grace > 0 ? row.secret : null, prev_expires_at: prevExpires }), secret };
}

/** Queues a webhook.test event for this endpoint only; the worker sends it (at once on Node and Workers). */
export async function sendTestEvent(deps: WebhooksDeps, auth: Actor, id: string): Promise<{ event_id: string }> {
  const meta = auditMeta(auth, deps.clock.now());
  const row = await ownEndpoint(deps.db, auth.address, id);
  const eventId = newId('msg', meta.now);
  await deps.db.executeQuery(
    outboxInsertQuery(deps.db, {
      id: eventId,
      account: auth.address,
      type: 'webhook.test',
      endpointId: row.id,
      at: meta.now,
      data: { webhook_id: row.id, account: auth.address, message: 'This is a test event from siwe-keys.' },
    }).compile(),
  );
  return { event_id: eventId };
}

export async function listDeliveries(
  deps: WebhooksDeps,
  auth: Actor,
  q: { id: string; cursor?: string; limit: number },
): Promise<Page<Delivery>> {
  const { id } = q;
  await ownEndpoint(deps.db, auth.address, id);
  return toPage(await listDeliveryRows(deps.db, { endpointId: id, cursor: q.cursor, limit: q.limit + 1 }), q.limit, deliveryView);
}

/** Makes a delivery due now again (one more attempt; a failed one gets one try, not a new schedule). */
export async function retryDelivery(deps: WebhooksDeps, auth: Actor, input: { id: string; delivery_id: string }): Promise<Delivery> {
  const { id, delivery_id: deliveryId } = input;
  const meta = auditMeta(auth, deps.clock.now());
  await ownEndpoint(deps.db, auth.address, id);
  const now = meta.now.getTime();
  // An attempt in flight (pending with a lease) is left alone: the retry would send it twice.
  const res = await requeueDelivery(deps.db, id, deliveryId, now);
  if (!res) {
    if (!(await deliveryExists(deps.db, id, deliveryId))) throw new AppError('not_found', 'No such delivery.');
    throw new AppError('invalid_request', 'This delivery is being attempted right now.');
  }
  outboxHint.raise();
  return deliveryView(res);
}
