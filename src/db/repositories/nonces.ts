import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Records a (MAC-checked) nonce as used, in one statement keyed by the nonce: of two concurrent
 * sign-ins with the same nonce, on any instance, exactly one inserts the row. True for that one.
 */
export async function consumeNonce(
  db: Kysely<Database>,
  row: { nonce: string; issued_at: number; expires_at: number; ip: string | null },
): Promise<boolean> {
  const inserted = await db
    .insertInto('nonces')
    .values(row)
    .onConflict((oc) => oc.column('nonce').doNothing())
    .returning('nonce')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function purgeExpiredNonces(db: Kysely<Database>, now: number): Promise<number> {
  const res = await db.deleteFrom('nonces').where('expires_at', '<=', now).executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function countNonces(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('nonces')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
