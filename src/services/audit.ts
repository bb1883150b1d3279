import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { insertAuditEvent } from '../db/repositories/audit.js';
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

/** Call inside the transaction of the change it records. Never pass secrets in detail. */
export async function audit(db: Kysely<Database>, meta: RequestMeta, e: AuditInput): Promise<void> {
  await insertAuditEvent(db, {
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
