// What causes webhook events, and how each lands in the outbox (webhook_events) exactly once.
import type { Compilable, Kysely } from 'kysely';
import { type ExpiringKeyRow, findKeyQuota, findKeyRef, listExpiringKeysPage } from '../db/repositories/keys.js';
import {
  insertCreditGrantQuery,
  insertCreditsLowEventStep,
  insertQuotaReachedEvent,
  insertWebhookEventQuery,
  listLowCreditAccounts,
} from '../db/repositories/webhooks.js';
import type { Database, KeyRow } from '../db/schema.js';
import type { Executor } from '../db/tx.js';
import { newId } from '../ids.js';
import { dayWindow, monthWindow } from './windows.js';
import type { WebhookEventType } from '../contract/webhooks.js';

export type { WebhookEventType };

/** Days before expires_at when key.expiring fires. */
export const EXPIRING_THRESHOLDS_DAYS = [7, 1] as const;
/** key.expired is sent for keys that expired at most this long ago (not for ancient ones on first run). */
const EXPIRED_LOOKBACK_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;

/*
 * A process-wide hint that events were just written, so the Node worker wakes at once and the
 * Workers entry hands a drain to waitUntil. Only a hint: the outbox itself is the truth, and the
 * poll interval (Node) or the Cron Trigger (Workers) picks up anything a lost hint would miss.
 */
const listeners = new Set<() => void>();
let raised = 0;
export const outboxHint = {
  raise(): void {
    raised++;
    for (const l of listeners) l();
  },
  /**
   * How many hints so far: a request compares it before and after (so concurrent requests in one
   * isolate cannot consume each other's hint; at worst one drains for both).
   */
  get count(): number {
    return raised;
  },
  subscribe(l: () => void): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};

