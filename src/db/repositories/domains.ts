import type { Kysely } from 'kysely';
import { preparedQuery } from '../prepared.js';
import type { Database, DomainsTable } from '../schema.js';

export type DomainRow = DomainsTable;

export function insertDomain(db: Kysely<Database>, row: DomainRow) {
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
  const r = await db.selectFrom('domains').select((eb) => eb.fn.countAll<number>().as('n')).where('owner', '=', owner).executeTakeFirstOrThrow();
  return Number(r.n);
}

export function deleteDomain(db: Kysely<Database>, id: string) {
  return db.deleteFrom('domains').where('id', '=', id);
}

export function setDomainToken(db: Kysely<Database>, id: string, token: { token_hash: string; token_hint: string }) {
  return db.updateTable('domains').set(token).where('id', '=', id);
}
