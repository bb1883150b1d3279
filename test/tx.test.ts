import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import { openPostgres } from '../src/db/dialects/postgres.js';
import { isD1 } from '../src/db/dialects/d1.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Database } from '../src/db/schema.js';
import { BatchConditionFailed, inBatch } from '../src/db/tx.js';
import { createPgTestDatabase } from './support/postgres.js';

// The Node side of src/db/tx.ts (D1's side is test/d1.test.ts): same contract on every database.
const dbs: { name: string; open(): Promise<{ db: Kysely<Database>; close(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    open: async () => {
      const { db } = openSqlite(':memory:');
      return { db, close: () => db.destroy() };
    },
  },
];
if (process.env.TEST_POSTGRES_URL) {
  dbs.push({
    name: 'postgres',
    open: async () => {
      const t = await createPgTestDatabase(process.env.TEST_POSTGRES_URL as string);
      const db = openPostgres(t.url, 2);
      return {
        db,
        close: async () => {
          await db.destroy();
          await t.drop();
        },
      };
    },
  });
}

describe.each(dbs)('src/db/tx.ts on $name', ({ open }) => {
  let db: Kysely<Database>;
  let close: () => Promise<void>;
  let seq = 0;
  beforeAll(async () => {
    ({ db, close } = await open());
    await migrateToLatest(db);
  });
  afterAll(async () => close());

  const account = async (credits: number): Promise<string> => {
    const address = `0x${String(++seq).padStart(40, '0')}`;
    await db.insertInto('accounts').values({ address, plan: 'developer', credits, created_at: 1, last_sign_in_at: null }).execute();
    return address;
  };
  const creditsOf = async (address: string): Promise<number> =>
    Number((await db.selectFrom('accounts').select('credits').where('address', '=', address).executeTakeFirstOrThrow()).credits);
  const auditRow = (id: string, address: string, ex: Kysely<Database> = db) =>
    ex.insertInto('audit_events').values({
      id,
      at: 1,
      actor: address,
      account: address,
      action: 'test.charge',
      target: null,
      request_id: null,
      ip: null,
      user_agent: null,
      detail: null,
    });

  it('is not D1', () => {
    expect(isD1(db)).toBe(false);
  });

  it('inBatch applies every statement and returns each result', async () => {
    const a = await account(100);
    const results = await inBatch(db, [
      db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '-', 30) }))
        .where('address', '=', a),
      auditRow(`ev_${a}`, a),
      db.selectFrom('accounts').select('credits').where('address', '=', a),
    ]);
    expect(results.map((r) => r.numAffectedRows)).toEqual([1n, 1n, undefined]);
    expect(results[2].rows.map((r) => Number((r as { credits: unknown }).credits))).toEqual([70]);
    expect(await creditsOf(a)).toBe(70);
  });

  it('inBatch undoes the whole batch when a later statement fails a CHECK', async () => {
    const a = await account(100);
    await expect(
      inBatch(db, [
        db
          .updateTable('accounts')
          .set((eb) => ({ credits: eb('credits', '-', 30) }))
          .where('address', '=', a),
        auditRow(`ev_${a}`, a),
        db
          .updateTable('accounts')
          .set((eb) => ({ credits: eb('credits', '-', 100) }))
          .where('address', '=', a),
      ]),
    ).rejects.toThrow(/check/i);
    expect(await creditsOf(a)).toBe(100);
    expect(await db.selectFrom('audit_events').select('id').where('id', '=', `ev_${a}`).executeTakeFirst()).toBeUndefined();
  });

  it('inBatch undoes every step when a mustChange step changes no row, and names that step', async () => {
    const a = await account(100);
    const debit = (cost: number) =>
      db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '-', cost) }))
        .where('address', '=', a)
        .where('credits', '>=', cost);
    const err = await inBatch(db, [
      { query: debit(30), mustChange: true },
      auditRow(`ev_${a}`, a),
      { query: debit(100), mustChange: true }, // 70 left: refused by its WHERE, not by an error
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchConditionFailed);
    expect((err as BatchConditionFailed).index).toBe(2);
    expect(await creditsOf(a)).toBe(100);
    expect(await db.selectFrom('audit_events').select('id').where('id', '=', `ev_${a}`).executeTakeFirst()).toBeUndefined();
  });

  it('inBatch counts the rows of a mustChange write with RETURNING', async () => {
    const a = await account(100);
    const [r] = await inBatch(db, [
      { query: db.updateTable('accounts').set({ credits: 60 }).where('address', '=', a).returning('credits'), mustChange: true },
    ]);
    expect(r.rows.map((x) => Number((x as { credits: unknown }).credits))).toEqual([60]);
    expect(await creditsOf(a)).toBe(60);
  });

  it('inBatch inside a transaction joins the outer transaction', async () => {
    const a = await account(100);
    await expect(
      db.transaction().execute(async (trx) => {
        await inBatch(trx as Kysely<Database>, [trx.updateTable('accounts').set({ credits: 5 }).where('address', '=', a)]);
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await creditsOf(a)).toBe(100);
  });
});
