import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import { directReader } from './direct.js';
import type { Database } from './schema.js';

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
