import type { Kysely } from 'kysely';
import { findKeyBySecretHash, markVerifiedByDomain, type KeyWithAccount } from '../db/repositories/keys.js';
import { MAX_COUNTER, chargeKeyWindowsQuery, debitQuery, rateSlotQuery, takeRateSlot } from '../db/repositories/metering.js';
import type { Database, DomainsTable } from '../db/schema.js';
import { BatchConditionFailed, inBatch, type BatchStep } from '../db/tx.js';
import { iso } from './accounts.js';
import { hashSecret, parseSecret } from './key-format.js';
import type { LastUsedTracker } from './last-used.js';
import { dayWindow, minuteWindow, monthWindow } from './windows.js';

// The answer codes are part of the operator client's contract; one definition serves both.
export type { VerifyCode } from '../client/index.js';
import type { VerifyCode } from '../client/index.js';

const DOMAIN_KEY_REFRESH_MS = 60 * 60_000;

export const NETWORK_KEY_ON_PUBLIC_DOMAIN = "Your API key doesn't match the type. Please apply for a Developer API key.";
export const DEVELOPER_KEY_ON_NETWORK_DOMAIN =
  'Free-trial (developer) API keys work only on public domains. Use a network API key on this domain.';

export const APPROVED_ACCOUNT_ON_NETWORK_DOMAIN =
  'Free-trial (developer) accounts work only on public domains: this account was approved for free developer credits, so none of its API keys can be used on network domains. Create a different account to use the Gaia Domains on the network.';
const COUNTER_FULL_MESSAGE = `The usage counter cannot pass ${Number.MAX_SAFE_INTEGER} credits, so this charge is refused.`;
export const ADMIN_KEY_REFUSED = 'Admin API keys manage keys only and are never accepted by domains. Use an inference key.';

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
}

const refuse = (code: Exclude<VerifyCode, 'valid'>, message: string, extra: { key_id?: string; ratelimit?: RateLimitInfo } = {}): VerifyResult => ({
  valid: false,
  code,
  message,
  ...extra,
});

function rateInfo(key: KeyWithAccount, used: number, now: number): RateLimitInfo {
  const reset = Math.max(1, Math.ceil(((minuteWindow(now) + 1) * 60_000 - now) / 1000));
  if (key.rpm === null) return { limit: null, remaining: null, reset };
  return { limit: Number(key.rpm), remaining: Math.max(0, Number(key.rpm) - used), reset };
}

/**
 * The hot path: shape and checksum (no I/O), one indexed lookup, the contract's checks in order,
 * and writes only when the key has a rate limit or the call has a cost.
 */
