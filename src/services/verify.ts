import type { Kysely } from 'kysely';
import { markVerifiedByDomain } from '../db/repositories/keys.js';
import { findKeyBalance, findVerifyKey, type KeyBalanceRow, type VerifyKeyRow } from '../db/repositories/verify-records.js';
import { MAX_COUNTER, chargeKeyWindowsQuery, debitQuery, rateSlotQuery, takeRateSlot } from '../db/repositories/metering.js';
import type { Database, DomainRow } from '../db/schema.js';
import { BatchConditionFailed, inBatch, type BatchStep } from '../db/tx.js';
import { iso } from './accounts.js';
import { hashSecret, parseSecret } from './key-format.js';
import { KEY_NOT_FOUND, checkKeyOnDomain } from './key-policy.js';
import type { LastUsedTracker } from './last-used.js';
import type { KeyRecord, RecordCache } from './record-cache.js';
import type { RpmBlocks } from './rpm-blocks.js';
import { dayWindow, minuteWindow, monthWindow } from './windows.js';
import { noteQuotaRefused } from './webhook-events.js';

import type { VerifyCode } from '../contract/verify-codes.js';

const DOMAIN_KEY_REFRESH_MS = 60 * 60_000;

const COUNTER_FULL_MESSAGE = `The usage counter cannot pass ${Number.MAX_SAFE_INTEGER} credits, so this charge is refused.`;

export interface RateLimitInfo {
  limit: number | null;
  remaining: number | null;
  /** Seconds until the window resets. */
  reset: number;
}

export type VerifyResult =
  | {
      valid: true;
      code: 'valid';
      key_id: string;
      account: string;
      type: 'developer' | 'network';
      scopes: string[];
      models: string[] | null;
      expires_at: string | null;
      credits_remaining: number | null;
      charged: number;
      ratelimit: RateLimitInfo;
    }
  | { valid: false; code: Exclude<VerifyCode, 'valid'>; message: string; key_id?: string; ratelimit?: RateLimitInfo };

export interface VerifyInput {
  key: string;
  scope?: string;
  model?: string;
  cost?: number;
}

export interface VerifyDeps {
  db: Kysely<Database>;
  keyPrefix: string;
  lastUsed: LastUsedTracker;
  /** Node: the slow-changing key fields from memory (absent on Workers: every call reads the row). */
  records?: RecordCache;
  /** Node: rpm slots claimed in blocks (absent on Workers: one conditional UPDATE per call). */
  rpm?: RpmBlocks;
}

const refuse = (
  code: Exclude<VerifyCode, 'valid'>,
  message: string,
  extra: { key_id?: string; ratelimit?: RateLimitInfo } = {},
): VerifyResult => ({
  valid: false,
  code,
  message,
  ...extra,
});

function rateInfo(rpm: number | null, used: number, now: number): RateLimitInfo {
  const reset = Math.max(1, Math.ceil(((minuteWindow(now) + 1) * 60_000 - now) / 1000));
  if (rpm === null) return { limit: null, remaining: null, reset };
  return { limit: rpm, remaining: Math.max(0, rpm - used), reset };
}

