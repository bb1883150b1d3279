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
