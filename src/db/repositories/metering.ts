import type { UpdateQueryBuilder, UpdateResult } from 'kysely';
import { sql, type Compilable, type Kysely, type RawBuilder } from 'kysely';
import type { Database, UsageRecordsTable } from '../schema.js';
import { isPostgres, type BatchStep, type Executor } from '../tx.js';
import { usageRollupSteps } from './analytics.js';

const big = (n: number) => sql<number>`CAST(${n} AS BIGINT)`;

/**
 * The most a key's counters (total, and so its day and month windows) and an account's
 * usage_total may reach: 2^53 - 1, where JSON numbers and JavaScript stop being exact. Each
 * charging statement refuses (or, for usage reports, caps) in its own WHERE / LEAST, compared as
 * `counter <= MAX_COUNTER - cost` so the comparison itself cannot overflow a BIGINT.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/*
 * Charging is built from query builders that are not executed here, so a service can run them
 * as one all-or-nothing `inBatch` (a D1 batch on Workers, a transaction elsewhere).
 */

/**
 * Takes one request from the key's per-minute window, in one conditional statement: changes no
 * row when the window is full. Returns the count in the window after this request.
 */
export function rateSlotQuery(
  db: Executor,
  keyId: string,
  minute: number,
): UpdateQueryBuilder<Database, 'api_keys', 'api_keys', { rpm_count: number }> {
  return db
    .updateTable('api_keys')
    .set({
      rpm_count: sql<number>`CASE WHEN rpm_window = ${big(minute)} THEN rpm_count + 1 ELSE 1 END`,
      rpm_window: minute,
    })
    .where('id', '=', keyId)
    .where(sql<boolean>`(rpm IS NULL OR rpm_window <> ${big(minute)} OR rpm_count < rpm)`)
    .returning('rpm_count');
}

export async function takeRateSlot(db: Executor, keyId: string, minute: number): Promise<number | null> {
  const row = await rateSlotQuery(db, keyId, minute).executeTakeFirst();
  return row ? Number(row.rpm_count) : null;
}

/** Adds amount to the key's day, month and total counters, starting a new window when it rolled over. */
function windowIncrements(amount: RawBuilder<number>, day: string, month: string) {
  return {
    day_used: sql<number>`CASE WHEN day_window = ${day} THEN day_used + ${amount} ELSE ${amount} END`,
    day_window: day,
    month_used: sql<number>`CASE WHEN month_window = ${month} THEN month_used + ${amount} ELSE ${amount} END`,
    month_window: month,
    total_used: sql<number>`total_used + ${amount}`,
  };
}

/**
 * Adds cost to the key's windows only if the day and month limits still allow all of it: changes
 * no row otherwise (all or nothing, one statement).
 */
export function chargeKeyWindowsQuery(
  db: Executor,
  keyId: string,
  cost: number,
  day: string,
  month: string,
): UpdateQueryBuilder<Database, 'api_keys', 'api_keys', UpdateResult> {
  return db
    .updateTable('api_keys')
    .set(windowIncrements(big(cost), day, month))
    .where('id', '=', keyId)
    .where(
      sql<boolean>`(daily_credits IS NULL OR (CASE WHEN day_window = ${day} THEN day_used ELSE 0 END) + ${big(cost)} <= daily_credits)`,
    )
    .where(
      sql<boolean>`(monthly_credits IS NULL OR (CASE WHEN month_window = ${month} THEN month_used ELSE 0 END) + ${big(cost)} <= monthly_credits)`,
    )
    .where('total_used', '<=', big(MAX_COUNTER - cost));
}

/**
 * Deducts cost from a prepaid balance, never below zero (the condition is in the UPDATE). An
 * account without an enforced balance (credits NULL) still changes its row, so "no row changed"
 * means exactly "the balance is short". Returns the balance after (NULL: none enforced).
 */
