import type { Kysely } from 'kysely';
import type { Database, SigningKeyRow } from '../schema.js';
import { inBatch } from '../tx.js';

export async function listSigningKeys(db: Kysely<Database>): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
}

/**
 * Makes a key the active signing key only if there is none: when several instances start at once
 * on an empty database, exactly one generated key wins and the others adopt it.
 */
export async function insertFirstSigningKey(db: Kysely<Database>, row: Omit<SigningKeyRow, 'active' | 'retired_at'>): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values({ ...row, active: 1, retired_at: null })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/**
 * Retires the active key (it stays published for verification) and activates the given one.
 * One batch (no step reads another's result), so it is atomic on D1 too.
 */
export async function activateSigningKey(
  db: Kysely<Database>,
  row: Omit<SigningKeyRow, 'active' | 'retired_at'>,
  now: number,
): Promise<void> {
  await inBatch(db, [
    // A retired key only verifies: its private half is no longer needed, so it is not kept.
    db
      .updateTable('signing_keys')
      .set({ active: null, retired_at: now, private_jwk: '' })
      .where('active', '=', 1)
      .where('kid', '!=', row.kid),
    db
      .insertInto('signing_keys')
      .values({ ...row, active: 1, retired_at: null })
      .onConflict((oc) => oc.column('kid').doUpdateSet({ active: 1, retired_at: null, private_jwk: row.private_jwk })),
  ]);
}

/** Replaces a stored private JWK only if it is still the one read (e.g. to encrypt a plaintext row). */
export async function rewritePrivateJwk(db: Kysely<Database>, kid: string, from: string, to: string): Promise<void> {
  await db.updateTable('signing_keys').set({ private_jwk: to }).where('kid', '=', kid).where('private_jwk', '=', from).execute();
}

/** Drops the private half of keys that no longer sign (rows written before they were dropped on retirement). */
export async function forgetRetiredPrivateKeys(db: Kysely<Database>): Promise<void> {
  await db.updateTable('signing_keys').set({ private_jwk: '' }).where('active', 'is', null).where('private_jwk', '!=', '').execute();
}
