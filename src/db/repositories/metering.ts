import type { UpdateQueryBuilder, UpdateResult } from 'kysely';
import { sql, type Compilable, type Kysely, type RawBuilder } from 'kysely';
import type { Database, UsageRecordRow } from '../schema.js';
import { preparedStatement } from '../hot-queries.js';
import { isPostgres, type BatchStep, type Executor } from '../tx.js';
import { hourOf } from './analytics.js';

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

/** What the charging statements bind: the report, and the highest usage_total it may start from. */
type UsageReportParams = UsageReport & { usageTotalCap: number };

/**
 * The statements of a usage report, to run in one batch. The chargeable amount is computed in SQL
 * from the rows as they are when the batch runs (cost, capped by the key's day and month room and
 * by the balance, never below zero), stored in the record, and then subtracted from the key and
 * the account by reading it back: no value travels from a read to a later write, so several reports
 * of one key or account in one batch charge exactly as the same reports one batch each, in order.
 * A retried report fails the unique (domain, request_id) insert, which undoes the batch. The caller
 * locks the key and account rows first on PostgreSQL (`usageLockSteps`), adds the records to their
 * roll-ups after the last one (`usageRollupBatchSteps`), so summaries stay equal to the records, and
 * reads the stored records back at the end (`usageReadBackSteps`): an INSERT ... RETURNING costs
 * SQLite more than the insert itself.
 *
 * Compiled once per database and bound per report (`preparedStatement`): building the three
 * statements with kysely for every record cost more than running them (bench/micro-usage.ts).
 */
export function usageReportSteps(db: Kysely<Database>, r: UsageReport): (Compilable | BatchStep)[] {
  const p: UsageReportParams = { ...r, usageTotalCap: MAX_COUNTER - r.cost };
  return [
    { compile: () => usageInsert(db, p) },
    { compile: () => usageKeyWindows(db, p) },
    // The only conditional step: a report that would take the account's
    // usage_total past MAX_COUNTER changes no row and undoes the whole batch (the caller refuses it).
    { query: { compile: () => usageAccountDebit(db, p) }, mustChange: true },
  ];
}

/** The stored charge of the report, read from its record (inserted earlier in the same batch). */
const storedCharge = (r: UsageReportParams): RawBuilder<number> =>
  sql<number>`(SELECT u.charged FROM usage_records u WHERE u.domain_id = ${r.domainId} AND u.request_id = ${r.requestId})`;

const usageInsert = preparedStatement((db: Kysely<Database>, r: UsageReportParams) => {
  const { least, greatest } = scalarFns(db);
  const cost = big(r.cost);
  const dayRoom = sql`(SELECT k.daily_credits - (CASE WHEN k.day_window = ${r.day} THEN k.day_used ELSE 0 END) FROM api_keys k WHERE k.id = ${r.keyId} AND k.daily_credits IS NOT NULL)`;
  const monthRoom = sql`(SELECT k.monthly_credits - (CASE WHEN k.month_window = ${r.month} THEN k.month_used ELSE 0 END) FROM api_keys k WHERE k.id = ${r.keyId} AND k.monthly_credits IS NOT NULL)`;
  const balance = sql`(SELECT a.credits FROM accounts a WHERE a.address = ${r.account})`;
  // The key's lifetime counter never passes MAX_COUNTER: what would is recorded as uncharged.
  const totalRoom = sql`(SELECT ${big(MAX_COUNTER)} - k.total_used FROM api_keys k WHERE k.id = ${r.keyId})`;
  const charged = sql<number>`${greatest}(0, ${least}(${cost}, COALESCE(${dayRoom}, ${cost}), COALESCE(${monthRoom}, ${cost}), COALESCE(${balance}, ${cost}), COALESCE(${totalRoom}, ${cost})))`;
  return db.insertInto('usage_records').values({
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
  });
});

