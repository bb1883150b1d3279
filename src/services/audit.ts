import type { InsertQueryBuilder, InsertResult, Kysely } from 'kysely';
import type { AuditEvent } from '../contract/audit.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { insertAuditEventQuery, listAuditEvents } from '../db/repositories/audit.js';
import { keyIdsOfAccount } from '../db/repositories/keys.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import { toPage, type Page } from './pagination.js';
import { assertAdmin, type Actor, type AdminActor } from './actor.js';
import { getAddress } from 'viem';

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
export function auditEventStep(
  db: Kysely<Database>,
  meta: RequestMeta,
  e: AuditInput,
): InsertQueryBuilder<Database, 'audit_events', InsertResult> {
  return insertAuditEventQuery(db, {
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

/** An audit event as the API answers it. */
export type AuditEventView = AuditEvent;

function auditView(e: AuditEventRow): AuditEventView {
  return { ...e, at: iso(e.at) as string, detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null };
}

export interface AuditDeps {
  db: Kysely<Database>;
}

export interface AuditQuery {
  limit: number;
  cursor?: string;
  /** Exact action name, e.g. key.create. */
  action?: string;
}

/**
 * One page of the audit log of the actor's account, newest first. Redacted: events about the
 * account that someone else caused (an admin) come without the IP or browser; what the wallet or
 * its own API keys did shows where it came from (a leaked key's use).
 */
export async function listOwnAudit(deps: AuditDeps, actor: Actor, q: AuditQuery): Promise<Page<AuditEventView>> {
  return auditPage(deps.db, q, actor.address, 'user');
}

/** One page of the whole audit log (admins), or of the events whose actor or account is `address`. */
export async function listAllAudit(
  deps: AuditDeps,
  actor: AdminActor,
  q: AuditQuery & { address?: string },
): Promise<Page<AuditEventView>> {
  assertAdmin(actor);
  // Addresses are stored checksummed; match whatever case the admin typed.
  return auditPage(deps.db, q, q.address ? getAddress(q.address) : undefined, 'admin');
}

export async function auditPage(
  db: Kysely<Database>,
  q: AuditQuery,
  account: string | undefined,
  viewer: 'user' | 'admin',
): Promise<Page<AuditEventView>> {
  const events = await listAuditEvents(db, { account, action: q.action, cursor: q.cursor, limit: q.limit + 1 });
  const others =
    viewer === 'user' && account !== undefined ? [...new Set(events.filter((e) => e.actor !== account).map((e) => e.actor))] : [];
  const ownKeys = account === undefined ? new Set<string>() : await keyIdsOfAccount(db, account, others);
  const redact = (e: AuditEventRow): AuditEventRow =>
    viewer === 'user' && account !== undefined && e.actor !== account && !ownKeys.has(e.actor) ? { ...e, ip: null, user_agent: null } : e;
  return toPage(events, q.limit, (e) => auditView(redact(e)));
}
