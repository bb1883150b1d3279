import type { Kysely } from 'kysely';
import type { Database, DomainsTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { LastUsedTracker } from './last-used.js';
import { recordUsage, type UsageAnswer, type UsageInput } from './usage.js';

/** Records one POST /v1/usage/batch may carry. */
export const MAX_USAGE_BATCH = 100;

/** A record the service refused for itself (the rest of the batch is still recorded). */
export interface UsageRefusal {
  recorded: false;
  request_id: string;
  error: { code: 'not_found' | 'forbidden'; message: string };
}

export type UsageBatchResult = (UsageAnswer & { request_id: string }) | UsageRefusal;

/**
 * Several usage reports in one call, each exactly as POST /v1/usage would record it: idempotent by
 * (domain, request_id), charged in one atomic batch of its own, and refused (not_found, forbidden)
 * on its own without undoing the others. Records are handled in order, so two records with one
 * request_id are stored once and both answer the same. Anything but a per-record refusal (the
 * database is down) fails the whole call, and a retry under the same request ids is safe.
 */
export async function recordUsageBatch(
  deps: { db: Kysely<Database>; lastUsed: LastUsedTracker },
  domain: Pick<DomainsTable, 'id' | 'visibility'>,
  records: UsageInput[],
  nowDate: Date,
): Promise<UsageBatchResult[]> {
  const results: UsageBatchResult[] = [];
  for (const record of records) {
    try {
      results.push({ request_id: record.request_id, ...(await recordUsage(deps, domain, record, nowDate)) });
    } catch (err) {
      if (!(err instanceof AppError) || (err.code !== 'not_found' && err.code !== 'forbidden')) throw err;
      results.push({ recorded: false, request_id: record.request_id, error: { code: err.code, message: err.message } });
    }
  }
  return results;
}
