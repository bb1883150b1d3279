import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import { isPostgres } from '../tx.js';
import type { Database, WebhookDeliveriesTable, WebhookEndpointsTable, WebhookEventsTable } from '../schema.js';

export type WebhookEndpointRow = WebhookEndpointsTable;
export type WebhookDeliveryRow = WebhookDeliveriesTable;
export type WebhookEventRow = WebhookEventsTable;

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

export async function findWebhook(db: Kysely<Database>, id: string): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The endpoints an event of `account` may go to: only `endpointId` when set (a test event), else all of the account's. */
export async function listEventTargets(
  db: Kysely<Database>,
  account: string,
  endpointId: string | null,
): Promise<Pick<WebhookEndpointRow, 'id' | 'events'>[]> {
  let q = db.selectFrom('webhook_endpoints').select(['id', 'events']).where('account', '=', account);
  if (endpointId !== null) q = q.where('id', '=', endpointId);
  return q.execute();
}

// Events (the outbox).

/** Events not fanned out yet, oldest first. */
export async function listUndispatchedEvents(db: Kysely<Database>, limit: number): Promise<WebhookEventRow[]> {
  return db.selectFrom('webhook_events').selectAll().where('dispatched_at', 'is', null).orderBy('id').limit(limit).execute();
}

export async function findEventPayload(db: Kysely<Database>, id: string): Promise<Pick<WebhookEventRow, 'id' | 'payload'> | undefined> {
  return db.selectFrom('webhook_events').select(['id', 'payload']).where('id', '=', id).executeTakeFirst();
}

export function markEventDispatchedQuery(
  db: Kysely<Database>,
  id: string,
  at: number,
): UpdateQueryBuilder<Database, 'webhook_events', 'webhook_events', UpdateResult> {
  return db.updateTable('webhook_events').set({ dispatched_at: at }).where('id', '=', id).where('dispatched_at', 'is', null);
}

// Deliveries.

/** A delivery is unique per (event, endpoint): writing one twice is a no-op. */
export function insertDeliveryQuery(
  db: Kysely<Database>,
  row: WebhookDeliveryRow,
): InsertQueryBuilder<Database, 'webhook_deliveries', InsertResult> {
  return db
    .insertInto('webhook_deliveries')
    .values(row)
    .onConflict((oc) => oc.columns(['event_id', 'endpoint_id']).doNothing());
}

/** Whether any delivery is due at `now`: one indexed read, no write lock. */
export async function hasDueDelivery(db: Kysely<Database>, now: number): Promise<boolean> {
  const due = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .limit(1)
    .executeTakeFirst();
  return due !== undefined;
}

/**
 * Claims up to `limit` due attempts in one statement: moves next_attempt_at to the end of a lease
 * and stamps `token`. PostgreSQL locks the candidates with FOR UPDATE SKIP LOCKED, so concurrent
 * workers take disjoint rows; SQLite and D1 run the single UPDATE atomically (one writer at a time).
 */
export async function claimDueDeliveries(
  db: Kysely<Database>,
  c: { now: number; limit: number; lease: number; token: string },
): Promise<WebhookDeliveryRow[]> {
  let candidates = db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', c.now)
    .orderBy('next_attempt_at')
    .limit(c.limit);
  if (isPostgres(db)) candidates = candidates.forUpdate().skipLocked();
  return (
    db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: c.now + c.lease, lease_token: c.token, updated_at: c.now })
      .where('id', 'in', candidates)
      // Re-checked on the row itself: a row another worker claimed meanwhile is no longer due.
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', c.now)
      .returningAll()
      .execute()
  );
}

/** Records an attempt's outcome, only while the lease `leaseToken` is still held. */
export async function recordDeliveryAttempt(
  db: Kysely<Database>,
  id: string,
  leaseToken: string | null,
  set: Pick<
    WebhookDeliveryRow,
    'status' | 'attempts' | 'next_attempt_at' | 'lease_token' | 'last_status_code' | 'last_error' | 'updated_at'
  >,
): Promise<void> {
  await db.updateTable('webhook_deliveries').set(set).where('id', '=', id).where('lease_token', '=', leaseToken).execute();
}

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
