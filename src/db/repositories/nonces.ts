import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export async function insertNonce(
  db: Kysely<Database>,
  row: { nonce: string; issued_at: number; expires_at: number; ip: string | null },
): Promise<void> {
  await db.insertInto('nonces').values(row).execute();
}

/**
 * Consumes a nonce in one statement: the row is deleted only if it exists and is unexpired, so two
 * concurrent sign-ins with the same nonce cannot both succeed, on any instance.
 * Returns when it was issued, or null.
 */
export async function consumeNonce(db: Kysely<Database>, nonce: string, now: number): Promise<number | null> {
  const row = await db
    .deleteFrom('nonces')
    .where('nonce', '=', nonce)
    .where('expires_at', '>', now)
    .returning('issued_at')
    .executeTakeFirst();
  return row ? Number(row.issued_at) : null;
}

export async function purgeExpiredNonces(db: Kysely<Database>, now: number): Promise<number> {
  const res = await db.deleteFrom('nonces').where('expires_at', '<=', now).executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function countNonces(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('nonces').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
