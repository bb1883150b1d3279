import type { InsertQueryBuilder, InsertResult } from 'kysely';
import { sql, type Kysely } from 'kysely';
import type { Database, UsageRollupsTable } from '../schema.js';
import type { Executor } from '../tx.js';

export const HOUR_MS = 3_600_000;
export const hourOf = (ms: number): number => ms - (ms % HOUR_MS);

export type UsageDimension = 'hour' | 'model' | 'key_id' | 'domain_id';

/** The rollup's counters summed over one value of a dimension. */
export type UsageSums = { dim: string | number } & Pick<
  UsageRollupsTable,
  'requests' | 'input_tokens' | 'output_tokens' | 'cost' | 'charged' | 'uncharged'
>;

export interface UsageFilter {
  account?: string;
  keyId?: string;
  /** '' selects records without a model. */
  model?: string;
}

const sums = {
  fromRollups: [
    sql<number>`SUM(requests)`.as('requests'),
    sql<number>`SUM(input_tokens)`.as('input_tokens'),
    sql<number>`SUM(output_tokens)`.as('output_tokens'),
    sql<number>`SUM(cost)`.as('cost'),
    sql<number>`SUM(charged)`.as('charged'),
    sql<number>`SUM(uncharged)`.as('uncharged'),
  ],
  fromRecords: [
    sql<number>`COUNT(*)`.as('requests'),
    sql<number>`SUM(COALESCE(input_tokens, 0))`.as('input_tokens'),
    sql<number>`SUM(COALESCE(output_tokens, 0))`.as('output_tokens'),
    sql<number>`SUM(cost)`.as('cost'),
    sql<number>`SUM(charged)`.as('charged'),
    sql<number>`SUM(uncharged)`.as('uncharged'),
  ],
};

// PostgreSQL returns SUM(bigint) as a numeric string, SQLite as a number.
const toSums = (r: Record<string, unknown>): UsageSums => ({
  dim: typeof r.dim === 'number' || typeof r.dim === 'string' ? (r.dim as string | number) : String(r.dim),
  requests: Number(r.requests ?? 0),
  input_tokens: Number(r.input_tokens ?? 0),
  output_tokens: Number(r.output_tokens ?? 0),
  cost: Number(r.cost ?? 0),
  charged: Number(r.charged ?? 0),
  uncharged: Number(r.uncharged ?? 0),
});

/** Sums roll-up rows of whole hours in [fromHour, toHour), grouped by one dimension. */
export async function sumRollups(
  db: Kysely<Database>,
  f: UsageFilter,
  fromHour: number,
  toHour: number,
  dim: UsageDimension,
): Promise<UsageSums[]> {
  let q = db
    .selectFrom('usage_rollups')
    .select([sql.ref<string | number>(dim).as('dim'), ...sums.fromRollups])
    .where('hour', '>=', fromHour)
    .where('hour', '<', toHour);
  if (f.account !== undefined) q = q.where('account', '=', f.account);
  if (f.keyId !== undefined) q = q.where('key_id', '=', f.keyId);
  if (f.model !== undefined) q = q.where('model', '=', f.model);
  const rows = await q.groupBy(dim).execute();
  return rows.map((r) => toSums(r as Record<string, unknown>));
}

/** Sums the records themselves in [from, to) (the partial hours at a range's edges). */
export async function sumRecords(
  db: Kysely<Database>,
  f: UsageFilter & { account: string },
  from: number,
  to: number,
  dim: UsageDimension,
): Promise<UsageSums[]> {
  const dimExpr =
    dim === 'hour'
      ? sql<string | number>`created_at - (created_at % ${sql.lit(HOUR_MS)})`
      : dim === 'model'
        ? sql<string | number>`COALESCE(model, '')`
        : sql<string | number>`${sql.ref(dim)}`;
  let q = db
    .selectFrom('usage_records')
    .select([dimExpr.as('dim'), ...sums.fromRecords])
    .where('account', '=', f.account)
    .where('created_at', '>=', from)
    .where('created_at', '<', to);
  if (f.keyId !== undefined) q = q.where('key_id', '=', f.keyId);
  if (f.model !== undefined) q = f.model === '' ? q.where('model', 'is', null) : q.where('model', '=', f.model);
  const rows = await q.groupBy(dimExpr).execute();
  return rows.map((r) => toSums(r as Record<string, unknown>));
}

