// The hot-query machinery, in one place. Kept because bench/hot-queries.ts shows its gain: on
// SQLite the verification's key lookup costs about 17 µs of CPU compiled once and run directly,
// 62 µs built by kysely per call over the statement cache, 128 µs with neither (Node 20, 2 cores).
//   - preparedQuery: a hot query built and compiled by kysely once per database, then run with new
//     parameters (by the dialect's direct reader when it has one);
//   - preparedStatement: a hot write built and compiled once per database, bound by parameter name
//     (bench/micro-usage.ts: the usage batch's per-record statements);
//   - the direct reader and change counter a dialect may register (embedded SQLite does);
//   - withStatementCache: a bounded prepare() cache for a synchronous driver (better-sqlite3).
import { CompiledQuery, createQueryId, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * A synchronous one-row reader a dialect may offer for the hottest queries (embedded SQLite):
 * it skips kysely's connection mutex and promise hops. Runtime-neutral registry; the Node SQLite
 * dialect registers itself, every other dialect goes through kysely as usual.
 */
export type DirectReader = (sql: string, params: readonly unknown[]) => unknown;

const readers = new WeakMap<Kysely<Database>, DirectReader>();

export function registerDirectReader(db: Kysely<Database>, reader: DirectReader): void {
  readers.set(db, reader);
}

export function directReader(db: Kysely<Database>): DirectReader | undefined {
  return readers.get(db);
}

const counters = new WeakMap<Kysely<Database>, () => number>();

/**
 * A counter that moves whenever another connection (another process) committed a write: SQLite's
 * PRAGMA data_version. The record cache checks it on every lookup.
 */
export function registerChangeCounter(db: Kysely<Database>, counter: () => number): void {
  counters.set(db, counter);
}

export function changeCounter(db: Kysely<Database>): (() => number) | undefined {
  return counters.get(db);
}

/**
 * A hot query built and compiled by kysely once per database, then executed with new parameters:
 * the SQL text of a parameterised query does not depend on the values. Building and compiling
 * costs more than the SQLite lookup itself on the verification path.
 */
export function preparedQuery<P extends unknown[], R>(
  build: (db: Kysely<Database>, ...params: P) => Compilable<R>,
  sample: P,
  order: (...params: P) => unknown[],
): (db: Kysely<Database>, ...params: P) => Promise<R | undefined> {
  const cache = new WeakMap<Kysely<Database>, string>();
  return async (db, ...params) => {
    let sqlText = cache.get(db);
    if (sqlText === undefined) {
      const compiled = build(db, ...sample).compile();
      // Guard: the parameter order we will bind must be the order kysely compiled.
      if (JSON.stringify(compiled.parameters) !== JSON.stringify(order(...sample))) {
        throw new Error('preparedQuery: parameter order mismatch');
      }
      sqlText = compiled.sql;
      cache.set(db, sqlText);
    }
    const direct = directReader(db);
    if (direct) return direct(sqlText, order(...params)) as R | undefined;
    const res = await db.executeQuery<R>(CompiledQuery.raw(sqlText, order(...params)));
    return res.rows[0];
  };
}

const SENTINEL = '\u0000param:';

/**
 * A statement kysely builds and compiles once per database, then binds by name: building and
 * compiling a usage report's three statements cost more than SQLite running them. The first call
 * builds with a stand-in for every parameter and records which compiled placeholder takes which
 * named value; later calls only fill in the values. So `build` must not compute with or branch on
 * a parameter's value (pass derived values as parameters of their own): a stand-in that reaches the
 * SQL altered, or a value computed from one, throws on the first call instead of binding wrong.
 * Values that do not come from `params` (constants) are compiled in as they are.
 */
export function preparedStatement<P extends object>(
  build: (db: Kysely<Database>, params: P) => Compilable,
): (db: Kysely<Database>, params: P) => CompiledQuery {
  const cache = new WeakMap<Kysely<Database>, { template: CompiledQuery; slots: ({ name: keyof P } | { value: unknown })[] }>();
  return (db, params) => {
    let entry = cache.get(db);
    if (!entry) {
      const handedOut = new Set<string>();
      const standIns = new Proxy({} as P, {
        get: (_, name) => {
          if (typeof name !== 'string') return undefined;
          handedOut.add(name);
          return SENTINEL + name;
        },
      });
      const template = build(db, standIns).compile();
      const computed = (v: unknown): Error =>
        new Error(`preparedStatement: a value was computed from a parameter (${JSON.stringify(v)}): pass it as a parameter`);
      // A stand-in written into the SQL text itself (sql.lit, sql.raw) would run as that text.
      if (template.sql.includes('\u0000')) throw computed(template.sql);
      const slots = template.parameters.map((v): { name: keyof P } | { value: unknown } => {
        if (typeof v === 'string' && v.startsWith(SENTINEL) && handedOut.has(v.slice(SENTINEL.length))) {
          return { name: v.slice(SENTINEL.length) as keyof P };
        }
        // Anything else is a constant: not a stand-in changed on the way (a suffix, a case change,
        // arithmetic that gave NaN or a string).
        if ((typeof v === 'string' && v.includes('\u0000')) || (typeof v === 'number' && Number.isNaN(v))) throw computed(v);
        return { value: v };
      });
      entry = { template, slots };
      cache.set(db, entry);
    }
    const { template, slots } = entry;
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      parameters[i] = 'name' in s ? params[s.name] : s.value;
    }
    // A query id of its own per execution, as kysely gives every query it compiles (plugins key on it).
    return { ...template, queryId: createQueryId(), parameters };
  };
}

/**
 * Kysely's SQLite driver calls prepare() for every query; preparing is a large share of a fast
 * query's cost. Queries are parameterised, so a bounded cache keyed by SQL text is safe.
 */
export function withStatementCache<S, D extends { prepare(sql: string): S }>(raw: D, max = 500): D {
  const cache = new Map<string, S>();
  const prepare = (sql: string): S => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = raw.prepare(sql);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  return new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === 'prepare') return prepare;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
