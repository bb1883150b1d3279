import type { Compilable, CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import { D1Connection, isD1 } from './dialects/d1.js';
import type { Database } from './schema.js';

export type Executor = Transaction<Database> | Kysely<Database>;

/**
 * Runs fn in one database transaction: the change and its audit event commit together or not at all.
 *
 * D1 has no interactive transactions (a Worker cannot hold BEGIN ... COMMIT open across awaits), so
 * there fn runs on the plain database and its statements apply one by one. Code that must never
 * half-happen (credits, quota windows, nonces) is therefore written as single conditional
 * statements, or as an `inBatch`, which is atomic on every database including D1.
 */
export async function inTransaction<T>(db: Kysely<Database>, fn: (trx: Executor) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  if (isD1(db)) return fn(db);
  return db.transaction().execute(fn);
}

/**
 * Runs the queries in order, all or none: one D1 `batch()` on Workers, one transaction elsewhere
 * (or the caller's, when db is already a transaction). Returns each query's result in order.
 * A query cannot see another's result in advance, so conditions go into the SQL itself: e.g. an
 * UPDATE whose CHECK constraint fails (credits >= 0) rolls back the whole batch.
 */
export async function inBatch(db: Kysely<Database>, queries: readonly Compilable[]): Promise<QueryResult<unknown>[]> {
  const compiled: CompiledQuery[] = queries.map((q) => q.compile());
  if (isD1(db)) {
    return db.getExecutor().provideConnection(async (conn) => {
      if (!(conn instanceof D1Connection)) throw new Error('inBatch: expected a D1 connection');
      return conn.batch(compiled);
    });
  }
  const run = async (ex: Executor): Promise<QueryResult<unknown>[]> => {
    const out: QueryResult<unknown>[] = [];
    for (const q of compiled) out.push(await ex.executeQuery(q));
    return out;
  };
  if (db.isTransaction) return run(db);
  return db.transaction().execute(run);
}

/** PostgreSQL needs SELECT ... FOR UPDATE for read-then-write inside a transaction; SQLite
 * serialises writers (one connection, or a database-level write lock) and has no such syntax. */
export function needsRowLocks(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter.constructor.name === 'PostgresAdapter';
}
