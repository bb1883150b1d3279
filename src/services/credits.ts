import type { Kysely } from 'kysely';
import { adjustCreditsQuery, MAX_CREDITS } from '../db/repositories/accounts.js';
import { changeSteps, recordsChanged } from '../db/record-changes.js';
import type { Database } from '../db/schema.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { auditEventStep, type RequestMeta } from './audit.js';
import { creditGrantInsertQuery, creditsLowStep } from './webhook-events.js';

/**
 * An admin adds delta (may be negative) to the balance of an account or a team (both are rows of
 * accounts), with its audit event, in one batch that changes nothing when the balance would leave
 * 0..MAX_CREDITS. The caller has checked the admin and that the account exists.
 */
export async function changeBalance(
  db: Kysely<Database>,
  meta: RequestMeta,
  change: { admin: string; account: string; action: string; input: { delta: number; reason: string } },
): Promise<void> {
  const { admin, account, action, input } = change;
  try {
    await inBatch(db, [
      { query: adjustCreditsQuery(db, account, input.delta), mustChange: true },
      auditEventStep(db, meta, { actor: admin, account, action, target: account, detail: input }),
      // The plan and whether the balance is enforced are part of every cached key record of the account.
      ...changeSteps(db, { account }),
      // Webhooks: a top-up is a grant (account.credits_low measures against the last one); a debit may cross the threshold.
      ...(input.delta > 0 ? [creditGrantInsertQuery(db, account, input.delta, meta.now)] : [creditsLowStep(db, account, meta.now)]),
    ]);
    recordsChanged(db, { account });
  } catch (err) {
    if (!(err instanceof BatchConditionFailed)) throw err;
    if (input.delta > 0)
      throw new AppError('invalid_request', `The balance cannot exceed ${MAX_CREDITS} credits.`, { extra: { param: 'delta' } });
    throw new AppError('insufficient_credits', 'The balance cannot go below zero.', { extra: { param: 'delta' } });
  }
}
