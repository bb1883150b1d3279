import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import { preparedQuery } from '../hot-queries.js';
import type { Database, DomainClaimRow, DomainRow } from '../schema.js';

export function insertDomainQuery(db: Kysely<Database>, row: DomainRow): InsertQueryBuilder<Database, 'domains', InsertResult> {
  return db.insertInto('domains').values(row);
}

export async function findDomain(db: Kysely<Database>, id: string): Promise<DomainRow | undefined> {
  return db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst();
}

/** On every verification: compiled once (see preparedQuery). */
export const findDomainByTokenHash: (db: Kysely<Database>, hash: string) => Promise<DomainRow | undefined> = preparedQuery(
  (db, hash: string) => db.selectFrom('domains').selectAll().where('token_hash', '=', hash),
  ['h'],
  (hash) => [hash],
);

export async function listDomains(db: Kysely<Database>, f: { owner?: string; cursor?: string; limit: number }): Promise<DomainRow[]> {
  let q = db.selectFrom('domains').selectAll();
  if (f.owner) q = q.where('owner', '=', f.owner);
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

export async function countDomains(db: Kysely<Database>, owner: string): Promise<number> {
  const r = await db
    .selectFrom('domains')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('owner', '=', owner)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export function deleteDomainQuery(db: Kysely<Database>, id: string): DeleteQueryBuilder<Database, 'domains', DeleteResult> {
  return db.deleteFrom('domains').where('id', '=', id);
}

export function setDomainTokenQuery(
  db: Kysely<Database>,
  id: string,
  token: { token_hash: string; token_hint: string },
): UpdateQueryBuilder<Database, 'domains', 'domains', UpdateResult> {
  return db.updateTable('domains').set(token).where('id', '=', id);
}

export async function findDomainByName(db: Kysely<Database>, name: string): Promise<DomainRow | undefined> {
  return db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
}

export function setDomainVerifiedQuery(
  db: Kysely<Database>,
  id: string,
  challenge: string,
  at: number,
  method: 'dns' | 'http',
): UpdateQueryBuilder<Database, 'domains', 'domains', UpdateResult> {
  // Conditional on the challenge that was checked.
  return db
    .updateTable('domains')
    .set({ verified_at: at, verified_by: method })
    .where('id', '=', id)
    .where('ownership_challenge', '=', challenge);
}

export function insertClaimQuery(db: Kysely<Database>, row: DomainClaimRow): InsertQueryBuilder<Database, 'domain_claims', InsertResult> {
  return db.insertInto('domain_claims').values(row);
}

export async function findClaim(db: Kysely<Database>, id: string): Promise<DomainClaimRow | undefined> {
  return db.selectFrom('domain_claims').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findClaimByName(db: Kysely<Database>, name: string, claimant: string): Promise<DomainClaimRow | undefined> {
  return db.selectFrom('domain_claims').selectAll().where('name', '=', name).where('claimant', '=', claimant).executeTakeFirst();
}

/** Every pending claim on a name: they are moot once the name is proven. */
export function deleteClaimsForNameQuery(db: Kysely<Database>, name: string): DeleteQueryBuilder<Database, 'domain_claims', DeleteResult> {
  return db.deleteFrom('domain_claims').where('name', '=', name);
}