const usageKeyWindows = preparedStatement((db: Kysely<Database>, r: UsageReportParams) =>
  db
    .updateTable('api_keys')
    .set(windowIncrements(storedCharge(r), r.day, r.month))
    .where('id', '=', r.keyId),
);

const usageAccountDebit = preparedStatement((db: Kysely<Database>, r: UsageReportParams) =>
  db
    .updateTable('accounts')
    .set({
      credits: sql<number | null>`CASE WHEN credits IS NULL THEN NULL ELSE credits - ${storedCharge(r)} END`,
      usage_total: sql<number>`usage_total + ${big(r.cost)}`,
    })
    .where('address', '=', r.account)
    .where('usage_total', '<=', big(r.usageTotalCap)),
);

/** A usage record as a report's answer needs it. */
export type StoredCharge = Pick<UsageRecordRow, 'id' | 'request_id' | 'charged' | 'uncharged' | 'credits_after'>;

/**
 * Reads back the records a batch just inserted (its last steps): one indexed SELECT per chunk of
 * request ids. Each step's rows are StoredCharge.
 */
export function usageReadBackSteps(db: Executor, domainId: string, requestIds: readonly string[]): Compilable[] {
  return chunks(requestIds).map((ids) =>
    db
      .selectFrom('usage_records')
      .select(['id', 'request_id', 'charged', 'uncharged', 'credits_after'])
      .where('domain_id', '=', domainId)
      .where('request_id', 'in', ids),
  );
}

/**
 * PostgreSQL: locks the keys' and then the accounts' rows, each in id order, before a batch of usage
 * reports computes from them, so concurrent batches (and single reports, which lock one key then its
 * account) queue behind each other instead of deadlocking. SQLite and D1 serialise writers anyway.
 */
export function usageLockSteps(db: Executor, keyIds: readonly string[], accounts: readonly string[]): Compilable[] {
  if (!isPostgres(db as Kysely<Database>)) return [];
  return [
    db
      .selectFrom('api_keys')
      .select('id')
      .where('id', 'in', [...keyIds].sort())
      .orderBy('id')
      .forUpdate(),
    db
      .selectFrom('accounts')
      .select('address')
      .where('address', 'in', [...accounts].sort())
      .orderBy('address')
      .forUpdate(),
  ];
}

/** D1 binds at most 100 parameters per statement: IN lists go in chunks of this many. */
const IN_CHUNK = 50;

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += IN_CHUNK) out.push(xs.slice(i, i + IN_CHUNK));
  return out;
}

/**
 * The hour's usage roll-ups of records just inserted in the same batch (all at time `now`), added
 * as one grouped INSERT per chunk: one row per (account, key, model, domain), not one statement per
 * record. Run after the records' inserts; a retried report fails its insert and undoes this too.
 */
export function usageRollupBatchSteps(db: Executor, r: { domainId: string; requestIds: readonly string[]; now: number }): Compilable[] {
  return chunks(r.requestIds).map((ids) =>
    db
      .insertInto('usage_rollups')
      .columns([
        'account',
        'hour',
        'key_id',
        'model',
        'domain_id',
        'requests',
        'input_tokens',
        'output_tokens',
        'cost',
        'charged',
        'uncharged',
      ])
      .expression(
        db
          .selectFrom('usage_records as u')
          .select([
            'u.account',
            sql<number>`CAST(${hourOf(r.now)} AS BIGINT)`.as('hour'),
            'u.key_id',
            sql<string>`COALESCE(u.model, '')`.as('model'),
            'u.domain_id',
            sql<number>`COUNT(*)`.as('requests'),
            sql<number>`SUM(COALESCE(u.input_tokens, 0))`.as('input_tokens'),
            sql<number>`SUM(COALESCE(u.output_tokens, 0))`.as('output_tokens'),
            sql<number>`SUM(u.cost)`.as('cost'),
            sql<number>`SUM(u.charged)`.as('charged'),
            sql<number>`SUM(u.uncharged)`.as('uncharged'),
          ])
          .where('u.domain_id', '=', r.domainId)
          .where('u.request_id', 'in', ids)
          .groupBy(['u.account', 'u.key_id', sql`COALESCE(u.model, '')`, 'u.domain_id']),
      )
      .onConflict((oc) =>
        oc.columns(['account', 'hour', 'key_id', 'model', 'domain_id']).doUpdateSet({
          requests: sql<number>`usage_rollups.requests + excluded.requests`,
          input_tokens: sql<number>`usage_rollups.input_tokens + excluded.input_tokens`,
          output_tokens: sql<number>`usage_rollups.output_tokens + excluded.output_tokens`,
          cost: sql<number>`usage_rollups.cost + excluded.cost`,
          charged: sql<number>`usage_rollups.charged + excluded.charged`,
          uncharged: sql<number>`usage_rollups.uncharged + excluded.uncharged`,
        }),
      ),
  );
}

