import { sql, type Kysely } from 'kysely';
import type { Database, UsageRecordsTable } from '../schema.js';
import { needsRowLocks } from '../tx.js';

const big = (n: number) => sql<number>`CAST(${n} AS BIGINT)`;

/**
 * Takes one request from the key's per-minute window, in one conditional statement; null when
 * the window is full. Returns the count in the window after this request.
 */
export async function takeRateSlot(db: Kysely<Database>, keyId: string, minute: number): Promise<number | null> {
  const row = await db
    .updateTable('api_keys')
    .set({
      rpm_count: sql<number>`CASE WHEN rpm_window = ${big(minute)} THEN rpm_count + 1 ELSE 1 END`,
      rpm_window: minute,
    })
    .where('id', '=', keyId)
    .where(sql<boolean>`(rpm IS NULL OR rpm_window <> ${big(minute)} OR rpm_count < rpm)`)
    .returning('rpm_count')
    .executeTakeFirst();
  return row ? Number(row.rpm_count) : null;
}

/** Adds amount to the key's day, month and total counters, starting a new window when it rolled over. */
function windowIncrements(amount: number, day: string, month: string) {
  return {
    day_used: sql<number>`CASE WHEN day_window = ${day} THEN day_used + ${big(amount)} ELSE ${big(amount)} END`,
    day_window: day,
    month_used: sql<number>`CASE WHEN month_window = ${month} THEN month_used + ${big(amount)} ELSE ${big(amount)} END`,
    month_window: month,
    total_used: sql<number>`total_used + ${big(amount)}`,
  };
}

/**
 * Adds cost to the key's day, month and total counters, only if the day and month limits still
 * allow all of it (all or nothing, one statement, rolling windows over by the given UTC keys).
 */
export async function chargeKeyWindows(db: Kysely<Database>, keyId: string, cost: number, day: string, month: string): Promise<boolean> {
  const res = await db
    .updateTable('api_keys')
    .set(windowIncrements(cost, day, month))
    .where('id', '=', keyId)
    .where(sql<boolean>`(daily_credits IS NULL OR (CASE WHEN day_window = ${day} THEN day_used ELSE 0 END) + ${big(cost)} <= daily_credits)`)
    .where(sql<boolean>`(monthly_credits IS NULL OR (CASE WHEN month_window = ${month} THEN month_used ELSE 0 END) + ${big(cost)} <= monthly_credits)`)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/**
 * Deducts cost from a prepaid balance, never below zero (the condition is in the UPDATE).
 * Returns the balance after, null when the account has no enforced balance, false when short.
 */
export async function debitAccount(db: Kysely<Database>, address: string, cost: number): Promise<number | null | false> {
  const row = await db
    .updateTable('accounts')
    .set({ credits: sql<number>`credits - ${big(cost)}` })
    .where('address', '=', address)
    .where('credits', 'is not', null)
    .where('credits', '>=', cost)
    .returning('credits')
    .executeTakeFirst();
  if (row) return Number(row.credits);
  const acc = await db.selectFrom('accounts').select('credits').where('address', '=', address).executeTakeFirst();
  return acc && acc.credits === null ? null : false;
}

export async function findUsageRecord(db: Kysely<Database>, domainId: string, requestId: string): Promise<UsageRecordsTable | undefined> {
  return db.selectFrom('usage_records').selectAll().where('domain_id', '=', domainId).where('request_id', '=', requestId).executeTakeFirst();
}

export async function insertUsageRecord(db: Kysely<Database>, row: UsageRecordsTable): Promise<void> {
  await db.insertInto('usage_records').values(row).execute();
}

/** Reads the rows a partial charge is computed from, locked on PostgreSQL until the transaction ends. */
export async function lockForCharge(
  db: Kysely<Database>,
  keyId: string | null,
  address: string,
): Promise<{
  key: { daily_credits: number | null; monthly_credits: number | null; day_window: string; day_used: number; month_window: string; month_used: number } | undefined;
  credits: number | null | undefined;
}> {
  const lock = needsRowLocks(db);
  const key = keyId
    ? await db
        .selectFrom('api_keys')
        .select(['daily_credits', 'monthly_credits', 'day_window', 'day_used', 'month_window', 'month_used'])
        .where('id', '=', keyId)
        .$if(lock, (q) => q.forUpdate())
        .executeTakeFirst()
    : undefined;
  const acc = await db
    .selectFrom('accounts')
    .select('credits')
    .where('address', '=', address)
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
  return { key, credits: acc ? acc.credits : undefined };
}

export async function addKeyUsage(db: Kysely<Database>, keyId: string, amount: number, day: string, month: string): Promise<void> {
  await db.updateTable('api_keys').set(windowIncrements(amount, day, month)).where('id', '=', keyId).execute();
}

export async function setAccountCredits(db: Kysely<Database>, address: string, credits: number): Promise<void> {
  await db.updateTable('accounts').set({ credits }).where('address', '=', address).execute();
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
): Promise<(UsageRecordsTable & { domain_name: string | null })[]> {
  let q = db
    .selectFrom('usage_records as u')
    .leftJoin('domains as d', 'd.id', 'u.domain_id')
    .selectAll('u')
    .select('d.name as domain_name')
    .where('u.account', '=', f.account);
  if (f.keyId) q = q.where('u.key_id', '=', f.keyId);
  if (f.requestId) q = q.where('u.request_id', '=', f.requestId);
  if (f.from !== undefined) q = q.where('u.created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('u.created_at', '<', f.to);
  if (f.cursor) q = q.where('u.id', '<', f.cursor);
  return q.orderBy('u.id', 'desc').limit(f.limit).execute();
}
