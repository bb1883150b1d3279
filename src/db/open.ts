// Node only. Opens the database a DATABASE_URL names, loading only its dialect: the cluster primary
// migrates through it without loading the app (the same logic as openDatabase in node.ts).
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function openConfiguredDatabase(databaseUrl: string): Promise<Kysely<Database>> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { openPostgres } = await import('./dialects/postgres.js');
    return openPostgres(databaseUrl);
  }
  const { openSqlite } = await import('./dialects/sqlite.js');
  return openSqlite(databaseUrl).db;
}
