// npm run bench:analytics: a 30-day summary by day for one account, with 1,000,000 usage records in
// the database (bulk-loaded with SQL, roll-ups rebuilt from them), through the whole HTTP stack
// in-process (session check, route, queries). SQLite file always; PostgreSQL when
// BENCH_POSTGRES_URL (or TEST_POSTGRES_URL) names a server where a database may be created.
// Floor: the median must stay under 100 ms (exit 1 otherwise).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { rebuildUsageRollups } from '../src/db/repositories/analytics.js';
import type { Database } from '../src/db/schema.js';
import { isPostgres } from '../src/db/tx.js';
import { createNodeService, type NodeService } from '../src/node.js';
import { benchSession } from './session.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const FLOOR_MS = 100;
const ORIGIN = 'http://localhost:8787';
const DAY = 86_400_000;

/**
 * Half the records belong to the measured account (3 keys, 5 models one of them none, 2
 * domains), spread evenly over the last 60 days; the other half to 1,000 other accounts.
 */
async function seed(db: Kysely<Database>, account: string, now: number): Promise<void> {
  const pgsql = isPostgres(db);
  const series = pgsql
    ? sql`SELECT g AS i FROM generate_series(0, ${sql.lit(RECORDS - 1)}) g`
    : sql`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${sql.lit(RECORDS - 1)}) SELECT i FROM s`;
  const cat = (...parts: ReturnType<typeof sql>[]) => (pgsql ? sql.join(parts, sql` || `) : sql.join(parts, sql` || `));
  const span = 60 * DAY;
  await sql`INSERT INTO usage_records (id, domain_id, request_id, key_id, account, model, input_tokens, output_tokens, cost, charged, uncharged, credits_after, created_at)
    SELECT ${cat(sql`'use_'`, sql`CAST(i AS TEXT)`)},
      ${cat(sql`'dom_'`, sql`CAST((i / 2) % 2 AS TEXT)`)},
      ${cat(sql`'r'`, sql`CAST(i AS TEXT)`)},
      CASE WHEN i % 2 = 0 THEN ${cat(sql`'key_a'`, sql`CAST((i / 2) % 3 AS TEXT)`)} ELSE ${cat(sql`'key_o'`, sql`CAST(i % 1000 AS TEXT)`)} END,
      CASE WHEN i % 2 = 0 THEN ${account} ELSE ${cat(sql`'0xother'`, sql`CAST(i % 1000 AS TEXT)`)} END,
      CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN 'llama-3-8b' WHEN 2 THEN 'llama-3-70b' WHEN 3 THEN 'qwen-2.5-7b' ELSE 'mistral-7b' END,
      i % 1000, i % 300, i % 17, i % 17 - (CASE WHEN i % 17 > 0 AND i % 5 = 0 THEN 1 ELSE 0 END),
      CASE WHEN i % 17 > 0 AND i % 5 = 0 THEN 1 ELSE 0 END, NULL,
      ${sql.lit(now)} - CAST(i AS BIGINT) * ${sql.lit(Math.floor(span / RECORDS))}
    FROM (${series}) AS seq`.execute(db);
  await rebuildUsageRollups(db);
  if (pgsql) await sql`ANALYZE`.execute(db);
  else await sql`ANALYZE`.execute(db);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function measure(svc: NodeService, token: string, path: string): Promise<{ p50: number; p95: number; max: number; body: any }> {
  const call = async () => {
    const res = await svc.app.request(new URL(path, ORIGIN).toString(), { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  let body: any;
  for (let i = 0; i < 3; i++) body = await call(); // warm the statement and page caches
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  return { p50: pct(times, 50), p95: pct(times, 95), max: Math.max(...times), body };
}

async function run(name: string, databaseUrl: string): Promise<boolean> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: ORIGIN,
    LOG_LEVEL: 'silent',
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
  });
  const svc = await createNodeService(config);
  try {
    const me = await benchSession((url, init) => Promise.resolve(svc.app.request(url, init)), ORIGIN, ORIGIN);
    const now = Date.now();
    const t0 = performance.now();
    await seed(svc.db, me.address, now);
    const seedS = ((performance.now() - t0) / 1000).toFixed(1);
    const count = await svc.db.selectFrom('usage_records').select(sql<number>`COUNT(*)`.as('n')).executeTakeFirstOrThrow();
    const rollups = await svc.db.selectFrom('usage_rollups').select(sql<number>`COUNT(*)`.as('n')).executeTakeFirstOrThrow();
    console.log(
      `${name}: ${Number(count.n).toLocaleString('en')} usage records, ${Number(rollups.n).toLocaleString('en')} roll-up rows (seeded in ${seedS} s)`,
    );
    const byDay = await measure(svc, me.token, '/v1/usage/summary?group_by=day');
    const inWindow = byDay.body.totals.requests;
    const byModel = await measure(svc, me.token, '/v1/usage/summary?group_by=model');
    const byHour = await measure(svc, me.token, '/v1/usage/summary?group_by=hour');
    // For scale: the same totals straight from the records, without roll-ups.
    const t1 = performance.now();
    await sql`SELECT COUNT(*), SUM(cost), SUM(charged) FROM usage_records WHERE account = ${me.address} AND created_at >= ${now - 30 * DAY}`.execute(
      svc.db,
    );
    const rawMs = performance.now() - t1;
    const line = (label: string, m: { p50: number; p95: number; max: number }) =>
      console.log(
        `  ${label.padEnd(34)} p50 ${m.p50.toFixed(1).padStart(6)} ms  p95 ${m.p95.toFixed(1).padStart(6)} ms  max ${m.max.toFixed(1).padStart(6)} ms`,
      );
    console.log(`  30-day window holds ${inWindow.toLocaleString('en')} of the account's records; ${ROUNDS} rounds each`);
    line('summary, 30 days by day', byDay);
    line('summary, 30 days by hour (721)', byHour);
    line('summary, 30 days by model', byModel);
    console.log(`  (one SUM over the raw records of the same window, no roll-ups: ${rawMs.toFixed(0)} ms)`);
    const ok = byDay.p50 < FLOOR_MS;
    console.log(`  ${ok ? 'PASS' : 'FAIL'}: by-day p50 ${byDay.p50.toFixed(1)} ms ${ok ? '<' : '>='} ${FLOOR_MS} ms`);
    return ok;
  } finally {
    await svc.close();
  }
}

async function main(): Promise<void> {
  const results: boolean[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-bench-analytics-'));
  try {
    results.push(await run('node+sqlite', `file:${join(dir, 'bench.db')}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pgBase = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL;
  if (pgBase) {
    const name = `siwe_keys_bench_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(pgBase);
    url.pathname = `/${name}`;
    try {
      results.push(await run('node+postgres', url.toString()));
    } finally {
      const c = new pg.Client({ connectionString: pgBase });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    }
  } else {
    console.log('node+postgres: skipped (set BENCH_POSTGRES_URL=postgres://... to include it)');
  }
  if (results.some((r) => !r)) process.exit(1);
}

await main();
