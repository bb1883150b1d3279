import type { Kysely } from 'kysely';
import type { AccountRow, Database } from '../db/schema.js';
import type { Account as AccountView } from '../contract/accounts.js';

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

export function rolesFor(address: string, adminAddresses: string[]): string[] {
  return adminAddresses.includes(address.toLowerCase()) ? ['user', 'admin'] : ['user'];
}

export async function accountView(db: Kysely<Database>, account: AccountRow, roles: string[]): Promise<AccountView> {
  const app = await db
    .selectFrom('trial_applications')
    .selectAll()
    .where('address', '=', account.address)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return {
    address: account.address,
    roles,
    plan: account.plan,
    trial: {
      status: app ? app.status : 'none',
      application_id: app?.id ?? null,
      credits_granted: app?.credits_granted == null ? null : Number(app.credits_granted),
      reason: app?.reason ?? null,
      reviewed_at: iso(app?.reviewed_at),
    },
    credits: account.credits === null ? null : Number(account.credits),
    created_at: iso(account.created_at) as string,
  };
}
