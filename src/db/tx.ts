import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs fn in one database transaction: the change and its audit event commit together or not at all.
 * The one place a runtime without interactive transactions would adapt.
 */
export async function inTransaction<T>(db: Kysely<Database>, fn: (trx: Transaction<Database> | Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

/** PostgreSQL needs SELECT ... FOR UPDATE for read-then-write inside a transaction; SQLite
 * serialises writers (one connection, or a database-level write lock) and has no such syntax. */
export function needsRowLocks(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter.constructor.name === 'PostgresAdapter';
}
