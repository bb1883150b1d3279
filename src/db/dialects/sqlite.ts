// Node only: imported by node.ts and the CLI, never by the app or the Workers entry.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../schema.js';
import { registerChangeCounter, registerDirectReader, withStatementCache } from '../hot-queries.js';

/** `file:PATH` or `:memory:` -> path for better-sqlite3. */
export function sqlitePath(url: string): string {
  if (url === ':memory:' || url === 'file::memory:') return ':memory:';
  return url.replace(/^file:(\/\/)?/, '');
}

export function openSqlite(url: string): { db: Kysely<Database>; raw: SqliteDatabase.Database } {
  const path = sqlitePath(url);
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const raw = new SqliteDatabase(path);
  // WAL: readers never block the writer. synchronous=NORMAL in WAL mode loses nothing on a process
  // crash (SIGKILL); only an OS crash or power loss can drop the last commits.
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  const cached = withStatementCache(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
  // Safe beside kysely's single connection: better-sqlite3 is synchronous, so a direct read can
  // never interleave with a statement kysely is running; inside a kysely transaction it reads the
  // same connection's view.
  registerDirectReader(db, (sql, params) => cached.prepare(sql).get(...(params as unknown[])));
  // Moves only when another connection commits (the admin CLI, another process on the same file).
  const dataVersion = raw.prepare('PRAGMA data_version').pluck();
  registerChangeCounter(db, () => dataVersion.get() as number);
  return { db, raw };
}
