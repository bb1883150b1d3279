import type { ExpressionBuilder, ExpressionWrapper, InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import type { AccountRow, Database } from '../schema.js';

export function upsertAccountOnSignInQuery(
  db: Kysely<Database>,
  address: string,
  now: number,
): InsertQueryBuilder<Database, 'accounts', InsertResult> {
  // A new account gets the plan column's default, 'network'.
  return db
    .insertInto('accounts')
    .values({ address, credits: null, created_at: now, last_sign_in_at: now })
    .onConflict((oc) => oc.column('address').doUpdateSet({ last_sign_in_at: now }));
}

export async function findAccount(db: Kysely<Database>, address: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
}

export async function getAccountOrThrow(db: Kysely<Database>, address: string): Promise<AccountRow> {
  return db.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirstOrThrow();
}

/**
 * The largest balance. Why: credits travel as JSON numbers and are computed with in JavaScript,
 * both exact only up to 2^53 - 1; a larger balance would be shown and charged wrongly.
 */
export const MAX_CREDITS = Number.MAX_SAFE_INTEGER;

/** The balance after adding delta, `COALESCE(credits, 0) + delta` (no balance counts as 0). */
function creditsPlus(eb: ExpressionBuilder<Database, 'accounts'>, delta: number): ExpressionWrapper<Database, 'accounts', number> {
  return eb(eb.fn.coalesce('credits', eb.lit(0)), '+', delta);
}

/**
 * Makes the account a developer account and adds credits, in one conditional statement. Changes
 * no row when the account is missing or the balance would exceed MAX_CREDITS.
 */
export function grantDeveloperPlanQuery(
  db: Kysely<Database>,
  address: string,
  credits: number,
): UpdateQueryBuilder<Database, 'accounts', 'accounts', UpdateResult> {
  return db
    .updateTable('accounts')
    .set((eb) => ({ plan: 'developer', credits: creditsPlus(eb, credits) }))
    .where('address', '=', address)
    .where((eb) => eb(creditsPlus(eb, credits), '<=', MAX_CREDITS));
}

/**
 * Adds delta (may be negative) to the balance; never below zero nor above MAX_CREDITS: the
 * condition is in the UPDATE, not a read before it. A builder: executed (or put in a batch with
 * mustChange) it changes no row when the account is missing or the balance would leave that range.
 */
export function adjustCreditsQuery(
  db: Kysely<Database>,
  address: string,
  delta: number,
): UpdateQueryBuilder<Database, 'accounts', 'accounts', UpdateResult> {
  return db
    .updateTable('accounts')
    .set((eb) => ({ credits: creditsPlus(eb, delta) }))
    .where('address', '=', address)
    .where((eb) => eb(creditsPlus(eb, delta), '>=', 0))
    .where((eb) => eb(creditsPlus(eb, delta), '<=', MAX_CREDITS));
}
