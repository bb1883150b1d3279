import type { Compilable, Kysely } from 'kysely';
import { isUniqueViolation } from '../db/errors.js';
import {
  MAX_COUNTER,
  findUsageRecords,
  usageKeyFacts,
  usageLockSteps,
  usageReadBackSteps,
  usageReportSteps,
  usageRollupBatchSteps,
  type StoredCharge,
  type UsageKeyFacts,
} from '../db/repositories/metering.js';
import type { Database, DomainsTable, UsageRecordRow } from '../db/schema.js';
import { BatchConditionFailed, inBatch, type BatchStep } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { checkType } from './key-policy.js';
import type { LastUsedTracker } from './last-used.js';
import type { UsageAnswer, UsageInput } from './usage.js';
import { creditsLowStep, noteUsageShortfall } from './webhook-events.js';
import { dayWindow, monthWindow } from './windows.js';

/** Records one POST /v1/usage/batch may carry. */
export const MAX_USAGE_BATCH = 100;

/** How long after a domain's last verification of a key it may still report usage for it. */
export const USAGE_REPORT_WINDOW_MS = 24 * 60 * 60_000;

/** A record the service refused for itself (the rest of the batch is still recorded). */
export interface UsageRefusal {
  recorded: false;
  request_id: string;
  error: { code: 'not_found' | 'forbidden'; message: string };
}

export type UsageBatchResult = (UsageAnswer & { request_id: string }) | UsageRefusal;

type Deps = { db: Kysely<Database>; lastUsed: LastUsedTracker };

const NO_KEY = 'No such key.';
const NOT_VERIFIED = 'This domain has not verified this key in the last 24 hours, so it cannot report usage for it.';

export const usageAnswer = (r: Pick<UsageRecordRow, 'id' | 'charged' | 'uncharged' | 'credits_after'>): UsageAnswer => ({
  recorded: true,
  id: r.id,
  charged: Number(r.charged),
  uncharged: Number(r.uncharged),
  credits_remaining: r.credits_after === null ? null : Number(r.credits_after),
});

/** A refusal as the single route throws it (POST /v1/usage answers 404 / 403). */
export function refusalError(r: UsageRefusal): AppError {
  return new AppError(r.error.code, r.error.message, { extra: { param: 'key_id' } });
}

const usageLimitReached = (): AppError =>
  new AppError('usage_limit_reached', `The account's usage counter cannot pass ${MAX_COUNTER} credits, so this report was not recorded.`, {
    extra: { param: 'cost' },
  });

/** A record that passed the checks, with what writing it needs. */
interface Pending {
  input: UsageInput;
  key: UsageKeyFacts;
}

/**
 * Several usage reports in one call, each exactly as POST /v1/usage would record it (POST /v1/usage
 * is this with one record): idempotent by (domain, request_id), charged as far as the balance and
 * the key's windows allow with the shortfall recorded as uncharged, and refused (not_found,
 * forbidden) on its own without undoing the others.
 *
 * Cost: the stored records, the keys (or their tombstones) and this domain's verifications of them
 * are read once per batch, not per record; every new record is then written in ONE transaction (a
 * D1 batch on Workers): per record its insert and its two charging UPDATEs, in the batch's order, so
 * records of one key or account charge exactly as the same reports sent one by one would (the
 * charge is computed in SQL from the rows as the earlier records left them); then one grouped
 * roll-up per chunk and one credits_low check per account. Two records with one request_id are
 * stored once (the first that is not refused) and answer the same from then on.
 *
 * Each record stays all-or-nothing: if the transaction fails as a whole because of one record (a
 * concurrent report under the same request_id won its insert, or an account counter would pass
 * MAX_COUNTER), nothing of it was written, and the records are written again one transaction each,
 * where that record alone answers its stored twin (or fails the call with usage_limit_reached, as
 * before). Anything else (the database is down) fails the whole call, and a retry under the same
 * request ids is safe.
 */
