import type { InsertQueryBuilder, InsertResult, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { Kysely } from 'kysely';
import type { ApplicationRow, Database } from '../schema.js';

export function insertApplicationQuery(
  db: Kysely<Database>,
  row: ApplicationRow,
): InsertQueryBuilder<Database, 'trial_applications', InsertResult> {
  return db.insertInto('trial_applications').values(row);
}

export async function latestApplicationOf(db: Kysely<Database>, address: string): Promise<ApplicationRow | undefined> {
  return db.selectFrom('trial_applications').selectAll().where('address', '=', address).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export async function findApplication(db: Kysely<Database>, id: string): Promise<ApplicationRow | undefined> {
  return db.selectFrom('trial_applications').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listApplications(
  db: Kysely<Database>,
  f: { status?: ApplicationRow['status']; address?: string; cursor?: string; limit: number },
): Promise<ApplicationRow[]> {
  let q = db.selectFrom('trial_applications').selectAll();
  if (f.status) q = q.where('status', '=', f.status);
  if (f.address) q = q.where('address', '=', f.address);
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/** Closes a pending application; changes no row when it was not pending (already reviewed, or a race lost). */
export function closeApplicationQuery(
  db: Kysely<Database>,
  id: string,
  set: Pick<ApplicationRow, 'status' | 'credits_granted' | 'reviewed_by' | 'reason' | 'reviewed_at'>,
): UpdateQueryBuilder<Database, 'trial_applications', 'trial_applications', UpdateResult> {
  return db.updateTable('trial_applications').set(set).where('id', '=', id).where('status', '=', 'pending');
}
