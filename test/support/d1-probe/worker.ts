// Test-only Worker: each path runs one scenario of the D1 dialect / inBatch on the
// real D1 binding and answers what it observed; test/d1.test.ts asserts on it.
import { sql } from 'kysely';
import { D1TransactionError, isD1, openD1, type D1Database } from '../../../src/db/dialects/d1.js';
import { BatchConditionFailed, inBatch } from '../../../src/db/tx.js';

type Db = ReturnType<typeof openD1>;

const n = (v: bigint | undefined): number | null => (v === undefined ? null : Number(v));

async function credits(db: Db, address: string): Promise<number | null> {
  const row = await db.selectFrom('accounts').select('credits').where('address', '=', address).executeTakeFirst();
  return row ? (row.credits === null ? null : Number(row.credits)) : null;
}

async function newAccount(db: Db, address: string, amount: number): Promise<void> {
  await db.insertInto('accounts').values({ address, plan: 'developer', credits: amount, created_at: 1, last_sign_in_at: null }).execute();
}

const scenarios: Record<string, (db: Db, id: string) => Promise<unknown>> = {
  async 'is-d1'(db) {
    return { isD1: isD1(db) };
  },

  async 'affected-rows'(db, id) {
    const inserted = await db
      .insertInto('nonces')
      .values([
        { nonce: `${id}a`, issued_at: 1, expires_at: 10, ip: null },
        { nonce: `${id}b`, issued_at: 1, expires_at: 10, ip: null },
      ])
      .executeTakeFirst();
    const updated = await db.updateTable('nonces').set({ ip: 'x' }).where('nonce', 'like', `${id}%`).executeTakeFirst();
    const deletedNone = await db.deleteFrom('nonces').where('nonce', '=', `${id}zzz`).executeTakeFirst();
    const returned = await db.deleteFrom('nonces').where('nonce', '=', `${id}a`).returning(['issued_at', 'ip']).executeTakeFirst();
    const count = await db
      .selectFrom('nonces')
      .select((eb) => eb.fn.countAll<number>().as('c'))
      .where('nonce', 'like', `${id}%`)
      .executeTakeFirstOrThrow();
    return {
      inserted: n(inserted.numInsertedOrUpdatedRows),
      updated: n(updated.numUpdatedRows),
      deletedNone: n(deletedNone.numDeletedRows),
      returned,
      remaining: Number(count.c),
    };
  },

  async 'binds-values'(db, id) {
    // Booleans and undefined are not D1 bind types; the dialect maps them.
    const row = await sql<{
      t: number;
      f: number;
      nul: null;
      big: number;
    }>`select ${true} as t, ${false} as f, ${null} as nul, ${BigInt(2 ** 40)} as big`
      .execute(db)
      .then((r) => r.rows[0]);
    await db
      .insertInto('nonces')
      .values({ nonce: `${id}u`, issued_at: 1, expires_at: 2, ip: undefined as unknown as null })
      .execute();
    const ip = await db.selectFrom('nonces').select('ip').where('nonce', '=', `${id}u`).executeTakeFirstOrThrow();
    return { row, ip: ip.ip };
  },

  async 'batch-commits'(db, id) {
    await newAccount(db, id, 100);
    const results = await inBatch(db, [
      db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '-', 30) }))
        .where('address', '=', id),
      db.insertInto('audit_events').values({
        id: `${id}-ev`,
        at: 1,
        actor: id,
        account: id,
        action: 'test.charge',
        target: null,
        request_id: null,
        ip: null,
        user_agent: null,
        detail: null,
      }),
      db.selectFrom('accounts').select('credits').where('address', '=', id),
    ]);
    const audit = await db.selectFrom('audit_events').select('action').where('id', '=', `${id}-ev`).executeTakeFirst();
    return {
      affected: results.map((r) => n(r.numAffectedRows)),
      rowsOfLast: results[2].rows,
      credits: await credits(db, id),
      audit: audit?.action ?? null,
    };
  },

  async 'batch-rolls-back'(db, id) {
    await newAccount(db, id, 100);
    let error: string | null = null;
    try {
      await inBatch(db, [
        db
          .updateTable('accounts')
          .set((eb) => ({ credits: eb('credits', '-', 30) }))
          .where('address', '=', id),
        db.insertInto('audit_events').values({
          id: `${id}-ev`,
          at: 1,
          actor: id,
          account: id,
          action: 'test.charge',
          target: null,
          request_id: null,
          ip: null,
          user_agent: null,
          detail: null,
        }),
        // 70 left, 100 more violates CHECK (credits >= 0): the whole batch must be undone.
        db
          .updateTable('accounts')
          .set((eb) => ({ credits: eb('credits', '-', 100) }))
          .where('address', '=', id),
      ]);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const audit = await db.selectFrom('audit_events').select('id').where('id', '=', `${id}-ev`).executeTakeFirst();
    return { error, credits: await credits(db, id), auditWritten: audit !== undefined };
  },

  async 'batch-condition'(db, id) {
    await newAccount(db, id, 100);
    const debit = (cost: number) =>
      db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '-', cost) }))
        .where('address', '=', id)
        .where('credits', '>=', cost);
    let failed: { name: string; index: number | null } | null = null;
    try {
      await inBatch(db, [
        { query: debit(30), mustChange: true },
        db.insertInto('audit_events').values({
          id: `${id}-ev`,
          at: 1,
          actor: id,
          account: id,
          action: 'test.charge',
          target: null,
          request_id: null,
          ip: null,
          user_agent: null,
          detail: null,
        }),
        { query: debit(100), mustChange: true },
      ]);
    } catch (err) {
      failed = { name: err instanceof Error ? err.name : String(err), index: err instanceof BatchConditionFailed ? err.index : null };
    }
    const audit = await db.selectFrom('audit_events').select('id').where('id', '=', `${id}-ev`).executeTakeFirst();
    const ok = await inBatch(db, [
      { query: debit(30).returning('credits'), mustChange: true },
      { query: debit(30), mustChange: true },
    ]);
    return {
      failed,
      credits: await credits(db, id),
      auditWritten: audit !== undefined,
      okRows: ok[0].rows,
      okAffected: ok.map((r) => n(r.numAffectedRows)),
    };
  },

  async 'charge-race'(db, id) {
    // The shape of a verification charge as one batch: add to the key's windows, then debit the
    // account only if it covers the cost; a refused debit must undo the window update too.
    await newAccount(db, id, 200);
    await db
      .insertInto('api_keys')
      .values({
        id: `${id}-key`,
        account: id,
        name: 'race',
        type: 'developer',
        scopes: '[]',
        hash: `${id}-hash`,
        hint: 'x',
        created_at: 1,
      } as never)
      .execute();
    const charge = () =>
      inBatch(db, [
        {
          query: db
            .updateTable('api_keys')
            .set((eb) => ({ total_used: eb('total_used', '+', 10) }))
            .where('id', '=', `${id}-key`),
          mustChange: true,
        },
        {
          query: db
            .updateTable('accounts')
            .set((eb) => ({ credits: eb('credits', '-', 10) }))
            .where('address', '=', id)
            .where('credits', '>=', 10),
          mustChange: true,
        },
      ]).then(
        () => 'valid',
        (err: unknown) => (err instanceof BatchConditionFailed ? `refused:${err.index}` : `error:${String(err)}`),
      );
    const outcomes = await Promise.all(Array.from({ length: 50 }, charge));
    const key = await db.selectFrom('api_keys').select('total_used').where('id', '=', `${id}-key`).executeTakeFirstOrThrow();
    return {
      valid: outcomes.filter((o) => o === 'valid').length,
      others: [...new Set(outcomes.filter((o) => o !== 'valid'))],
      credits: await credits(db, id),
      totalUsed: Number(key.total_used),
    };
  },

  async 'transaction-refused'(db) {
    try {
      await db.transaction().execute(async () => 1);
      return { refused: false };
    } catch (err) {
      return { refused: err instanceof D1TransactionError, message: err instanceof Error ? err.message : String(err) };
    }
  },

  async 'conditional-update'(db, id) {
    // The shape money steps take on D1: one statement that cannot go below zero.
    await newAccount(db, id, 25);
    const charge = (cost: number) =>
      db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '-', cost) }))
        .where('address', '=', id)
        .where('credits', '>=', cost)
        .executeTakeFirst()
        .then((r) => Number(r.numUpdatedRows));
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => charge(10)));
    return { succeeded: outcomes.filter((x) => x === 1).length, credits: await credits(db, id) };
  },
};

export default {
  async fetch(req: Request, env: { DB: D1Database }): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === '/healthz') return Response.json({ ok: true });
    const name = url.pathname.replace(/^\/run\//, '');
    const scenario = scenarios[name];
    if (!scenario) return Response.json({ error: `unknown scenario ${name}` }, { status: 404 });
    const id = `0x${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
    try {
      return Response.json(await scenario(openD1(env.DB), id));
    } catch (err) {
      return Response.json({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, { status: 500 });
    }
  },
};