/** The usage records of these request ids that the domain already stored, by request id (the read-back's query). */
export async function findUsageRecords(
  db: Kysely<Database>,
  domainId: string,
  requestIds: readonly string[],
): Promise<Map<string, StoredCharge>> {
  const found = new Map<string, StoredCharge>();
  for (const q of usageReadBackSteps(db, domainId, requestIds)) {
    for (const row of (await db.executeQuery(q.compile())).rows as StoredCharge[]) found.set(row.request_id, row);
  }
  return found;
}

/** What deciding whether a domain may report usage for a key needs (a live key, else its tombstone). */
export interface UsageKeyFacts {
  id: string;
  account: string;
  type: 'developer' | 'network';
  /** The owner's plan; undefined when a deleted key's account is gone too. */
  plan: 'developer' | 'network' | undefined;
  live: boolean;
  /** When this domain last verified the key (null: never). */
  verifiedAt: number | null;
}

/** The facts of these keys, live ones first and tombstones for the rest, read once per batch. */
export async function usageKeyFacts(
  db: Kysely<Database>,
  domainId: string,
  keyIds: readonly string[],
): Promise<Map<string, UsageKeyFacts>> {
  const facts = new Map<string, UsageKeyFacts>();
  const put = (
    live: boolean,
    rows: { id: string; account: string; type: 'developer' | 'network'; plan: 'developer' | 'network' | null; verified: number | null }[],
  ): void => {
    for (const r of rows)
      facts.set(r.id, {
        id: r.id,
        account: r.account,
        type: r.type,
        plan: r.plan ?? undefined,
        live,
        verifiedAt: r.verified === null ? null : Number(r.verified),
      });
  };
  for (const ids of chunks(keyIds)) {
    put(
      true,
      await db
        .selectFrom('api_keys as k')
        .innerJoin('accounts as a', 'a.address', 'k.account')
        .leftJoin('domain_keys as dk', (j) => j.onRef('dk.key_id', '=', 'k.id').on('dk.domain_id', '=', domainId))
        .select(['k.id', 'k.account', 'k.type', 'a.plan', 'dk.last_verified_at as verified'])
        .where('k.id', 'in', ids)
        .execute(),
    );
    const missing = ids.filter((id) => !facts.has(id));
    if (!missing.length) continue;
    // A key deleted after its request still bills its account (its tombstone remembers which).
    put(
      false,
      await db
        .selectFrom('deleted_keys as t')
        .leftJoin('accounts as a', 'a.address', 't.account')
        .leftJoin('domain_keys as dk', (j) => j.onRef('dk.key_id', '=', 't.id').on('dk.domain_id', '=', domainId))
        .select(['t.id', 't.account', 't.type', 'a.plan', 'dk.last_verified_at as verified'])
        .where('t.id', 'in', missing)
        .execute(),
    );
  }
  return facts;
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
): Promise<(UsageRecordRow & { domain_name: string | null; domain_verified_at: number | null })[]> {
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
