import type { InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, SessionRow } from '../schema.js';

export function insertSessionQuery(db: Kysely<Database>, row: SessionRow): InsertQueryBuilder<Database, 'sessions', InsertResult> {
  return db.insertInto('sessions').values(row);
}

export async function findSession(db: Kysely<Database>, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export function revokeSessionQuery(
  db: Kysely<Database>,
  id: string,
  now: number,
): UpdateQueryBuilder<Database, 'sessions', 'sessions', UpdateResult> {
  return db.updateTable('sessions').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null);
}

export function revokeAllSessionsQuery(
  db: Kysely<Database>,
  address: string,
  now: number,
): UpdateQueryBuilder<Database, 'sessions', 'sessions', UpdateResult> {
  return db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('address', '=', address)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now);
}

/** Sessions past their expiry carry no information worth keeping. */
export async function purgeExpiredSessions(db: Kysely<Database>, now: number): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
}
