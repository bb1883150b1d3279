import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { generateSchema, readSchemaFile, ROOT } from '../scripts/gen-schema.js';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import { openPostgres } from '../src/db/dialects/postgres.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createPgTestDatabase } from './support/postgres.js';

describe('schema/ SQL files', () => {
  it('match what the migrations compile to (run `npm run schema` after changing a migration)', async () => {
    const files = await generateSchema();
    for (const [path, text] of files) expect(readSchemaFile(path), path).toBe(text);
    // No stale file either: wrangler would apply a leftover .sql in schema/d1.
    for (const dir of ['sqlite', 'postgres', 'd1']) {
      const onDisk = readdirSync(join(ROOT, 'schema', dir)).map((f) => `schema/${dir}/${f}`);
      expect(onDisk.sort()).toEqual([...files.keys()].filter((p) => p.startsWith(`schema/${dir}/`)).sort());
    }
  });

  it('build the same SQLite database as running the migrations', async () => {
    const fromFiles = new SqliteDatabase(':memory:');
    for (const path of [...(await generateSchema()).keys()].filter((p) => p.startsWith('schema/sqlite/')).sort()) {
      fromFiles.exec(readSchemaFile(path) as string);
    }
    const { db, raw } = openSqlite(':memory:');
    await migrateToLatest(db);
    const dump = (d: SqliteDatabase.Database): unknown[] =>
      d.prepare("select type, name, tbl_name, sql from sqlite_master where tbl_name not like 'kysely_%' order by name").all();
    const expected = dump(raw);
    expect(expected.length).toBeGreaterThan(10);
    expect(dump(fromFiles)).toEqual(expected);
    fromFiles.close();
    await db.destroy();
  });

  it.skipIf(!process.env.TEST_POSTGRES_URL)('build the same PostgreSQL database as running the migrations', async () => {
    const base = process.env.TEST_POSTGRES_URL as string;
    const a = await createPgTestDatabase(base);
    const b = await createPgTestDatabase(base);
    try {
      const client = new pg.Client({ connectionString: a.url });
      await client.connect();
      for (const path of [...(await generateSchema()).keys()].filter((p) => p.startsWith('schema/postgres/')).sort()) {
        await client.query(readSchemaFile(path) as string);
      }
      const migrated = openPostgres(b.url, 1);
      await migrateToLatest(migrated);
      await migrated.destroy();
      const describeDb = async (url: string): Promise<unknown> => {
        const c = url === a.url ? client : new pg.Client({ connectionString: url });
        if (c !== client) await c.connect();
        const columns = await c.query(
          `select table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
           from information_schema.columns where table_schema = 'public' and table_name not like 'kysely_%'
           order by table_name, column_name`,
        );
        const indexes = await c.query(
          `select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' and tablename not like 'kysely_%' order by indexname`,
        );
        const checks = await c.query(
          `select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def from pg_constraint
           where connamespace = 'public'::regnamespace and conrelid::regclass::text not like 'kysely_%' order by tbl, conname`,
        );
        if (c !== client) await c.end();
        return { columns: columns.rows, indexes: indexes.rows, constraints: checks.rows };
      };
      const expected = (await describeDb(b.url)) as { columns: unknown[] };
      expect(expected.columns.length).toBeGreaterThan(10);
      expect(await describeDb(a.url)).toEqual(expected);
      await client.end();
    } finally {
      await a.drop();
      await b.drop();
    }
  });
});
