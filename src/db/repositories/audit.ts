import type { InsertQueryBuilder, InsertResult } from 'kysely';
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../schema.js';

export function insertAuditEventQuery(
  db: Kysely<Database>,
  row: AuditEventRow,
): InsertQueryBuilder<Database, 'audit_events', InsertResult> {
  return db.insertInto('audit_events').values(row);
}

export async function listAuditEvents(
  db: Kysely<Database>,
  opts: { account?: string; action?: string; cursor?: string; limit: number },
): Promise<AuditEventRow[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (opts.account !== undefined) {
    const account = opts.account;
    q = q.where((eb) => eb.or([eb('account', '=', account), eb('actor', '=', account)]));
  }
  if (opts.action !== undefined) q = q.where('action', '=', opts.action);
  if (opts.cursor) q = q.where('id', '<', opts.cursor);
  return q.orderBy('id', 'desc').limit(opts.limit).execute();
}
