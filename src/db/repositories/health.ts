import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** The cheapest statement that proves the database answers; throws when it does not. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
