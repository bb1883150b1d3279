// Node only. node-postgres (pg): the client kysely's PostgresDialect is built and tested against,
// pure JavaScript (no native build), with a pool.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';

// Times and credits are BIGINT; within Number.MAX_SAFE_INTEGER they are safe as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

export function openPostgres(url: string, max = 10): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client the server disconnects (restart, failover) emits 'error' on the pool; without a
  // listener that would crash the process. The pool drops the client and the next query reconnects.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
