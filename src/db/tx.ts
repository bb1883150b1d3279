import { PostgresAdapter, type Compilable, type CompiledQuery, type Kysely, type QueryResult, type Transaction } from 'kysely';
import { D1Connection, isD1 } from './dialects/d1.js';
import type { Database } from './schema.js';

export type Executor = Transaction<Database> | Kysely<Database>;

/*
 * D1 has no interactive transactions (a Worker cannot hold BEGIN ... COMMIT open across awaits), so
 * every multi-step change is an `inBatch`: one D1 `batch()` on Workers, one transaction elsewhere.
 */

/** One statement of an `inBatch`. */
export interface BatchStep {
  query: Compilable;
  /**
   * The whole batch fails, undoing every step, when this write changes no row: the way to make a
   * conditional UPDATE (a WHERE that refuses) stop the steps after it, without a round trip.
   */
  mustChange?: boolean;
}

/** A `mustChange` step changed no row; every step of the batch was undone. `index` names the step. */
export class BatchConditionFailed extends Error {
  override name = 'BatchConditionFailed';
  constructor(readonly index: number) {
    super(`batch step ${index} changed no row; the batch was rolled back`);
  }
}

const affectedRows = (r: QueryResult<unknown>): number => Math.max(Number(r.numAffectedRows ?? 0n), r.rows.length);

/**
 * Runs the steps in order, all or none: one D1 `batch()` on Workers, one transaction elsewhere
 * (or the caller's, when db is already a transaction). Returns each step's result in order.
 *
 * A step cannot see another's result, so conditions live in the SQL (a WHERE that refuses, a CHECK
 * that fails) and `mustChange` turns "refused" into "undo everything": e.g. take a rate slot, add
 * to the key's windows, debit the account, each a conditional UPDATE with `mustChange`, and a
 * refusal of any one leaves no trace of the others (BatchConditionFailed says which one refused).
 * A statement error (a CHECK such as credits >= 0, a unique violation) also undoes the batch.
 */
export async function inBatch(db: Kysely<Database>, steps: readonly (Compilable | BatchStep)[]): Promise<QueryResult<unknown>[]> {
  const normalized = steps.map((s): { compiled: CompiledQuery; mustChange: boolean } =>
    'query' in s ? { compiled: s.query.compile(), mustChange: s.mustChange === true } : { compiled: s.compile(), mustChange: false },
  );
  if (isD1(db)) {
    return db.getExecutor().provideConnection(async (conn) => {
      if (!(conn instanceof D1Connection)) throw new Error('inBatch: expected a D1 connection');
      try {
        return await conn.batch(
          normalized.map((s) => s.compiled),
          normalized.map((s) => s.mustChange),
        );
      } catch (err) {
        const index = D1Connection.failedGuard(err);
        if (index !== null) throw new BatchConditionFailed(index);
        throw err;
      }
    });
  }
  const run = async (ex: Executor): Promise<QueryResult<unknown>[]> => {
    const out: QueryResult<unknown>[] = [];
    for (const [i, s] of normalized.entries()) {
      const r = await ex.executeQuery(s.compiled);
      // Throwing inside the transaction rolls back the steps before this one.
      if (s.mustChange && affectedRows(r) === 0) throw new BatchConditionFailed(i);
      out.push(r);
    }
    return out;
  };
  if (db.isTransaction) return run(db);
  return db.transaction().execute(run);
}

/**
 * Whether the database speaks PostgreSQL's SQL: it needs SELECT ... FOR UPDATE for read-then-write
 * inside a transaction (SQLite serialises writers and has no such syntax) and spells two-argument
 * min/max LEAST/GREATEST. `instanceof`, not the class name, so a minified build still answers right.
 */
export function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