export function eventBody(type: WebhookEventType, at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

interface OutboxRow {
  id?: string;
  account: string;
  type: WebhookEventType;
  data: Record<string, unknown>;
  at: Date;
  dedupeKey?: string;
  endpointId?: string;
}

/** The insert of one event, as a step of the batch that makes the change it reports. */
export function outboxInsertQuery(db: Executor, e: OutboxRow): Compilable {
  outboxHint.raise();
  return insertWebhookEventQuery(
    db,
    {
      id: e.id ?? newId('msg', e.at),
      account: e.account,
      type: e.type,
      payload: eventBody(e.type, e.at, e.data),
      dedupe_key: e.dedupeKey ?? null,
      endpoint_id: e.endpointId ?? null,
      created_at: e.at.getTime(),
      dispatched_at: null,
    },
    Boolean(e.dedupeKey),
  );
}

/** Records a credit grant (trial approval, admin top-up): account.credits_low measures against the last one above zero. */
export function creditGrantInsertQuery(db: Executor, account: string, amount: number, at: Date): Compilable {
  return insertCreditGrantQuery(db, { id: newId('grt', at), account, amount, created_at: at.getTime() });
}

/**
 * account.credits_low, as one statement to append to a batch that lowers the balance: inserts the
 * event only when the balance (as the earlier steps left it) is below 10% of the last grant and the
 * account has an endpoint; the grant id in the dedupe key makes it once per grant. The body is built
 * in SQL from values that need no JSON escaping (an address, integers).
 */
export function creditsLowStep(db: Executor, account: string, at: Date): Compilable {
  outboxHint.raise();
  const head = `{"type":"account.credits_low","timestamp":"${at.toISOString()}","data":{"account":"`;
  return insertCreditsLowEventStep(db, { id: newId('msg', at), account, payloadHead: head, at: at.getTime() });
}

export const keyRef = (k: Pick<KeyRow, 'id' | 'name' | 'hint'>): { id: string; name: string; hint: string } => ({
  id: k.id,
  name: k.name,
  hint: k.hint,
});

/** Steps for a trial decision (append to the decision's batch). */
export function trialDecisionEventQuery(
  db: Executor,
  app: { id: string; address: string },
  decision: { status: 'approved'; credits: number } | { status: 'rejected'; reason: string },
  at: Date,
): Compilable {
  const data =
    decision.status === 'approved'
      ? { application_id: app.id, account: app.address, status: 'approved', credits_granted: decision.credits }
      : { application_id: app.id, account: app.address, status: 'rejected', reason: decision.reason };
  return outboxInsertQuery(db, {
    account: app.address,
    type: decision.status === 'approved' ? 'trial.approved' : 'trial.rejected',
    data,
    at,
  });
}

// Dedupe keys already written by this process: a caller hammering a spent key costs no write.
const seenQuota = new Set<string>();
const SEEN_MAX = 10_000;

/** What verification knows when a limit refuses: the key's limits (cached) and its windows (read fresh). */
type QuotaKey = Pick<
  KeyRow,
  'id' | 'account' | 'daily_credits' | 'monthly_credits' | 'day_window' | 'day_used' | 'month_window' | 'month_used'
>;

/**
 * key.quota_reached: a daily or monthly credit limit refused a charge. A refusal writes nothing
 * else, so this is its own statement, once per key and window by its dedupe key (INSERT ... ON
 * CONFLICT DO NOTHING), and only when the account has an endpoint. Never throws: a verification
 * must not fail because a notice could not be written.
 */
export async function noteQuotaRefused(db: Kysely<Database>, key: QuotaKey, cost: number, nowDate: Date): Promise<void> {
  try {
    const now = nowDate.getTime();
    const day = dayWindow(now);
    const month = monthWindow(now);
    const dayUsed = key.day_window === day ? Number(key.day_used) : 0;
    const monthUsed = key.month_window === month ? Number(key.month_used) : 0;
    const daily = key.daily_credits !== null && dayUsed + cost > Number(key.daily_credits);
    const period = daily ? 'daily' : 'monthly';
    const window = daily ? day : month;
    const dedupeKey = `key.quota_reached:${key.id}:${period}:${window}`;
    if (seenQuota.has(dedupeKey)) return;
    // Name and hint are not on verification's cached record: read them on this rare path only.
    const names = await findKeyRef(db, key.id);
    if (!names) return;
    const data = {
      key: keyRef(names),
      account: key.account,
      limit: period,
      window,
      limit_credits: Number(daily ? key.daily_credits : key.monthly_credits),
      used: daily ? dayUsed : monthUsed,
      refused_cost: cost,
    };
    await insertQuotaReachedEvent(db, {
      id: newId('msg', nowDate),
      account: key.account,
      payload: eventBody('key.quota_reached', nowDate, data),
      dedupeKey,
      at: now,
    });
    outboxHint.raise();
    if (seenQuota.size >= SEEN_MAX) seenQuota.clear();
    seenQuota.add(dedupeKey);
  } catch {
    // best effort; the next refusal tries again
  }
}

/**
 * After a usage report: if it left a key limit exhausted with part of the cost uncharged, that
 * limit refused a charge. Reads the key as the report left it.
 */
export async function noteUsageShortfall(db: Kysely<Database>, keyId: string, uncharged: number, nowDate: Date): Promise<void> {
  if (uncharged <= 0) return;
  const key = await findKeyQuota(db, keyId).catch(() => undefined);
  if (!key) return;
  const now = nowDate.getTime();
  const dayFull = key.daily_credits !== null && key.day_window === dayWindow(now) && Number(key.day_used) >= Number(key.daily_credits);
  const monthFull =
    key.monthly_credits !== null && key.month_window === monthWindow(now) && Number(key.month_used) >= Number(key.monthly_credits);
  // Only a limit, not the balance, makes this a key quota event (the balance has account.credits_low).
  if (dayFull || monthFull) await noteQuotaRefused(db, key, dayFull ? 1 : uncharged + 1, nowDate);
}

/**
 * The time-based scheduler: key.expiring at 7 and 1 days before expires_at, and key.expired. Scans
 * only keys that expire within the next 7 days (or did in the last 7) of accounts with an endpoint;
 * idempotent by a dedupe key per key, threshold and expires_at, so any number of runs, on any
 * number of instances, send each notice once. A key already past the 7-day mark when first seen
 * gets only the nearest notice (1-day, or expired), not a stale 7-day one.
 */
export async function scheduleExpiryEvents(db: Kysely<Database>, nowDate: Date): Promise<number> {
  const now = nowDate.getTime();
  const horizon = now + EXPIRING_THRESHOLDS_DAYS[0] * DAY_MS;
  const keys: ExpiringKeyRow[] = [];
  const PAGE = 500;
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page = await listExpiringKeysPage(db, { until: horizon, after: now - EXPIRED_LOOKBACK_MS, cursor, limit: PAGE });
    keys.push(...page);
    cursor = page.length === PAGE ? page[page.length - 1].id : null;
  }
  let written = 0;
  for (const k of keys) {
    const expiresAt = Number(k.expires_at);
    let type: WebhookEventType;
    let threshold: string;
    let daysBefore: number | null = null;
    if (expiresAt <= now) {
      type = 'key.expired';
      threshold = 'expired';
    } else {
      // The smallest threshold already reached: 1 day if within a day, else 7 days.
      const reached = [...EXPIRING_THRESHOLDS_DAYS].sort((a, b) => a - b).find((d) => expiresAt - d * DAY_MS <= now);
      if (reached === undefined) continue;
      type = 'key.expiring';
      threshold = `${reached}d`;
      daysBefore = reached;
    }
    const data: Record<string, unknown> = {
      key: keyRef(k),
      account: k.account,
      expires_at: new Date(expiresAt).toISOString(),
      status: k.status,
    };
    if (daysBefore !== null) data.days_before = daysBefore;
    const r = await outboxInsertQuery(db, {
      account: k.account,
      type,
      data,
      at: nowDate,
      dedupeKey: `${type}:${k.id}:${threshold}:${expiresAt}`,
    }).compile();
    const res = await db.executeQuery(r);
    written += Number(res.numAffectedRows ?? 0n);
  }
  return written + (await scheduleCreditsLow(db, nowDate));
}

/**
 * account.credits_low for balances lowered outside a batch that carries the check (charges made
 * by /v1/verify, whose hot path stays free of it): accounts with an endpoint whose balance is below
 * 10% of their last grant. The same dedupe key as the in-batch check, so each grant notifies once.
 */
export async function scheduleCreditsLow(db: Kysely<Database>, nowDate: Date): Promise<number> {
  const low = await listLowCreditAccounts(db);
  let written = 0;
  for (const a of low) {
    const res = await db.executeQuery(creditsLowStep(db, a.address, nowDate).compile());
    written += Number(res.numAffectedRows ?? 0n);
  }
  return written;
}
