import type { Kysely } from 'kysely';
import type { AccountsTable, Database } from '../schema.js';

export async function upsertAccountOnSignIn(db: Kysely<Database>, address: string, now: number): Promise<AccountsTable> {
  await db
    .insertInto('accounts')
    .values({ address, plan: 'network', credits: null, created_at: now, last_sign_in_at: now })
    .onConflict((oc) => oc.column('address').doUpdateSet({ last_sign_in_at: now }))
    .execute();
  return getAccountOrThrow(db, address);
}

export async function findAccount(db: Kysely<Database>, address: string): Promise<AccountsTable | undefined> {
  return db.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
}

export async function getAccountOrThrow(db: Kysely<Database>, address: string): Promise<AccountsTable> {
  return db.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirstOrThrow();
}

/** Makes the account a developer account and adds credits, in one conditional statement. */
export async function grantDeveloperPlan(db: Kysely<Database>, address: string, credits: number): Promise<void> {
  await db
    .updateTable('accounts')
    .set((eb) => ({ plan: 'developer', credits: eb(eb.fn.coalesce('credits', eb.lit(0)), '+', credits) }))
    .where('address', '=', address)
    .execute();
}

/**
 * Adds delta (may be negative) to the balance; never below zero: the condition is in the UPDATE,
 * not a read before it. Returns false when the account is missing or the balance would go negative.
 */
export async function adjustCredits(db: Kysely<Database>, address: string, delta: number): Promise<boolean> {
  const res = await db
    .updateTable('accounts')
    .set((eb) => ({ credits: eb(eb.fn.coalesce('credits', eb.lit(0)), '+', delta) }))
    .where('address', '=', address)
    .where((eb) => eb(eb(eb.fn.coalesce('credits', eb.lit(0)), '+', delta), '>=', 0))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
