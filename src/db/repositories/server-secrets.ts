import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The stored secret called `name`, created with `fresh` if there is none yet. Two instances starting
 * at once both insert-or-ignore and then read the same winner, so every instance ends up sharing it.
 */
export async function getOrCreateSecret(db: Kysely<Database>, name: string, fresh: string, now: number): Promise<string> {
  await db
    .insertInto('server_secrets')
    .values({ name, value: fresh, created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
