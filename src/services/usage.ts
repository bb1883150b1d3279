import type { Kysely } from 'kysely';
import { listUsage } from '../db/repositories/metering.js';
import type { Database, DomainRow } from '../db/schema.js';
import { iso } from './accounts.js';
import { toPage, type Page } from './pagination.js';
import type { LastUsedTracker } from './last-used.js';
import { recordUsageBatch, refusalError } from './usage-batch.js';
import type { UsageRecord, UsageReport } from '../contract/usage.js';

/** A usage report (POST /v1/usage), as the contract defines it. */
export type UsageInput = UsageReport;

export interface UsageAnswer {
  recorded: true;
  id: string;
  charged: number;
  uncharged: number;
  credits_remaining: number | null;
}

/**
 * Metering after the fact: always recorded, charged as far as the balance and the key's windows
 * allow (never below zero), the rest recorded as `uncharged`. Idempotent by (domain, request_id):
 * a retry, even a concurrent one, is stored and charged once and gets the same answer. A batch of
 * one (`recordUsageBatch`), so the single and the batched route can never drift; a refusal throws
 * (404 not_found, 403 forbidden).
 */
export async function recordUsage(
  deps: { db: Kysely<Database>; lastUsed: LastUsedTracker },
  domain: Pick<DomainRow, 'id' | 'visibility'>,
  input: UsageInput,
  nowDate: Date,
): Promise<UsageAnswer> {
  const [result] = await recordUsageBatch(deps, domain, [input], nowDate);
  if (!result.recorded) throw refusalError(result);
  const { request_id: _requestId, ...answer } = result;
  return answer;
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