/** Webhooks: key.quota_reached, from the key's limits and its windows as read (quota refusals only). */
function noteQuota(deps: VerifyDeps, key: KeyRecord, windows: KeyBalanceRow, cost: number, nowDate: Date): Promise<void> {
  const { id, account, daily_credits, monthly_credits } = key;
  return noteQuotaRefused(deps.db, { ...windows, id, account, daily_credits, monthly_credits }, cost, nowDate);
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

/** The slow-changing fields of a key row, as the record cache keeps them. */
export function keyRecord(row: VerifyKeyRow, hash: string): KeyRecord {
  const record: KeyRecord = {
    id: row.id,
    account: row.account,
    type: row.type,
    status: row.status,
    scopes: JSON.parse(row.scopes) as string[],
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rpm: num(row.rpm),
    daily_credits: num(row.daily_credits),
    monthly_credits: num(row.monthly_credits),
    expires_at: num(row.expires_at),
    plan: row.plan,
    creditsEnforced: row.credits !== null,
    // Found by the previous secret of a rotation: it verifies until the grace period ends.
    prevUntil: row.hash === hash ? null : num(row.prev_expires_at),
    verifiedBy: new Map(),
  };
  return record;
}

/**
 * The hot path, and the one decision function every entry calls (the Hono route and the Node and
 * Workers fast paths, through runVerification in src/services/verification.ts): shape and checksum
 * (no I/O), the key's record (memory on Node, one indexed read otherwise), the contract's checks in
 * order, and database work only when the answer depends on fast-changing state (balance, windows,
 * rpm slots).
 */
export async function verifyKey(
  deps: VerifyDeps,
  domain: Pick<DomainRow, 'id' | 'visibility'>,
  input: VerifyInput,
  nowDate: Date,
): Promise<VerifyResult> {
  const now = nowDate.getTime();
  const parsed = parseSecret(input.key);
  if (!parsed || parsed.kind === 'dom' || parsed.prefix !== deps.keyPrefix) {
    return refuse('malformed', 'The API key is malformed or mistyped.');
  }
  const hash = hashSecret(input.key);
  let key = deps.records?.getKey(hash);
  // The row, when this call read it: its windows and balance are fresh and need no second read.
  let row: VerifyKeyRow | undefined;
  if (key === undefined) {
    const gen = deps.records?.gen ?? 0;
    row = await findVerifyKey(deps.db, hash, now, domain.id);
    key = row ? keyRecord(row, hash) : null;
    deps.records?.putKey(hash, key, gen);
  }
  // The one key policy (liveness, type rule, scope, model) in the contract's refusal order.
  const verdict = checkKeyOnDomain(key, domain.visibility, input, now);
  if (!key || !verdict.ok) {
    if (verdict.ok) return refuse('not_found', KEY_NOT_FOUND);
    return refuse(verdict.code, verdict.message, key && verdict.code !== 'not_found' ? { key_id: key.id } : {});
  }
  const id = { key_id: key.id };
  const scopes = key.scopes;
  const models = key.models;

  const cost = input.cost ?? 0;
  const minute = minuteWindow(now);
  const rpm = key.rpm;

  // Fast-changing state is never taken from memory: read it when an answer depends on it.
  let state: KeyBalanceRow | undefined = row;
  if (!state && (key.daily_credits !== null || key.monthly_credits !== null || key.creditsEnforced)) {
    state = await findKeyBalance(deps.db, key.id);
    if (!state) return refuse('not_found', KEY_NOT_FOUND);
  }
  let credits = state ? num(state.credits) : null;
  // Calendar windows (string formatting) only when a limit, a balance or a charge needs them.
  const day = state || cost > 0 ? dayWindow(now) : '';
  const month = state || cost > 0 ? monthWindow(now) : '';
  let rpmUsed = row && row.rpm_window === minute ? Number(row.rpm_count) : 0;

  // Refuse from the snapshot first: an over-limit caller costs no write.
  const dayUsed = state && state.day_window === day ? Number(state.day_used) : 0;
  const monthUsed = state && state.month_window === month ? Number(state.month_used) : 0;
  const rateLimited = (): VerifyResult =>
    refuse('rate_limited', `The API key allows ${rpm} requests per minute.`, { ...id, ratelimit: rateInfo(rpm, Number(rpm), now) });
  if (rpm !== null && (deps.rpm ? deps.rpm.isFull(key.id, rpm, minute) : rpmUsed >= rpm)) return rateLimited();
  const quotaMessage = 'The API key has reached its credit limit for this period.';
  if (
    (key.daily_credits !== null && dayUsed + cost > key.daily_credits) ||
    (key.monthly_credits !== null && monthUsed + cost > key.monthly_credits)
  ) {
    // Webhooks: key.quota_reached, once per key and window (state is read whenever a key has a limit).
    if (state) await noteQuota(deps, key, state, cost, nowDate);
    return refuse('api_key_quota_exceeded', quotaMessage, id);
  }
  // Counters stop at MAX_COUNTER (exact as JSON); the charging UPDATEs enforce it under races too,
  // and refuse in the contract's order (the key's bound before the account's balance).
  if (cost > 0 && state && Number(state.total_used) > MAX_COUNTER - cost) return refuse('api_key_quota_exceeded', COUNTER_FULL_MESSAGE, id);
  const shortfallMessage = "The account's credits cannot cover this request.";
  if (credits !== null && credits < cost) return refuse('billing_shortfall', shortfallMessage, id);

  if (rpm !== null && cost === 0) {
    // One conditional statement (or a slot of a block claimed by one) is atomic on its own.
    const slot = deps.rpm ? await deps.rpm.take(key.id, rpm, minute) : await takeRateSlot(deps.db, key.id, minute);
    if (slot === null) return rateLimited();
    rpmUsed = slot;
  } else if (cost > 0) {
    // The snapshot can be stale under concurrency: each step is a conditional UPDATE that changes
    // no row when it refuses, and the batch (a transaction, or a D1 batch) undoes every step when
    // one refuses, so 50 parallel charges never overspend and a refusal leaves no trace.
    const steps: BatchStep[] = [];
    const refusals: ('rate_limited' | 'api_key_quota_exceeded' | 'billing_shortfall')[] = [];
    let heldSlot = false;
    if (rpm !== null && deps.rpm) {
      // A slot from the block first; handed back below if the charge is refused.
      const slot = await deps.rpm.take(key.id, rpm, minute);
      if (slot === null) return rateLimited();
      rpmUsed = slot;
      heldSlot = true;
    } else if (rpm !== null) {
      steps.push({ query: rateSlotQuery(deps.db, key.id, minute), mustChange: true });
      refusals.push('rate_limited');
    }
    // Both UPDATEs also stop the key's and the account's lifetime counters at MAX_COUNTER (exact as JSON).
    steps.push({ query: chargeKeyWindowsQuery(deps.db, key.id, cost, day, month), mustChange: true });
    refusals.push('api_key_quota_exceeded');
    steps.push({ query: debitQuery(deps.db, key.account, cost), mustChange: true });
    refusals.push('billing_shortfall');
    try {
      const results = await inBatch(deps.db, steps);
      if (rpm !== null && !heldSlot) rpmUsed = Number((results[0].rows[0] as { rpm_count: number }).rpm_count);
      const after = (results[results.length - 1].rows[0] as { credits: number | null }).credits;
      credits = after === null ? null : Number(after);
    } catch (err) {
      if (heldSlot) deps.rpm?.giveBack(key.id, rpm as number, minute);
      if (!(err instanceof BatchConditionFailed)) throw err;
      const code = refusals[err.index];
      if (code === 'rate_limited') return rateLimited();
      if (code === 'api_key_quota_exceeded') {
        // A concurrent charge took the room the snapshot showed: note it from the windows as they are now.
        const fresh = await findKeyBalance(deps.db, key.id);
        if (fresh) await noteQuota(deps, key, fresh, cost, nowDate);
      }
      return refuse(code, code === 'billing_shortfall' ? shortfallMessage : quotaMessage, id);
    }
  }

  // Usage reports are accepted only from domains that verified the key: one write per pair per hour
  // (per instance: the record remembers when this instance last wrote it).
  const verifiedAt = row ? num(row.domain_verified_at) : (key.verifiedBy.get(domain.id) ?? null);
  if (verifiedAt === null || now - verifiedAt > DOMAIN_KEY_REFRESH_MS) {
    await markVerifiedByDomain(deps.db, domain.id, key.id, now);
    key.verifiedBy.set(domain.id, now);
  } else if (row) {
    key.verifiedBy.set(domain.id, verifiedAt);
  }
  void deps.lastUsed.touch(key.id, now)?.catch(() => undefined);
  return {
    valid: true,
    code: 'valid',
    key_id: key.id,
    account: key.account,
    type: key.type,
    scopes,
    models,
    expires_at: iso(key.expires_at),
    credits_remaining: credits,
    charged: cost,
    ratelimit: rateInfo(rpm, rpmUsed, now),
  };
}