export async function verifyKey(deps: VerifyDeps, domain: Pick<DomainsTable, 'id' | 'visibility'>, input: VerifyInput, nowDate: Date): Promise<VerifyResult> {
  const now = nowDate.getTime();
  const parsed = parseSecret(input.key);
  if (!parsed || parsed.kind === 'dom' || parsed.prefix !== deps.keyPrefix) {
    return refuse('malformed', 'The API key is malformed or mistyped.');
  }
  const key = await findKeyBySecretHash(deps.db, hashSecret(input.key), now, domain.id);
  if (!key) return refuse('not_found', 'The API key does not exist or was revoked.');
  const id = { key_id: key.id };
  if (key.status !== 'active') return refuse('disabled', 'The API key is disabled.', id);
  if (key.expires_at !== null && Number(key.expires_at) <= now) return refuse('expired', 'The API key has expired.', id);
  // The type rule node operators rely on: public domains take developer keys, network domains network keys.
  if (domain.visibility === 'public' && key.type !== 'developer') return refuse('key_type_mismatch', NETWORK_KEY_ON_PUBLIC_DOMAIN, id);
  // The rule is about the account: once approved for free developer credits, none of its keys
  // (network keys made before the approval included) work on network domains.
  if (domain.visibility === 'network' && key.plan === 'developer') return refuse('key_type_mismatch', APPROVED_ACCOUNT_ON_NETWORK_DOMAIN, id);
  if (domain.visibility === 'network' && key.type !== 'network') return refuse('key_type_mismatch', DEVELOPER_KEY_ON_NETWORK_DOMAIN, id);
  const scopes = JSON.parse(key.scopes) as string[];
  const scope = input.scope ?? 'inference:write';
  // Why: an admin key manages the account; no node operator may ever be handed one as valid.
  if (scopes.includes('admin')) return refuse('scope_denied', ADMIN_KEY_REFUSED, id);
  if (!scopes.includes(scope)) return refuse('scope_denied', `The API key lacks the ${scope} scope.`, id);
  const models = key.models === null ? null : (JSON.parse(key.models) as string[]);
  if (input.model !== undefined && models !== null && !models.includes(input.model)) {
    return refuse('model_not_allowed', `The API key may not use the model ${input.model}.`, id);
  }

  const cost = input.cost ?? 0;
  const minute = minuteWindow(now);
  const day = dayWindow(now);
  const month = monthWindow(now);
  let rpmUsed = key.rpm_window === minute ? Number(key.rpm_count) : 0;
  let credits = key.credits === null ? null : Number(key.credits);

  // Refuse from the snapshot first: an over-limit caller costs no write.
  const dayUsed = key.day_window === day ? Number(key.day_used) : 0;
  const monthUsed = key.month_window === month ? Number(key.month_used) : 0;
  if (key.rpm !== null && rpmUsed >= Number(key.rpm)) {
    return refuse('rate_limited', `The API key allows ${key.rpm} requests per minute.`, { ...id, ratelimit: rateInfo(key, rpmUsed, now) });
  }
  const quotaMessage = 'The API key has reached its credit limit for this period.';
  if ((key.daily_credits !== null && dayUsed + cost > Number(key.daily_credits)) || (key.monthly_credits !== null && monthUsed + cost > Number(key.monthly_credits))) {
    return refuse('api_key_quota_exceeded', quotaMessage, id);
  }
  // Counters stop at MAX_COUNTER (exact as JSON); the charging UPDATEs enforce it under races too.
  if (cost > 0 && Number(key.total_used) > MAX_COUNTER - cost) return refuse('api_key_quota_exceeded', COUNTER_FULL_MESSAGE, id);
  const shortfallMessage = "The account's credits cannot cover this request.";
  if (credits !== null && credits < cost) return refuse('billing_shortfall', shortfallMessage, id);
  if (cost > 0 && Number(key.usage_total) > MAX_COUNTER - cost) return refuse('billing_shortfall', COUNTER_FULL_MESSAGE, id);

  if (key.rpm !== null && cost === 0) {
    // One conditional statement is atomic on its own: no transaction needed for a bare rpm check.
    const slot = await takeRateSlot(deps.db, key.id, minute);
    if (slot === null) {
      return refuse('rate_limited', `The API key allows ${key.rpm} requests per minute.`, { ...id, ratelimit: rateInfo(key, Number(key.rpm), now) });
    }
    rpmUsed = slot;
  } else if (cost > 0) {
    // The snapshot can be stale under concurrency: each step is a conditional UPDATE that changes
    // no row when it refuses, and the batch (a transaction, or a D1 batch) undoes every step when
    // one refuses, so 50 parallel charges never overspend and a refusal leaves no trace.
    const steps: BatchStep[] = [];
    const refusals: ('rate_limited' | 'api_key_quota_exceeded' | 'billing_shortfall')[] = [];
    if (key.rpm !== null) {
      steps.push({ query: rateSlotQuery(deps.db, key.id, minute), mustChange: true });
      refusals.push('rate_limited');
    }
    steps.push({ query: chargeKeyWindowsQuery(deps.db, key.id, cost, day, month), mustChange: true });
    refusals.push('api_key_quota_exceeded');
    steps.push({ query: debitQuery(deps.db, key.account, cost), mustChange: true });
    refusals.push('billing_shortfall');
    try {
      const results = await inBatch(deps.db, steps);
      if (key.rpm !== null) rpmUsed = Number((results[0].rows[0] as { rpm_count: number }).rpm_count);
      const after = (results[results.length - 1].rows[0] as { credits: number | null }).credits;
      credits = after === null ? null : Number(after);
    } catch (err) {
      if (!(err instanceof BatchConditionFailed)) throw err;
      const code = refusals[err.index];
      if (code === 'rate_limited') {
        return refuse('rate_limited', `The API key allows ${key.rpm} requests per minute.`, { ...id, ratelimit: rateInfo(key, Number(key.rpm), now) });
      }
      return refuse(code, code === 'billing_shortfall' ? shortfallMessage : quotaMessage, id);
    }
  }

  // Usage reports are accepted only from domains that verified the key: one write per pair per hour.
  if (key.domain_verified_at === null || now - Number(key.domain_verified_at) > DOMAIN_KEY_REFRESH_MS) {
    await markVerifiedByDomain(deps.db, domain.id, key.id, now);
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
    ratelimit: rateInfo(key, rpmUsed, now),
  };
}
