import { Migrator, sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { migrations } from '../src/db/migrations/index.js';
import type { Database } from '../src/db/schema.js';
import { VerifyStats } from '../src/services/verify-stats.js';
import { loadConfig } from '../src/config.js';
import { createNodeService } from '../src/node.js';
import { ManualClock } from '../src/clock.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-29T10:15:00Z');

let open: Kysely<Database>[] = [];
async function freshDb(): Promise<{ db: Kysely<Database>; changes: () => number }> {
  const { db, raw } = openSqlite(':memory:');
  await migrateToLatest(db);
  open.push(db);
  // Rows written on this connection so far (SQLite's own counter): proves when nothing was written.
  const changes = (): number => Number((raw.prepare('SELECT total_changes() AS n').get() as { n: number }).n);
  return { db, changes };
}

async function rows(db: Kysely<Database>) {
  const r = await db.selectFrom('verification_stats').selectAll().orderBy('hour').orderBy('code').execute();
  return r.map((x) => ({ ...x, hour: Number(x.hour), count: Number(x.count), charged: Number(x.charged) }));
}

afterEach(async () => {
  for (const db of open) await db.destroy();
  open = [];
});

describe('verification counts', () => {
  it('counts in memory and writes nothing per verification, then one upsert per domain, hour and code', async () => {
    const { db, changes } = await freshDb();
    const stats = new VerifyStats(db, 10 * HOUR);
    stats.record('dom_a', 'valid', 0, T0); // the first record starts a flush (none happened yet)
    await stats.inFlight();
    const before = changes();
    for (let i = 0; i < 1000; i++) stats.record('dom_a', i % 4 === 0 ? 'not_found' : 'valid', i % 2 === 0 ? 3 : 0, T0 + 1000 + i);
    stats.record('dom_b', 'malformed', 0, T0 + 5000);
    stats.record('dom_a', 'valid', 7, T0 + HOUR);
    expect(changes()).toBe(before);
    expect(stats.pendingCount()).toBe(1002);
    await stats.flush();
    expect(changes()).toBe(before + 4);
    expect(stats.pendingCount()).toBe(0);
    const h0 = T0 - (T0 % HOUR);
    expect(await rows(db)).toEqual(
      [
        { domain_id: 'dom_a', hour: h0, code: 'not_found', count: 250, charged: 750 },
        { domain_id: 'dom_b', hour: h0, code: 'malformed', count: 1, charged: 0 },
        { domain_id: 'dom_a', hour: h0, code: 'valid', count: 751, charged: 750 }, // 750 + the first one
        { domain_id: 'dom_a', hour: h0 + HOUR, code: 'valid', count: 1, charged: 7 },
      ].sort((a, b) => a.hour - b.hour || a.code.localeCompare(b.code)),
    );
  });

  it('flushes by itself once the interval has passed, adding to what is stored', async () => {
    const { db } = await freshDb();
    const stats = new VerifyStats(db, 5_000);
    stats.record('dom_a', 'valid', 1, T0);
    await stats.inFlight();
    stats.record('dom_a', 'valid', 1, T0 + 1_000);
    expect(stats.inFlight()).toBeNull();
    expect((await rows(db))[0].count).toBe(1);
    stats.record('dom_a', 'valid', 1, T0 + 5_000);
    await stats.inFlight();
    expect((await rows(db))[0]).toMatchObject({ count: 3, charged: 3 });
  });

  it('adds up flushes from several instances on one database', async () => {
    const { db } = await freshDb();
    const a = new VerifyStats(db, 60_000);
    const b = new VerifyStats(db, 60_000);
    for (let i = 0; i < 10; i++) {
      a.record('dom_a', 'valid', 2, T0 + 10 + i);
      b.record('dom_a', 'valid', 1, T0 + 10 + i);
    }
    await Promise.all([a.inFlight(), b.inFlight()]);
    await Promise.all([a.flush(), b.flush()]);
    expect(await rows(db)).toMatchObject([{ count: 20, charged: 30 }]);
  });

  it('keeps the counts of a failed flush for the next one', async () => {
    const { db } = await freshDb();
    const errors: unknown[] = [];
    const stats = new VerifyStats(db, 60_000, (e) => errors.push(e));
    await sql`ALTER TABLE verification_stats RENAME TO verification_stats_away`.execute(db);
    stats.record('dom_a', 'valid', 5, T0);
    await stats.inFlight();
    expect(errors).toHaveLength(1);
    stats.record('dom_a', 'rate_limited', 0, T0 + 1);
    await expect(stats.flush()).rejects.toThrow();
    expect(stats.pendingCount()).toBe(2);
    await sql`ALTER TABLE verification_stats_away RENAME TO verification_stats`.execute(db);
    await stats.flush();
    expect(await rows(db)).toMatchObject([
      { code: 'rate_limited', count: 1 },
      { code: 'valid', count: 1, charged: 5 },
    ]);
  });

  it('writes what is still in memory when the Node service shuts down', async () => {
    const { db } = await freshDb();
    const config = loadConfig({ DATABASE_URL: ':memory:', PUBLIC_URL: 'http://localhost:8787', LOG_LEVEL: 'silent' });
    const svc = await createNodeService(config, { db, clock: new ManualClock(T0) });
    svc.deps.verifyStats.record('dom_x', 'valid', 0, T0);
    await svc.deps.verifyStats.inFlight();
    svc.deps.verifyStats.record('dom_x', 'valid', 0, T0 + 1);
    svc.deps.verifyStats.record('dom_x', 'expired', 0, T0 + 2);
    // close() destroys the database: read through a second handle on the same rows first.
    const seen: unknown[] = [];
    const destroy = db.destroy.bind(db);
    db.destroy = async () => {
      seen.push(...(await rows(db)));
      await destroy();
    };
    open = open.filter((d) => d !== db);
    await svc.close();
    expect(seen).toMatchObject([
      { code: 'expired', count: 1 },
      { code: 'valid', count: 2 },
    ]);
  });
});

describe('migration 0004_analytics', () => {
  it('rolls up the usage records written before it', async () => {
    const { db } = openSqlite(':memory:');
    open.push(db);
    const provider = { getMigrations: async () => migrations };
    const first = await new Migrator({ db, provider }).migrateTo('0001_init');
    expect(first.error).toBeUndefined();
    const rec = (id: string, at: number, cost: number, model: string | null, charged = cost) => ({
      id,
      domain_id: 'dom_1',
      request_id: id,
      key_id: 'key_1',
      account: '0xA',
      model,
      input_tokens: 10,
      output_tokens: null,
      cost,
      charged,
      uncharged: cost - charged,
      credits_after: null,
      created_at: at,
    });
    await db
      .insertInto('usage_records')
      .values([rec('r1', T0, 5, 'm'), rec('r2', T0 + 60_000, 7, 'm', 3), rec('r3', T0 + 120_000, 1, null), rec('r4', T0 + HOUR, 2, 'm')])
      .execute();
    await migrateToLatest(db);
    const r = await db.selectFrom('usage_rollups').selectAll().orderBy('hour').orderBy('model').execute();
    const h0 = T0 - (T0 % HOUR);
    expect(
      r.map((x) => [
        Number(x.hour),
        x.model,
        Number(x.requests),
        Number(x.cost),
        Number(x.charged),
        Number(x.uncharged),
        Number(x.input_tokens),
        Number(x.output_tokens),
      ]),
    ).toEqual([
      [h0, '', 1, 1, 1, 0, 10, 0],
      [h0, 'm', 2, 12, 8, 4, 20, 0],
      [h0 + HOUR, 'm', 1, 2, 2, 0, 10, 0],
    ]);
  });
});
