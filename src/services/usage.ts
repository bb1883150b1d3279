import type { Kysely } from 'kysely';
import { findAccount } from '../db/repositories/accounts.js';
import { domainVerifiedAt, findKeyOwner, findTombstone } from '../db/repositories/keys.js';
import { MAX_COUNTER, findUsageRecord, listUsage, usageReportSteps } from '../db/repositories/metering.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Database, DomainsTable, UsageRecordsTable } from '../db/schema.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import { checkType } from './key-policy.js';
import { toPage, type Page } from './pagination.js';
import type { LastUsedTracker } from './last-used.js';
import { dayWindow, monthWindow } from './windows.js';
import { creditsLowStep, noteUsageShortfall } from './webhook-events.js';
import type { UsageRecord, UsageReport } from '../contract/usage.js';

/** How long after a domain's last verification of a key it may still report usage for it. */
export const USAGE_REPORT_WINDOW_MS = 24 * 60 * 60_000;

/** A usage report (POST /v1/usage), as the contract defines it. */
export type UsageInput = UsageReport;

export interface UsageAnswer {
  recorded: true;
  id: string;
  charged: number;
  uncharged: number;
  credits_remaining: number | null;
}

const answer = (r: UsageRecordsTable): UsageAnswer => ({
  recorded: true,
  id: r.id,
  charged: Number(r.charged),
  uncharged: Number(r.uncharged),
  credits_remaining: r.credits_after === null ? null : Number(r.credits_after),
});

/**
 * Metering after the fact: always recorded, charged as far as the balance and the key's windows
 * allow (never below zero), the rest recorded as `uncharged`. Idempotent by (domain, request_id):
 * a retry, even a concurrent one, is stored and charged once and gets the same answer.
 */
export async function recordUsage(
  deps: { db: Kysely<Database>; lastUsed: LastUsedTracker },
  domain: Pick<DomainsTable, 'id' | 'visibility'>,
  input: UsageInput,
  nowDate: Date,
): Promise<UsageAnswer> {
  const domainId = domain.id;
  const existing = await findUsageRecord(deps.db, domainId, input.request_id);
  if (existing) return answer(existing);

  const now = nowDate.getTime();
  const live = await findKeyOwner(deps.db, input.key_id);
  // A key deleted after its request still bills its account (its tombstone remembers which).
  const key = live ?? (await findTombstone(deps.db, input.key_id));
  if (!key) throw new AppError('not_found', 'No such key.', { extra: { param: 'key_id' } });
  const owner = key.account;
  // Why: a domain token must not bill keys its domain never served. Only keys this domain verified
  // recently, and of the type its visibility accepts, can be charged through it.
  const verifiedAt = await domainVerifiedAt(deps.db, domainId, input.key_id);
  // An approved (developer) account's credits are spent only on public domains, whatever the key's type.
  const plan = live ? live.plan : (await findAccount(deps.db, owner))?.plan;
  const typeOk = checkType(domain.visibility, { type: key.type, plan }).ok;
  if (!typeOk || verifiedAt === null || now - verifiedAt > USAGE_REPORT_WINDOW_MS) {
    throw new AppError('forbidden', 'This domain has not verified this key in the last 24 hours, so it cannot report usage for it.', {
      extra: { param: 'key_id' },
    });
  }
  const cost = input.cost ?? 0;
  try {
    await inBatch(deps.db, [
      ...usageReportSteps(deps.db, {
        id: newId('use', nowDate),
        domainId,
        requestId: input.request_id,
        keyId: input.key_id,
        account: owner,
        model: input.model ?? null,
        inputTokens: input.input_tokens ?? null,
        outputTokens: input.output_tokens ?? null,
        cost,
        now,
        day: dayWindow(now),
        month: monthWindow(now),
      }),
      // Webhooks: account.credits_low when this charge took the balance below 10% of the last grant.
      creditsLowStep(deps.db, owner, nowDate),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) {
      throw new AppError(
        'usage_limit_reached',
        `The account's usage counter cannot pass ${MAX_COUNTER} credits, so this report was not recorded.`,
        {
          extra: { param: 'cost' },
        },
      );
    }
    // A concurrent retry won the insert: the whole batch was undone; answer with its record.
    if (!isUniqueViolation(err)) throw err;
  }
  const row = await findUsageRecord(deps.db, domainId, input.request_id);
  if (!row) throw new AppError('internal_error', 'The usage record could not be read back.');
  if (live) void deps.lastUsed.touch(live.id, now)?.catch(() => undefined);
  // Webhooks: key.quota_reached when a key limit left part of this cost uncharged.
  await noteUsageShortfall(deps.db, input.key_id, Number(row.uncharged), nowDate);
  return answer(row);
}

export type UsageRecordView = UsageRecord;

export async function listAccountUsage(
  db: Kysely<Database>,
  account: string,
  q: { key_id?: string; request_id?: string; from?: string; to?: string; cursor?: string; limit: number },
): Promise<Page<UsageRecordView>> {
  const rows = await listUsage(db, {
    account,
    keyId: q.key_id,
    requestId: q.request_id,
    from: q.from ? new Date(q.from).getTime() : undefined,
    to: q.to ? new Date(q.to).getTime() : undefined,
    cursor: q.cursor,
    limit: q.limit + 1,
  });
  return toPage(rows, q.limit, (r) => ({
    id: r.id,
    key_id: r.key_id,
    domain: r.domain_name,
    domain_verified: r.domain_verified_at !== null && r.domain_verified_at !== undefined,
    request_id: r.request_id,
    model: r.model,
    input_tokens: r.input_tokens === null ? null : Number(r.input_tokens),
    output_tokens: r.output_tokens === null ? null : Number(r.output_tokens),
    cost: Number(r.cost),
    charged: Number(r.charged),
    uncharged: Number(r.uncharged),
    created_at: iso(r.created_at) as string,
  }));
}