export function debitQuery(
  db: Executor,
  address: string,
  cost: number,
): UpdateQueryBuilder<Database, 'accounts', 'accounts', { credits: number | null }> {
  return (
    db
      .updateTable('accounts')
      .set({
        credits: sql<number | null>`CASE WHEN credits IS NULL THEN NULL ELSE credits - ${big(cost)} END`,
        usage_total: sql<number>`usage_total + ${big(cost)}`,
      })
      .where('address', '=', address)
      .where((eb) => eb.or([eb('credits', 'is', null), eb('credits', '>=', cost)]))
      // An account without a balance could otherwise count past exactness (see MAX_COUNTER).
      .where('usage_total', '<=', big(MAX_COUNTER - cost))
      .returning('credits')
  );
}

export async function findUsageRecord(db: Executor, domainId: string, requestId: string): Promise<UsageRecordsTable | undefined> {
  return db
    .selectFrom('usage_records')
    .selectAll()
    .where('domain_id', '=', domainId)
    .where('request_id', '=', requestId)
    .executeTakeFirst();
}

/** SQLite spells the scalar two-or-more argument minimum MIN, PostgreSQL LEAST. */
function scalarFns(db: Executor): { least: RawBuilder<unknown>; greatest: RawBuilder<unknown> } {
  return isPostgres(db as Kysely<Database>)
    ? { least: sql.raw('LEAST'), greatest: sql.raw('GREATEST') }
    : { least: sql.raw('MIN'), greatest: sql.raw('MAX') };
}

export interface UsageReport {
  id: string;
  domainId: string;
  requestId: string;
  keyId: string;
  account: string;
  model: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cost: number;
  now: number;
  day: string;
  month: string;
}

/**
 * The statements of a usage report, to run as one batch. The chargeable amount is computed in SQL
 * from the rows as they are when the batch runs (cost, capped by the key's day and month room and
 * by the balance, never below zero), stored in the record, and then subtracted from the key and
 * the account by reading it back: no value travels from a read to a later write. A retried report
 * fails the unique (domain, request_id) insert, which undoes the batch. On PostgreSQL the key and
 * account rows are locked first, so concurrent reports compute from the latest balance. The last
 * step adds the record to its hour's usage roll-up (`usageRollupSteps`): a path that builds its
 * batch from these steps (one per record) keeps the summaries exact without adding it again.
 */