export async function recordUsageBatch(
  deps: Deps,
  domain: Pick<DomainsTable, 'id' | 'visibility'>,
  records: readonly UsageInput[],
  nowDate: Date,
): Promise<UsageBatchResult[]> {
  const now = nowDate.getTime();
  // Exactly as the records sent one by one to POST /v1/usage, in order: per request id, a record
  // already stored answers every occurrence; else each occurrence is checked in turn, a refused one
  // answers its own refusal (nothing is stored under its id), and the first accepted one is written
  // and answers every occurrence after it.
  const byId = new Map<string, number[]>();
  records.forEach((r, i) => {
    const at = byId.get(r.request_id);
    if (at) at.push(i);
    else byId.set(r.request_id, [i]);
  });
  const results: (UsageBatchResult | undefined)[] = new Array(records.length);
  /** Where each occurrence after the first accepted (or stored) one takes its answer from. */
  const sameAs = new Map<number, number>();
  const stored = await findUsageRecords(deps.db, domain.id, [...byId.keys()]);
  const fresh: number[][] = [];
  for (const at of byId.values()) {
    const row = stored.get(records[at[0]].request_id);
    if (!row) {
      fresh.push(at);
      continue;
    }
    results[at[0]] = { request_id: records[at[0]].request_id, ...usageAnswer(row) };
    for (const i of at.slice(1)) sameAs.set(i, at[0]);
  }

  const keyIds = [...new Set(fresh.flatMap((at) => at.map((i) => records[i].key_id)))];
  const facts = keyIds.length ? await usageKeyFacts(deps.db, domain.id, keyIds) : new Map<string, UsageKeyFacts>();
  const pending: { index: number; item: Pending }[] = [];
  for (const at of fresh) {
    for (const [n, i] of at.entries()) {
      const input = records[i];
      const key = facts.get(input.key_id);
      const refuse = (code: 'not_found' | 'forbidden', message: string): void => {
        results[i] = { recorded: false, request_id: input.request_id, error: { code, message } };
      };
      if (!key) {
        refuse('not_found', NO_KEY);
        continue;
      }
      // Why: a domain token must not bill keys its domain never served. Only keys this domain verified
      // recently, and of the type its visibility accepts, can be charged through it. An approved
      // (developer) account's credits are spent only on public domains, whatever the key's type.
      const typeOk = checkType(domain.visibility, { type: key.type, plan: key.plan }).ok;
      if (!typeOk || key.verifiedAt === null || now - key.verifiedAt > USAGE_REPORT_WINDOW_MS) {
        refuse('forbidden', NOT_VERIFIED);
        continue;
      }
      pending.push({ index: i, item: { input, key } });
      for (const later of at.slice(n + 1)) sameAs.set(later, i);
      break;
    }
  }
  // Charged in the order of the records, as one-by-one reports would be.
  pending.sort((x, y) => x.index - y.index);

  if (pending.length) {
    const answers = await writeAll(
      deps,
      domain.id,
      pending.map((p) => p.item),
      nowDate,
    );
    pending.forEach((p, j) => {
      results[p.index] = { request_id: p.item.input.request_id, ...answers[j] };
    });
    await afterWrite(
      deps,
      pending.map((p) => p.item),
      answers,
      nowDate,
    );
  }
  return records.map((_, i) => (results[i] ?? results[sameAs.get(i) as number]) as UsageBatchResult);
}

/** One transaction for all; when one record fails it, one each (see recordUsageBatch). */
async function writeAll(deps: Deps, domainId: string, items: Pending[], nowDate: Date): Promise<UsageAnswer[]> {
  if (items.length === 1) return [await writeOne(deps, domainId, items[0], nowDate)];
  try {
    return await write(deps.db, domainId, items, nowDate);
  } catch (err) {
    if (!(err instanceof BatchConditionFailed) && !isUniqueViolation(err)) throw err;
  }
  const answers: UsageAnswer[] = [];
  for (const item of items) answers.push(await writeOne(deps, domainId, item, nowDate));
  return answers;
}

async function writeOne(deps: Deps, domainId: string, item: Pending, nowDate: Date): Promise<UsageAnswer> {
  try {
    return (await write(deps.db, domainId, [item], nowDate))[0];
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw usageLimitReached();
    // A concurrent retry won the insert: nothing of this one was written; answer with its record.
    if (!isUniqueViolation(err)) throw err;
    const row = (await findUsageRecords(deps.db, domainId, [item.input.request_id])).get(item.input.request_id);
    if (!row) throw new AppError('internal_error', 'The usage record could not be read back.');
    return usageAnswer(row);
  }
}

/** The records' statements as one all-or-nothing batch; the answers come back from the inserts. */
async function write(db: Kysely<Database>, domainId: string, items: Pending[], nowDate: Date): Promise<UsageAnswer[]> {
  const now = nowDate.getTime();
  const day = dayWindow(now);
  const month = monthWindow(now);
  const accounts = [...new Set(items.map((it) => it.key.account))];
  const steps: (Compilable | BatchStep)[] = usageLockSteps(db, [...new Set(items.map((it) => it.input.key_id))], accounts);
  for (const { input, key } of items) {
    steps.push(
      ...usageReportSteps(db, {
        id: newId('use', nowDate),
        domainId,
        requestId: input.request_id,
        keyId: input.key_id,
        account: key.account,
        model: input.model ?? null,
        inputTokens: input.input_tokens ?? null,
        outputTokens: input.output_tokens ?? null,
        cost: input.cost ?? 0,
        now,
        day,
        month,
      }),
    );
  }
  const requestIds = items.map((it) => it.input.request_id);
  // The hour's roll-ups, in the same batch: summaries stay equal to the records.
  steps.push(...usageRollupBatchSteps(db, { domainId, requestIds, now }));
  // Webhooks: account.credits_low when these charges took a balance below 10% of the last grant.
  for (const account of accounts) steps.push(creditsLowStep(db, account, nowDate));
  const readBack = usageReadBackSteps(db, domainId, requestIds);
  const results = await inBatch(db, [...steps, ...readBack]);
  const stored = new Map<string, StoredCharge>();
  for (const r of results.slice(steps.length)) for (const row of r.rows as StoredCharge[]) stored.set(row.request_id, row);
  return items.map(({ input }) => {
    const row = stored.get(input.request_id);
    if (!row) throw new AppError('internal_error', 'The usage record could not be read back.');
    return usageAnswer(row);
  });
}

/** Once per key: last_used_at, and key.quota_reached when a key limit left part of a cost uncharged. */
async function afterWrite(deps: Deps, items: Pending[], answers: UsageAnswer[], nowDate: Date): Promise<void> {
  const now = nowDate.getTime();
  const byKey = new Map<string, { live: boolean; uncharged: number }>();
  items.forEach((it, j) => {
    const seen = byKey.get(it.key.id);
    if (!seen || answers[j].uncharged > 0) byKey.set(it.key.id, { live: it.key.live, uncharged: answers[j].uncharged });
  });
  for (const [keyId, k] of byKey) {
    if (k.live) void deps.lastUsed.touch(keyId, now)?.catch(() => undefined);
    await noteUsageShortfall(deps.db, keyId, k.uncharged, nowDate);
  }
}
