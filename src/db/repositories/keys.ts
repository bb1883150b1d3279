import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import { preparedQuery } from '../hot-queries.js';
import type { Database, KeyRow, KeyUpdate, NewKeyRow, TombstoneRow } from '../schema.js';

export function insertKeyQuery(db: Kysely<Database>, row: NewKeyRow): InsertQueryBuilder<Database, 'api_keys', InsertResult> {
  return db.insertInto('api_keys').values(row);
}

export async function findOwnKey(db: Kysely<Database>, account: string, id: string): Promise<KeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).where('account', '=', account).executeTakeFirst();
}

export interface KeyListFilter {
  account: string;
  status?: 'active' | 'disabled';
  expiringBefore?: number;
  now: number;
  cursor?: string;
  limit: number;
}

export async function listKeys(db: Kysely<Database>, f: KeyListFilter): Promise<KeyRow[]> {
  let q = db.selectFrom('api_keys').selectAll().where('account', '=', f.account);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.expiringBefore !== undefined) {
    q = q.where('expires_at', 'is not', null).where('expires_at', '>', f.now).where('expires_at', '<=', f.expiringBefore);
  }
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

export async function countKeys(db: Kysely<Database>, account: string): Promise<number> {
  const r = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account', '=', account)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export function updateOwnKeyQuery(
  db: Kysely<Database>,
  account: string,
  id: string,
  set: KeyUpdate,
): UpdateQueryBuilder<Database, 'api_keys', 'api_keys', UpdateResult> {
  return db.updateTable('api_keys').set(set).where('id', '=', id).where('account', '=', account);
}

export function deleteOwnKeyQuery(
  db: Kysely<Database>,
  account: string,
  id: string,
): DeleteQueryBuilder<Database, 'api_keys', DeleteResult> {
  return db.deleteFrom('api_keys').where('id', '=', id).where('account', '=', account);
}

/** What authenticating a management call with an API key reads of the key. */
export type KeyAuthRow = Pick<KeyRow, 'id' | 'account' | 'status' | 'scopes' | 'hash' | 'expires_at' | 'prev_expires_at'>;

/**
 * The key a secret's hash names, for authenticating management calls (src/middleware/session-auth.ts;
 * verification reads its own columns, repositories/verify-records.ts): one indexed read by hash, or
 * by the previous hash while a rotation's grace period runs. Compiled once (see preparedQuery).
 */
export const findKeyForAuth: (db: Kysely<Database>, hash: string, now: number) => Promise<KeyAuthRow | undefined> = preparedQuery(
  (db, hash: string, now: number) =>
    db
      .selectFrom('api_keys')
      .select(['id', 'account', 'status', 'scopes', 'hash', 'expires_at', 'prev_expires_at'])
      .where((eb) => eb.or([eb('hash', '=', hash), eb.and([eb('prev_hash', '=', hash), eb('prev_expires_at', '>', now)])])),
  ['h', 1],
  (hash, now) => [hash, hash, now],
);

/** Remembers that a domain verified a key (usage reports are accepted only for such pairs). */
export async function markVerifiedByDomain(db: Kysely<Database>, domainId: string, keyId: string, now: number): Promise<void> {
  await db
    .insertInto('domain_keys')
    .values({ domain_id: domainId, key_id: keyId, last_verified_at: now })
    .onConflict((oc) => oc.columns(['domain_id', 'key_id']).doUpdateSet({ last_verified_at: now }))
    .execute();
}

export function insertTombstoneQuery(db: Kysely<Database>, row: TombstoneRow): InsertQueryBuilder<Database, 'deleted_keys', InsertResult> {
  return db.insertInto('deleted_keys').values(row);
}

/** Admin-only keys never work on domains, so an approval leaves them alone (the owner's automation keeps working). */
const ADMIN_ONLY_SCOPES = JSON.stringify(['admin']);

/**
 * Disables every active network key of the account that a domain could accept (all but admin-only
 * keys), marking why (its plan became developer), as one statement for the approval's batch: a key
 * that exists when the batch runs is caught.
 */
export function disableNetworkKeysOnApprovalQuery(
  db: Kysely<Database>,
  account: string,
): UpdateQueryBuilder<Database, 'api_keys', 'api_keys', UpdateResult> {
  return db
    .updateTable('api_keys')
    .set({ status: 'disabled', disabled_reason: 'trial_approved' })
    .where('account', '=', account)
    .where('type', '=', 'network')
    .where('status', '=', 'active')
    .where('scopes', '!=', ADMIN_ONLY_SCOPES);
}

export async function activeNetworkKeyIds(db: Kysely<Database>, account: string): Promise<string[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select('id')
    .where('account', '=', account)
    .where('type', '=', 'network')
    .where('status', '=', 'active')
    .where('scopes', '!=', ADMIN_ONLY_SCOPES)
    .execute();
  return rows.map((r) => r.id);
}

/** Which of the given key ids are (or were, before deletion) keys of the account. */
export async function keyIdsOfAccount(db: Kysely<Database>, account: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const live = await db.selectFrom('api_keys').select('id').where('account', '=', account).where('id', 'in', ids).execute();
  const gone = await db.selectFrom('deleted_keys').select('id').where('account', '=', account).where('id', 'in', ids).execute();
  return new Set([...live, ...gone].map((r) => r.id));
}

// Keys, as the webhook events about them need them.

export type KeyRefRow = Pick<KeyRow, 'id' | 'name' | 'hint'>;
export type KeyQuotaRow = Pick<
  KeyRow,
  'id' | 'account' | 'name' | 'hint' | 'daily_credits' | 'monthly_credits' | 'day_window' | 'day_used' | 'month_window' | 'month_used'
>;
export type ExpiringKeyRow = Pick<KeyRow, 'id' | 'account' | 'name' | 'hint' | 'expires_at' | 'status'>;

export async function findKeyRef(db: Kysely<Database>, id: string): Promise<KeyRefRow | undefined> {
  return db.selectFrom('api_keys').select(['id', 'name', 'hint']).where('id', '=', id).executeTakeFirst();
}

export async function findKeyQuota(db: Kysely<Database>, id: string): Promise<KeyQuotaRow | undefined> {
  return db
    .selectFrom('api_keys')
    .select(['id', 'account', 'name', 'hint', 'daily_credits', 'monthly_credits', 'day_window', 'day_used', 'month_window', 'month_used'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * One page, by id after `cursor`, of keys that expire in (`after`, `until`] and whose account has an
 * webhook endpoint.
 */
export async function listExpiringKeysPage(
  db: Kysely<Database>,
  f: { until: number; after: number; cursor: string; limit: number },
): Promise<ExpiringKeyRow[]> {
  return db
    .selectFrom('api_keys as k')
    .select(['k.id', 'k.account', 'k.name', 'k.hint', 'k.expires_at', 'k.status'])
    .where('k.expires_at', 'is not', null)
    .where('k.expires_at', '<=', f.until)
    .where('k.expires_at', '>', f.after)
    .where('k.id', '>', f.cursor)
    .where((eb) => eb.exists(eb.selectFrom('webhook_endpoints as e').select('e.id').whereRef('e.account', '=', 'k.account')))
    .orderBy('k.id')
    .limit(f.limit)
    .execute();
}
