import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, WebhookDeliveriesTable, WebhookEndpointsTable } from '../schema.js';

export type WebhookEndpointRow = WebhookEndpointsTable;
export type WebhookDeliveryRow = WebhookDeliveriesTable;

// Endpoints.

export async function findOwnWebhook(db: Kysely<Database>, account: string, id: string): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('account', '=', account).executeTakeFirst();
}

export async function countWebhooks(db: Kysely<Database>, account: string): Promise<number> {
  const r = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account', '=', account)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export function insertWebhookQuery(
  db: Kysely<Database>,
  row: WebhookEndpointRow,
): InsertQueryBuilder<Database, 'webhook_endpoints', InsertResult> {
  return db.insertInto('webhook_endpoints').values(row);
}

export async function listWebhookRows(
  db: Kysely<Database>,
  f: { account: string; cursor?: string; limit: number },
): Promise<WebhookEndpointRow[]> {
  let q = db.selectFrom('webhook_endpoints').selectAll().where('account', '=', f.account);
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

export function deleteOwnWebhookQuery(
  db: Kysely<Database>,
  account: string,
  id: string,
): DeleteQueryBuilder<Database, 'webhook_endpoints', DeleteResult> {
  return db.deleteFrom('webhook_endpoints').where('id', '=', id).where('account', '=', account);
}

/** Conditional on the secret read: two rotations at once cannot both keep "the previous" one. */
export function rotateWebhookSecretQuery(
  db: Kysely<Database>,
  id: string,
  readSecret: string,
  set: { secret: string; prev_secret: string | null; prev_expires_at: number | null },
): UpdateQueryBuilder<Database, 'webhook_endpoints', 'webhook_endpoints', UpdateResult> {
  return db.updateTable('webhook_endpoints').set(set).where('id', '=', id).where('secret', '=', readSecret);
}

// Deliveries.

export async function listDeliveryRows(
  db: Kysely<Database>,
  f: { endpointId: string; cursor?: string; limit: number },
): Promise<WebhookDeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', f.endpointId);
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/**
 * Makes a delivery due at `now` again; undefined when there is no such delivery or an attempt is in
 * flight (pending with a lease): the retry would send it twice.
 */
export async function requeueDelivery(
  db: Kysely<Database>,
  endpointId: string,
  deliveryId: string,
  now: number,
): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now, lease_token: null, updated_at: now })
    .where('id', '=', deliveryId)
    .where('endpoint_id', '=', endpointId)
    .where((eb) => eb.or([eb('status', '<>', 'pending'), eb('lease_token', 'is', null)]))
    .returningAll()
    .executeTakeFirst();
}

export async function deliveryExists(db: Kysely<Database>, endpointId: string, deliveryId: string): Promise<boolean> {
  const r = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('id', '=', deliveryId)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
  return r !== undefined;
}
