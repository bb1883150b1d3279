import type { Kysely } from 'kysely';
import type { Database, SigningKeysTable } from '../schema.js';

export async function listSigningKeys(db: Kysely<Database>): Promise<SigningKeysTable[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
}

/** Inserts unless the kid exists (two instances starting at once both try). */
export async function insertSigningKey(db: Kysely<Database>, row: SigningKeysTable): Promise<void> {
  await db.insertInto('signing_keys').values(row).onConflict((oc) => oc.column('kid').doNothing()).execute();
}

export async function retireSigningKeys(db: Kysely<Database>, exceptKid: string, now: number): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ retired_at: now })
    .where('kid', '!=', exceptKid)
    .where('retired_at', 'is', null)
    .execute();
}
