import { AppError } from '../errors.js';
import type { RequestMeta } from './audit.js';

/** Where a request came from, as the audit trail records it (never the request itself: services do not see `Context`). */
export interface RequestOrigin {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

interface AccountActorBase {
  /** The wallet the actor acts for (a key acts for the account that owns it). */
  address: `0x${string}`;
  /** From ADMIN_ADDRESSES as they are now, not as they were at sign-in; a key is always 'user'. */
  roles: string[];
  request: RequestOrigin;
}

/** A wallet signed in with SIWE, acting through its session. */
export interface SessionActor extends AccountActorBase {
  kind: 'session';
  sid: string;
}

/** An API key with the admin scope, acting for its own account. */
export interface KeyActor extends AccountActorBase {
  kind: 'key';
  keyId: string;
  scopes: string[];
}

/** Who acts on an account's behalf: every service that reads or changes an account takes one. */
export type Actor = SessionActor | KeyActor;

/** The operator at the server's own command line (`siwe-keys admin ...`): no wallet, admin by definition. */
export interface SystemActor {
  kind: 'system';
  id: string;
  roles: string[];
  request: RequestOrigin;
}

/** Who may call the admin services: an admin wallet or key, or the operator's command line. */
export type AdminActor = Actor | SystemActor;

/** The name the audit trail gives the actor: an admin key acts as itself, a session as its wallet. */
export function actorId(actor: AdminActor): string {
  if (actor.kind === 'key') return actor.keyId;
  if (actor.kind === 'system') return actor.id;
  return actor.address;
}

export function isAdmin(actor: AdminActor): boolean {
  return actor.roles.includes('admin');
}

/** Refuses an actor without the admin role (403 forbidden). */
export function assertAdmin(actor: AdminActor): void {
  if (!isAdmin(actor)) throw new AppError('forbidden', 'This endpoint is for admins.');
}

/** What an audit event records of the actor's request, at the time the service read from its clock. */
export function auditMeta(actor: { request: RequestOrigin }, now: Date): RequestMeta {
  return { ...actor.request, now };
}

/** The command line as an actor (audit trail: "cli"). */
export function systemActor(id: string, userAgent: string, requestId: string): SystemActor {
  return { kind: 'system', id, roles: ['admin'], request: { requestId, ip: null, userAgent } };
}
