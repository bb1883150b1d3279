/**
 * Teams (../shared/API.md "Teams"): several wallets sharing network keys, domains and a balance.
 * Typed calls over an `Api`; every path segment is URL-encoded.
 */
import type { Page } from '../../../src/contract/views.js';
import type { Api } from './api.js';

export type TeamRole = 'owner' | 'admin' | 'member' | 'viewer';
export const TEAM_ROLES: readonly TeamRole[] = ['owner', 'admin', 'member', 'viewer'];
export type TeamMemberStatus = 'active' | 'invited';

/** A team as created, joined or read, with the caller's own role. */
export interface TeamView {
  id: string;
  name: string;
  plan: 'network';
  /** The team's balance: null until an admin grants credits. */
  credits: number | null;
  role: TeamRole;
  created_at: string;
}

/** A team in `GET /v1/teams`: with the caller's membership, `invited` until it joins. */
export interface TeamMembershipView extends TeamView {
  status: TeamMemberStatus;
  invited_by: string;
  joined_at: string | null;
}

export interface TeamMemberView {
  address: string;
  role: TeamRole;
  status: TeamMemberStatus;
  invited_by: string;
  invited_at: string;
  joined_at: string | null;
}

/** `GET /v1/teams/{id}`. */
export interface TeamDetailView extends TeamView {
  members: TeamMemberView[];
}

/** An audit event (`GET /v1/teams/{id}/audit`, like `GET /v1/audit`). */
export interface AuditEventView {
  id: string;
  at: string;
  actor: string | null;
  /** The account or team the event belongs to. */
  account?: string | null;
  action: string;
  target: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: unknown;
}

/** `?a=1&b=2` of the defined values (empty when none). */
export function queryString(params: Record<string, string | number | null | undefined>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export interface TeamsApi {
  /** The caller's teams with its role, including invitations it has not answered (`status: 'invited'`). */
  list(): Promise<Page<TeamMembershipView>>;
  create(name: string): Promise<TeamView>;
  get(id: string): Promise<TeamDetailView>;
  /** Owners and admins: invites a wallet (it has no access until it joins with its own session). */
  invite(id: string, address: string, role: TeamRole): Promise<TeamMemberView>;
  /** Accepts an invitation of the signed-in wallet. */
  join(id: string): Promise<TeamView>;
  /** Declines an invitation of the signed-in wallet (removes its own membership). */
  decline(id: string): Promise<void>;
  setRole(id: string, address: string, role: TeamRole): Promise<TeamMemberView>;
  /** Owners and admins remove a member (or withdraw an invitation); anyone may remove themselves. */
  removeMember(id: string, address: string): Promise<void>;
  /** Leaves the team (the last owner cannot: 409 `last_owner`). */
  leave(id: string): Promise<void>;
  /** Owners only: deletes the team with its keys and domains. */
  remove(id: string): Promise<void>;
  /** Owners and admins: the team's audit events, newest first. */
  audit(id: string, opts?: { cursor?: string; limit?: number; action?: string }): Promise<Page<AuditEventView>>;
}

const enc = encodeURIComponent;

/** `me` gives the signed-in wallet's address (for decline and leave). */
export function createTeamsApi(api: Api, me: () => string | null): TeamsApi {
  const self = (): string => {
    const address = me();
    if (!address) throw new Error('Sign in first.');
    return address;
  };
  const member = (id: string, address: string): string => `/v1/teams/${enc(id)}/members/${enc(address)}`;
  return {
    list: () => api.get<Page<TeamMembershipView>>('/v1/teams'),
    create: (name) => api.post<TeamView>('/v1/teams', { name }),
    get: (id) => api.get<TeamDetailView>(`/v1/teams/${enc(id)}`),
    invite: (id, address, role) => api.post<TeamMemberView>(`/v1/teams/${enc(id)}/members`, { address, role }),
    join: (id) => api.post<TeamView>(`/v1/teams/${enc(id)}/join`),
    decline: async (id) => api.del(member(id, self())),
    setRole: (id, address, role) => api.patch<TeamMemberView>(member(id, address), { role }),
    removeMember: (id, address) => api.del(member(id, address)),
    leave: async (id) => api.del(member(id, self())),
    remove: (id) => api.del(`/v1/teams/${enc(id)}`),
    audit: (id, o = {}) =>
      api.get<Page<AuditEventView>>(`/v1/teams/${enc(id)}/audit${queryString({ cursor: o.cursor, limit: o.limit, action: o.action })}`),
  };
}
