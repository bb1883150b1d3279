import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { preparedStatement } from './hot-queries.js';
import type { Database } from './schema.js';

const open = (): { db: Kysely<Database>; compiles: () => number } => {
  let compiles = 0;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
    plugins: [
      {
        transformQuery: (a) => {
          compiles++;
          return a.node;
        },
        transformResult: async (a) => a.result,
      },
    ],
  });
  return { db, compiles: () => compiles };
};

describe('preparedStatement', () => {
  it('compiles once per database and binds each call its own values, by name, repeated ones included', async () => {
    const { db, compiles } = open();
    await sql`CREATE TABLE t (a TEXT, b INTEGER, c TEXT)`.execute(db);
    const before = compiles();
    const insert = preparedStatement((d, p: { a: string; b: number }) =>
      d.insertInto('t' as never).values({ a: p.a, b: sql`${p.b} + ${p.b}`, c: 'constant' } as never),
    );
    for (const [a, b] of [
      ['x', 1],
      ['y', 20],
      ['z', 300],
    ] as const) {
      await db.executeQuery(insert(db, { a, b }));
    }
    expect(compiles() - before).toBe(1);
    const rows = await sql<{ a: string; b: number; c: string }>`SELECT a, b, c FROM t ORDER BY a`.execute(db);
    expect(rows.rows).toEqual([
      { a: 'x', b: 2, c: 'constant' },
      { a: 'y', b: 40, c: 'constant' },
      { a: 'z', b: 600, c: 'constant' },
    ]);
    // A second database compiles its own.
    const other = open();
    await sql`CREATE TABLE t (a TEXT, b INTEGER, c TEXT)`.execute(other.db);
    const otherBefore = other.compiles();
    await other.db.executeQuery(insert(other.db, { a: 'w', b: 2 }));
    expect(other.compiles() - otherBefore).toBe(1);
  });

  it('refuses a builder that computes a value from a parameter instead of binding it', () => {
    const { db } = open();
    const derivedNumber = preparedStatement((d, p: { b: number }) => d.insertInto('t' as never).values({ b: 100 - p.b } as never));
    expect(() => derivedNumber(db, { b: 1 })).toThrow(/computed from a parameter/);
    const derivedText = preparedStatement((d, p: { a: string }) => d.insertInto('t' as never).values({ a: `pre-${p.a}` } as never));
    expect(() => derivedText(db, { a: 'x' })).toThrow(/computed from a parameter/);
    // A stand-in with something appended, changed in case, or written into the SQL text itself.
    const suffixed = preparedStatement((d, p: { b: number }) =>
      d.insertInto('t' as never).values({ b: (p.b as unknown as string) + 1 } as never),
    );
    expect(() => suffixed(db, { b: 1 })).toThrow(/computed from a parameter/);
    const appended = preparedStatement((d, p: { a: string }) => d.insertInto('t' as never).values({ a: `${p.a}-x` } as never));
    expect(() => appended(db, { a: 'x' })).toThrow(/computed from a parameter/);
    const upper = preparedStatement((d, p: { a: string }) => d.insertInto('t' as never).values({ a: p.a.toUpperCase() } as never));
    expect(() => upper(db, { a: 'x' })).toThrow(/computed from a parameter/);
    const literal = preparedStatement((d, p: { a: string }) => d.insertInto('t' as never).values({ a: sql.lit(p.a) } as never));
    expect(() => literal(db, { a: 'x' })).toThrow(/computed from a parameter/);
  });
});