/** Usage roll-ups of one domain (all accounts), per hour. */
export async function domainUsageByHour(
  db: Kysely<Database>,
  domainId: string,
  fromHour: number,
  to: number,
): Promise<{ hour: number; charged: number; requests: number }[]> {
  const rows = await db
    .selectFrom('usage_rollups')
    .select(['hour', sql<number>`SUM(charged)`.as('charged'), sql<number>`SUM(requests)`.as('requests')])
    .where('domain_id', '=', domainId)
    .where('hour', '>=', fromHour)
    .where('hour', '<', to)
    .groupBy('hour')
    .execute();
  return rows.map((r) => ({ hour: Number(r.hour), charged: Number(r.charged), requests: Number(r.requests) }));
}

export interface VerificationCount {
  domainId: string;
  hour: number;
  code: string;
  count: number;
  charged: number;
}

/** One upsert per (domain, hour, code): adds to the row, so several instances' flushes add up. */
export function addVerificationCountsQuery(
  db: Executor,
  c: VerificationCount,
): InsertQueryBuilder<Database, 'verification_stats', InsertResult> {
  return db
    .insertInto('verification_stats')
    .values({ domain_id: c.domainId, hour: c.hour, code: c.code, count: c.count, charged: c.charged })
    .onConflict((oc) =>
      oc.columns(['domain_id', 'hour', 'code']).doUpdateSet({
        count: sql<number>`verification_stats.count + excluded.count`,
        charged: sql<number>`verification_stats.charged + excluded.charged`,
      }),
    );
}

/** Verification counts per hour and code in [fromHour, to), for one domain or all. */
export async function verificationCounts(
  db: Kysely<Database>,
  f: { domainId?: string },
  fromHour: number,
  to: number,
): Promise<{ hour: number; code: string; count: number; charged: number }[]> {
  let q = db
    .selectFrom('verification_stats')
    .select(['hour', 'code', sql<number>`SUM(count)`.as('count'), sql<number>`SUM(charged)`.as('charged')])
    .where('hour', '>=', fromHour)
    .where('hour', '<', to);
  if (f.domainId !== undefined) q = q.where('domain_id', '=', f.domainId);
  const rows = await q.groupBy(['hour', 'code']).execute();
  return rows.map((r) => ({ hour: Number(r.hour), code: r.code, count: Number(r.count), charged: Number(r.charged) }));
}

/** Row counts of a table grouped by one column (plans, statuses); accounts are wallets' only. */
export async function countBy<T extends 'accounts' | 'api_keys' | 'trial_applications'>(
  db: Kysely<Database>,
  table: T,
  column: T extends 'accounts' ? 'plan' : 'status',
): Promise<Map<string, number>> {
  let q = db.selectFrom(table as 'accounts').select([sql.ref<string>(column).as('v'), sql<number>`COUNT(*)`.as('n')]);
  // Teams' billing accounts (address = team id) are not wallets' accounts.
  if (table === 'accounts') q = q.where('address', 'not like', 'team_%');
  const rows = (await q.groupBy(sql.ref(column)).execute()) as { v: string; n: number | string }[];
  return new Map(rows.map((r) => [r.v, Number(r.n)]));
}

/** Audit events of the given actions in [from, to): credit grants are read from their details. */
export async function auditEventsOf(
  db: Kysely<Database>,
  actions: string[],
  from: number,
  to: number,
): Promise<{ action: string; at: number; detail: string | null }[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select(['action', 'at', 'detail'])
    .where('action', 'in', actions)
    .where('at', '>=', from)
    .where('at', '<', to)
    .execute();
  return rows.map((r) => ({ action: r.action, at: Number(r.at), detail: r.detail }));
}

export async function domainNames(db: Kysely<Database>, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('domains').select(['id', 'name']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function keyNames(db: Kysely<Database>, account: string, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('api_keys').select(['id', 'name']).where('account', '=', account).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/**
 * Recomputes every roll-up row from the records (the same statement the migration runs once).
 * For repairs and for benchmarks that bulk-load records directly.
 */
export async function rebuildUsageRollups(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom('usage_rollups').execute();
  await sql`INSERT INTO usage_rollups (account, hour, key_id, model, domain_id, requests, input_tokens, output_tokens, cost, charged, uncharged)
    SELECT account, created_at - (created_at % ${sql.lit(HOUR_MS)}), key_id, COALESCE(model, ''), domain_id, COUNT(*),
      SUM(COALESCE(input_tokens, 0)), SUM(COALESCE(output_tokens, 0)), SUM(cost), SUM(charged), SUM(uncharged)
    FROM usage_records
    GROUP BY account, created_at - (created_at % ${sql.lit(HOUR_MS)}), key_id, COALESCE(model, ''), domain_id`.execute(db);
}
