// Whether the hot-query machinery pays for itself (issue 13): CPU per call of the verification's
// key lookup (findVerifyKey) and balance read (findKeyBalance) on SQLite, three ways:
//   prepared: compiled once, run by better-sqlite3's cached statement directly (src/db/prepared.ts + direct.ts);
//   kysely + statement cache: built and compiled by kysely per call, the connection's prepare() cached (sqlite.ts);
//   kysely, no cache: what the code would be without either.
// Measured in CPU time (process.cpuUsage), so it stays meaningful on a busy machine.
// Usage: npx tsx bench/hot-queries.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { findKeyBalance, findVerifyKey } from '../src/db/repositories/verify-records.js';
import type { Database } from '../src/db/schema.js';

const N = Number(process.env.HOT_N ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'hot-queries-'));
const file = join(dir, 'db.sqlite');
const { db } = openSqlite(file);
await migrateToLatest(db);
const now = Date.now();
const account = '0x3333333333333333333333333333333333333333';
await db
  .insertInto('accounts')
  .values({ address: account, plan: 'network', credits: 1000, created_at: now, last_sign_in_at: now })
  .execute();
const hash = 'h'.repeat(64);
await db
  .insertInto('api_keys')
  .values({
    id: 'key_hot',
    account,
    name: 'hot',
    description: null,
    type: 'network',
    scopes: '["inference:write"]',
    models: null,
    rpm: null,
    daily_credits: null,
    monthly_credits: null,
    hash,
    hint: 'x',
    prev_hash: null,
    prev_expires_at: null,
    // status and the usage counters take their column defaults ('active', empty windows, zeros).
    expires_at: null,
    created_at: now,
    last_used_at: null,
  })
  .execute();
const plain = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });

// The same statements as the repository's, built per call.
const verifyKeyQuery = (k: Kysely<Database>) =>
  k
    .selectFrom('api_keys as k')
    .innerJoin('accounts as a', 'a.address', 'k.account')
    .leftJoin('domain_keys as dk', (j) => j.onRef('dk.key_id', '=', 'k.id').on('dk.domain_id', '=', 'dom_x'))
    .select(['k.id', 'k.account', 'k.type', 'k.status', 'k.scopes', 'k.models', 'k.rpm', 'k.daily_credits', 'k.monthly_credits'])
    .select(['k.expires_at', 'k.hash', 'k.prev_expires_at', 'k.day_window', 'k.day_used', 'k.month_window', 'k.month_used'])
    .select(['k.total_used', 'k.rpm_window', 'k.rpm_count', 'a.plan', 'a.credits', 'dk.last_verified_at as domain_verified_at'])
    .where((eb) => eb.or([eb('k.hash', '=', hash), eb.and([eb('k.prev_hash', '=', hash), eb('k.prev_expires_at', '>', now)])]));
const balanceQuery = (k: Kysely<Database>) =>
  k
    .selectFrom('api_keys as k')
    .innerJoin('accounts as a', 'a.address', 'k.account')
    .select(['k.day_window', 'k.day_used', 'k.month_window', 'k.month_used', 'k.total_used', 'a.credits'])
    .where('k.id', '=', 'key_hot');

async function cpuPerCall(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2000; i++) if (!(await fn())) throw new Error('no row');
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const rows: [string, number, number][] = [];
for (const [name, verify, balance] of [
  ['prepared (direct reader)', () => findVerifyKey(db, hash, now, 'dom_x'), () => findKeyBalance(db, 'key_hot')],
  ['kysely + statement cache', () => verifyKeyQuery(db).executeTakeFirst(), () => balanceQuery(db).executeTakeFirst()],
  ['kysely, no cache', () => verifyKeyQuery(plain).executeTakeFirst(), () => balanceQuery(plain).executeTakeFirst()],
] as const) {
  rows.push([name, await cpuPerCall(verify), await cpuPerCall(balance)]);
}
console.log(`hot queries on SQLite, CPU per call (${N} calls each, Node ${process.version})`);
console.log('| path | findVerifyKey µs | findKeyBalance µs |\n|---|---:|---:|');
for (const [name, v, b] of rows) console.log(`| ${name} | ${v.toFixed(1)} | ${b.toFixed(1)} |`);
await db.destroy();
await plain.destroy();
rmSync(dir, { recursive: true, force: true });
