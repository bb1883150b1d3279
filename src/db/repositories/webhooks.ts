import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { type Executor, isPostgres } from '../tx.js';
import type { Database, NewWebhookDeliveryRow, WebhookDeliveryRow, WebhookEndpointRow, WebhookEventRow } from '../schema.js';

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

/** The insert of one event; with `dedupe`, a second event under the same dedupe_key is a no-op. */
export function insertWebhookEventQuery(
  db: Executor,
  row: WebhookEventRow,
  dedupe: boolean,
): InsertQueryBuilder<Database, 'webhook_events', InsertResult> {
  const q = db.insertInto('webhook_events').values(row);
  return dedupe ? q.onConflict((oc) => oc.column('dedupe_key').doNothing()) : q;
}

const big = (n: number): RawBuilder<number> => sql<number>`CAST(${n} AS BIGINT)`;

/**
 * account.credits_low as one INSERT ... SELECT: the event is written only when the balance (as the
 * earlier steps of the batch left it) is below 10% of the last grant above zero and the account has
 * an endpoint, once per grant (its id is in the dedupe key). The payload is `payloadHead` followed
 * by the address, the balance and the grant, built in SQL.
 */
export function insertCreditsLowEventStep(
  db: Executor,
  e: { id: string; account: string; payloadHead: string; at: number },
): InsertQueryBuilder<Database, 'webhook_events', InsertResult> {
  const body = sql<string>`${e.payloadHead} || a.address || '","credits":' || CAST(a.credits AS TEXT) || ',"last_grant":' || CAST(g.amount AS TEXT) || ',"threshold_percent":10}}'`;
  return db
    .insertInto('webhook_events')
    .columns(['id', 'account', 'type', 'payload', 'dedupe_key', 'endpoint_id', 'created_at', 'dispatched_at'])
    .expression(
      sql`SELECT ${e.id}, a.address, 'account.credits_low', ${body}, 'account.credits_low:' || g.id, NULL, ${big(e.at)}, NULL
        FROM accounts a JOIN webhook_credit_grants g ON g.account = a.address
        WHERE a.address = ${e.account} AND a.credits IS NOT NULL AND a.credits * 10 < g.amount
          AND g.id = (SELECT MAX(g2.id) FROM webhook_credit_grants g2 WHERE g2.account = ${e.account} AND g2.amount > 0)
          AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.account = ${e.account})`,
    )
    .onConflict((oc) => oc.column('dedupe_key').doNothing());
}

/** key.quota_reached, once per dedupe key, and only when the account has an endpoint. */
export async function insertQuotaReachedEvent(
  db: Kysely<Database>,
  e: { id: string; account: string; payload: string; dedupeKey: string; at: number },
): Promise<void> {
  await db
    .insertInto('webhook_events')
    .columns(['id', 'account', 'type', 'payload', 'dedupe_key', 'endpoint_id', 'created_at', 'dispatched_at'])
    .expression(
      sql`SELECT ${e.id}, ${e.account}, 'key.quota_reached', ${e.payload}, ${e.dedupeKey}, NULL, ${big(e.at)}, NULL
          WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.account = ${e.account})`,
    )
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .execute();
}

export function insertCreditGrantQuery(
  db: Executor,
  row: { id: string; account: string; amount: number; created_at: number },
): InsertQueryBuilder<Database, 'webhook_credit_grants', InsertResult> {
  return db.insertInto('webhook_credit_grants').values(row);
}

/** Accounts with an endpoint whose balance is below 10% of their last grant above zero. */
export async function listLowCreditAccounts(db: Kysely<Database>): Promise<{ address: string }[]> {
  return db
    .selectFrom('accounts as a')
    .select('a.address')
    .where('a.credits', 'is not', null)
    .where((eb) => eb.exists(eb.selectFrom('webhook_endpoints as e').select('e.id').whereRef('e.account', '=', 'a.address')))
    .where(
      sql<boolean>`a.credits * 10 < (SELECT g.amount FROM webhook_credit_grants g WHERE g.account = a.address AND g.amount > 0 ORDER BY g.id DESC LIMIT 1)`,
    )
    .execute();
}

// Deliveries.

/** A delivery is unique per (event, endpoint): writing one twice is a no-op. */
export function insertDeliveryQuery(
  db: Kysely<Database>,
  row: NewWebhookDeliveryRow,
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
