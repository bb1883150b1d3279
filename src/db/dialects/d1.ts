// Runtime-neutral: imported by the Workers entry, so no Node APIs here.
//
// A small kysely dialect over a Cloudflare D1 binding. Written here rather than taken from
// `kysely-d1` because it is about 100 lines, and we need two things that package does not give:
// a clear error instead of a silent non-atomic "transaction", and access to D1's atomic batch()
// (see src/db/tx.ts). The D1 types are declared structurally below, so the project does not
// pull @cloudflare/workers-types into its global types (they clash with the DOM lib Node uses).
import {
  type CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type QueryCompiler,
  type QueryExecutor,
  type QueryResult,
} from 'kysely';
import type { Database } from '../schema.js';

/** The part of D1's `D1Result` we read. */
export interface D1Result<T = Record<string, unknown>> {
  results?: T[];
  success: boolean;
  meta: { changes?: number; last_row_id?: number; [k: string]: unknown };
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
}

/** The part of the `D1Database` binding we use. */
export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  /** Runs the statements as one implicit transaction: all of them or none. */
  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
}

const GUARD = 'siwe_keys_batch_guard_';

const WRITE_KINDS = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/** D1 binds only null, numbers, strings and byte buffers. */
function toD1Value(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.getTime();
  return v;
}

function toQueryResult<R>(query: CompiledQuery, res: D1Result): QueryResult<R> {
  const changes = res.meta.changes ?? 0;
  const isWrite = WRITE_KINDS.has(query.query.kind) || query.query.kind === 'RawNode';
  return {
    rows: (res.results ?? []) as R[],
    numAffectedRows: isWrite ? BigInt(changes) : undefined,
    insertId: isWrite && res.meta.last_row_id !== undefined && changes > 0 ? BigInt(res.meta.last_row_id) : undefined,
  };
}

export class D1Connection implements DatabaseConnection {
  constructor(readonly d1: D1Database) {}

  private prepare(query: CompiledQuery): D1PreparedStatement {
    const stmt = this.d1.prepare(query.sql);
    return query.parameters.length > 0 ? stmt.bind(...query.parameters.map(toD1Value)) : stmt;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return toQueryResult<R>(query, await this.prepare(query).all());
  }

  /**
   * Runs compiled queries in one D1 batch, which D1 executes atomically (one implicit transaction:
   * any failing statement undoes all). For each query flagged in mustChange, a guard statement
   * follows it that raises an error when that query changed no row (SQLite's changes()), so the
   * batch rolls back; the error names the query's index (see failedGuard).
   */
  async batch(queries: readonly CompiledQuery[], mustChange: readonly boolean[] = []): Promise<QueryResult<unknown>[]> {
    if (queries.length === 0) return [];
    const statements: D1PreparedStatement[] = [];
    const resultAt: number[] = [];
    queries.forEach((q, i) => {
      resultAt.push(statements.length);
      statements.push(this.prepare(q));
      // SQLite has no RAISE outside triggers; an invalid JSON path is a runtime error whose message
      // carries our text, and CASE evaluates it only when the condition fails.
      if (mustChange[i])
        statements.push(this.d1.prepare(`SELECT CASE WHEN changes() > 0 THEN 1 ELSE json_extract('{}', '${GUARD}' || ?) END`).bind(i));
    });
    const results = await this.d1.batch(statements);
    return queries.map((q, i) => toQueryResult(q, results[resultAt[i]]));
  }

  /** The index of the mustChange query whose guard failed the batch, or null for other errors. */
  static failedGuard(err: unknown): number | null {
    const text = err instanceof Error ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ''}` : String(err);
    const m = new RegExp(`${GUARD}(\\d+)`).exec(text);
    return m ? Number(m[1]) : null;
  }

  // biome-ignore lint/correctness/useYield: kysely's interface wants a generator; streaming is refused.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('D1 does not support streaming queries.');
  }
}

/** Thrown by `db.transaction()` on D1; use `inBatch` from src/db/tx.ts. */
export class D1TransactionError extends Error {
  override name = 'D1TransactionError';
  constructor() {
    super('D1 has no interactive transactions: use inBatch() from src/db/tx.ts.');
  }
}

class D1Driver implements Driver {
  constructor(private readonly d1: D1Database) {}
  async init(): Promise<void> {}
  // Connections are stateless handles on the binding: no pool, no mutex, requests run concurrently.
  async acquireConnection(): Promise<DatabaseConnection> {
    return new D1Connection(this.d1);
  }
  async beginTransaction(): Promise<void> {
    // Refuse loudly: a "transaction" that silently is not one would hide half-written changes.
    throw new D1TransactionError();
  }
  async commitTransaction(): Promise<void> {
    throw new D1TransactionError();
  }
  async rollbackTransaction(): Promise<void> {
    throw new D1TransactionError();
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** Marks a kysely instance as D1-backed; src/db/tx.ts checks it through the executor's adapter. */
export class D1Adapter extends SqliteAdapter {
  readonly interactiveTransactions = false;
}

export class D1Dialect implements Dialect {
  constructor(private readonly config: { database: D1Database }) {}
  createDriver(): Driver {
    return new D1Driver(this.config.database);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new D1Adapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

export function openD1(database: D1Database): Kysely<Database> {
  return new Kysely<Database>({ dialect: new D1Dialect({ database }) });
}

/** True when db runs on D1 (no interactive transactions; batch() is the atomic unit). */
export function isD1(db: { getExecutor(): QueryExecutor }): boolean {
  return db.getExecutor().adapter instanceof D1Adapter;
}