export function usageReportSteps(db: Executor, r: UsageReport): (Compilable | BatchStep)[] {
  const { least, greatest } = scalarFns(db);
  const cost = big(r.cost);
  const dayRoom = sql`(SELECT k.daily_credits - (CASE WHEN k.day_window = ${r.day} THEN k.day_used ELSE 0 END) FROM api_keys k WHERE k.id = ${r.keyId} AND k.daily_credits IS NOT NULL)`;
  const monthRoom = sql`(SELECT k.monthly_credits - (CASE WHEN k.month_window = ${r.month} THEN k.month_used ELSE 0 END) FROM api_keys k WHERE k.id = ${r.keyId} AND k.monthly_credits IS NOT NULL)`;
  const balance = sql`(SELECT a.credits FROM accounts a WHERE a.address = ${r.account})`;
  // The key's lifetime counter never passes MAX_COUNTER: what would is recorded as uncharged.
  const totalRoom = sql`(SELECT ${big(MAX_COUNTER)} - k.total_used FROM api_keys k WHERE k.id = ${r.keyId})`;
  const charged = sql<number>`${greatest}(0, ${least}(${cost}, COALESCE(${dayRoom}, ${cost}), COALESCE(${monthRoom}, ${cost}), COALESCE(${balance}, ${cost}), COALESCE(${totalRoom}, ${cost})))`;
  const stored = sql<number>`(SELECT u.charged FROM usage_records u WHERE u.domain_id = ${r.domainId} AND u.request_id = ${r.requestId})`;
  const steps: (Compilable | BatchStep)[] = [];
  if (isPostgres(db as Kysely<Database>)) {
    steps.push(db.selectFrom('api_keys').select('id').where('id', '=', r.keyId).forUpdate());
    steps.push(db.selectFrom('accounts').select('address').where('address', '=', r.account).forUpdate());
  }
  steps.push(
    db.insertInto('usage_records').values({
      id: r.id,
      domain_id: r.domainId,
      request_id: r.requestId,
      key_id: r.keyId,
      account: r.account,
      model: r.model,
      input_tokens: r.inputTokens,
      output_tokens: r.outputTokens,
      cost: r.cost,
      charged,
      uncharged: sql<number>`${cost} - ${charged}`,
      credits_after: sql<
        number | null
      >`(SELECT CASE WHEN a.credits IS NULL THEN NULL ELSE a.credits - ${charged} END FROM accounts a WHERE a.address = ${r.account})`,
      created_at: r.now,
    }),
    db
      .updateTable('api_keys')
      .set(windowIncrements(stored, r.day, r.month))
      .where('id', '=', r.keyId),
    // The only conditional step: a report that would take the account's
    // usage_total past MAX_COUNTER changes no row and undoes the whole batch (the caller refuses it).
    {
      query: db
        .updateTable('accounts')
        .set({
          credits: sql<number | null>`CASE WHEN credits IS NULL THEN NULL ELSE credits - ${stored} END`,
          usage_total: sql<number>`usage_total + ${cost}`,
        })
        .where('address', '=', r.account)
        .where('usage_total', '<=', big(MAX_COUNTER - r.cost)),
      mustChange: true,
    },
    // The hour's roll-up, in the same batch: summaries stay equal to the records.
    ...usageRollupSteps(db, { domainId: r.domainId, requestId: r.requestId, now: r.now }),
  );
  return steps;
}

export async function touchLastUsed(db: Kysely<Database>, entries: Map<string, number>): Promise<void> {
  for (const [id, at] of entries) {
    await db
      .updateTable('api_keys')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }
}

export async function listUsage(
  db: Kysely<Database>,
  f: { account: string; keyId?: string; requestId?: string; from?: number; to?: number; cursor?: string; limit: number },
): Promise<(UsageRecordsTable & { domain_name: string | null; domain_verified_at: number | null })[]> {
  let q = db
    .selectFrom('usage_records as u')
    .leftJoin('domains as d', 'd.id', 'u.domain_id')
    .selectAll('u')
    .select(['d.name as domain_name', 'd.verified_at as domain_verified_at'])
    .where('u.account', '=', f.account);
  if (f.keyId) q = q.where('u.key_id', '=', f.keyId);
  if (f.requestId) q = q.where('u.request_id', '=', f.requestId);
  if (f.from !== undefined) q = q.where('u.created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('u.created_at', '<', f.to);
  if (f.cursor) q = q.where('u.id', '<', f.cursor);
  return q.orderBy('u.id', 'desc').limit(f.limit).execute();
}

/**
 * Claims `n` request slots of the key's per-minute window in one conditional statement: changes no
 * row unless all n fit under the limit, so instances that claim blocks can never exceed it together.
 * Returns the window's count after the claim, or null when the block does not fit.
 */
export async function claimRateSlots(db: Executor, keyId: string, minute: number, n: number): Promise<number | null> {
  const row = await db
    .updateTable('api_keys')
    .set({
      rpm_count: sql<number>`CASE WHEN rpm_window = ${big(minute)} THEN rpm_count + ${big(n)} ELSE ${big(n)} END`,
      rpm_window: minute,
    })
    .where('id', '=', keyId)
    .where(sql<boolean>`(rpm IS NULL OR (CASE WHEN rpm_window = ${big(minute)} THEN rpm_count ELSE 0 END) + ${big(n)} <= rpm)`)
    .returning('rpm_count')
    .executeTakeFirst();
  return row ? Number(row.rpm_count) : null;
}
