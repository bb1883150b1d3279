import type { Kysely, Updateable } from 'kysely';
import { preparedQuery } from '../prepared.js';
import type { ApiKeysTable, Database, DeletedKeysTable } from '../schema.js';

export type KeyRow = ApiKeysTable;

export async function insertKey(db: Kysely<Database>, row: KeyRow): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
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

export async function updateOwnKey(
  db: Kysely<Database>,
  account: string,
  id: string,
  set: Updateable<ApiKeysTable>,
): Promise<boolean> {
  const res = await db.updateTable('api_keys').set(set).where('id', '=', id).where('account', '=', account).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function deleteOwnKey(db: Kysely<Database>, account: string, id: string): Promise<boolean> {
  const res = await db.deleteFrom('api_keys').where('id', '=', id).where('account', '=', account).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export interface KeyWithAccount extends KeyRow {
  plan: 'network' | 'developer';
  credits: number | null;
}

/**
 * The hot-path lookup: one indexed read by hash (or by the previous hash while a rotation's grace
 * period runs), joined with the account's plan and balance. Compiled once (see preparedQuery).
 */
export const findKeyBySecretHash: (db: Kysely<Database>, hash: string, now: number) => Promise<KeyWithAccount | undefined> = preparedQuery(
  (db, hash: string, now: number) =>
    db
      .selectFrom('api_keys as k')
      .innerJoin('accounts as a', 'a.address', 'k.account')
      .selectAll('k')
      .select(['a.plan', 'a.credits'])
      .where((eb) => eb.or([eb('k.hash', '=', hash), eb.and([eb('k.prev_hash', '=', hash), eb('k.prev_expires_at', '>', now)])])),
  ['h', 1],
  (hash, now) => [hash, hash, now],
) as (db: Kysely<Database>, hash: string, now: number) => Promise<KeyWithAccount | undefined>;

export async function insertTombstone(db: Kysely<Database>, row: DeletedKeysTable): Promise<void> {
  await db.insertInto('deleted_keys').values(row).execute();
}

export async function findTombstone(db: Kysely<Database>, id: string): Promise<DeletedKeysTable | undefined> {
  return db.selectFrom('deleted_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findKeyOwner(db: Kysely<Database>, id: string): Promise<{ id: string; account: string } | undefined> {
  return db.selectFrom('api_keys').select(['id', 'account']).where('id', '=', id).executeTakeFirst();
}
