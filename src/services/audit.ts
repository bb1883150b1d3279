import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { auditEventInsert } from '../db/repositories/audit.js';
import { newId } from '../ids.js';

/** Who asked, from where: what an audit event needs from the request, without the request. */
export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
  now: Date;
}

export interface AuditInput {
  actor: string;
  account: string | null;
  action: string;
  target: string | null;
  detail?: Record<string, unknown>;
}

/**
 * The insert of an audit event, as one step of the batch that makes the change it records (so both
 * happen or neither, on D1 too). Never pass secrets in detail.
 */
export function auditEvent(db: Kysely<Database>, meta: RequestMeta, e: AuditInput) {
  return auditEventInsert(db, {
    id: newId('evt', meta.now),
    at: meta.now.getTime(),
    actor: e.actor,
    account: e.account,
    action: e.action,
    target: e.target,
    request_id: meta.requestId,
    ip: meta.ip,
    user_agent: meta.userAgent ? meta.userAgent.slice(0, 512) : null,
    detail: e.detail ? JSON.stringify(e.detail) : null,
  });
}
