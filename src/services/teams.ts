import type { Kysely } from 'kysely';
import {
  acceptInvitationQuery,
  activeRole,
  changeMemberRoleQuery,
  countMembers,
  deleteAllDomainsQuery,
  deleteAllKeysQuery,
  deleteAllMembersQuery,
  deleteMemberQuery,
  deleteTeamByOwnerQuery,
  domainIdsOf,
  findKeyOwnership,
  findMember,
  findTeam,
  insertInvitationQuery,
  insertMemberQuery,
  insertTeamQuery,
  insertTeamAccountQuery,
  isTeamId,
  listAllTeams,
  listMembers,
  listTeamsOf,
  lockTeamQuery,
  tombstoneAllKeysQuery,
  TEAM_ID_PREFIX,
  type TeamWithCredits,
} from '../db/repositories/teams.js';
import { isUniqueViolation } from '../db/errors.js';
import { changeSteps, recordsChanged } from '../db/record-changes.js';
import type { Database, MemberRow, TeamRole } from '../db/schema.js';
import { BatchConditionFailed, inBatch, isPostgres } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import type { Clock } from '../clock.js';
import { actorId, assertAdmin, auditMeta, type Actor, type AdminActor } from './actor.js';
import { auditEventStep, auditPage, type AuditEventView } from './audit.js';
import { changeBalance } from './credits.js';
import { authorize, type Action, type Resource } from './authorize.js';
import type { Page } from './pagination.js';

export { isTeamId };

export interface TeamsDeps {
  db: Kysely<Database>;
  clock: Clock;
}

/** Why caps: invitations are free to send, and every member row is read on GET /v1/teams/{id}. */
export const MAX_TEAM_MEMBERS = 100;
export const MAX_TEAMS_PER_WALLET = 50;

export interface TeamView {
  id: string;
  name: string;
  plan: 'network';
  credits: number | null;
  role: TeamRole;
  created_at: string;
}

/** In GET /v1/teams: the caller's membership too (an invitation shows as status invited). */
export interface TeamListItem extends TeamView {
  status: 'active' | 'invited';
  invited_by: string;
  joined_at: string | null;
}

export interface MemberView {
  address: string;
  role: TeamRole;
  status: 'active' | 'invited';
  invited_by: string;
  invited_at: string;
  joined_at: string | null;
}

export interface TeamDetail extends TeamView {
  members: MemberView[];
}

function teamView(t: TeamWithCredits, role: TeamRole): TeamView {
  return {
    id: t.id,
    name: t.name,
    plan: 'network',
    credits: t.credits === null ? null : Number(t.credits),
    role,
    created_at: iso(t.created_at) as string,
  };
}

export function memberView(m: MemberRow): MemberView {
  return {
    address: m.address,
    role: m.role,
    status: m.status,
    invited_by: m.invited_by,
    invited_at: iso(m.invited_at) as string,
    joined_at: iso(m.joined_at),
  };
}

const notFound = (): AppError => new AppError('not_found', 'No such team.');

/**
 * Reads the actor's active membership (from the database, on every request: a removal takes
 * effect at once on every instance) and asks the policy. Throws 404 / 403 as it answers; returns
 * the actor's role.
 */
export async function requireTeamAccess(
  db: Kysely<Database>,
  actor: string,
  teamId: string,
  action: Action,
  resource: Omit<Extract<Resource, { kind: 'team' }>, 'kind' | 'teamId'> = {},
): Promise<TeamRole> {
  const role = isTeamId(teamId) ? await activeRole(db, teamId, actor) : null;
  const decision = authorize({ address: actor, teamRole: role }, action, { kind: 'team', teamId, ...resource });
  if (decision === 'not_found') throw notFound();
  if (decision === 'forbidden') throw new AppError('forbidden', `Your role in this team (${role}) does not allow this.`);
  return role as TeamRole;
}

/**
 * Who may act on a resource owned by `owner` (a wallet or a team id): personal resources only
 * by that wallet, team resources by the policy's answer for the actor's role. Throws `not_found`
 * with the resource's own message, or `forbidden`.
 */
export async function requireOwnerAccess(
  db: Kysely<Database>,
  actor: string,
  owner: string,
  action: Action,
  what: string,
  createdBy?: string | null,
): Promise<void> {
  if (!isTeamId(owner)) {
    if (authorize({ address: actor, teamRole: null }, action, { kind: 'personal', owner }) !== 'allow') {
      throw new AppError('not_found', `No such ${what}.`);
    }
    return;
  }
  const role = await activeRole(db, owner, actor);
  const decision = authorize({ address: actor, teamRole: role }, action, { kind: 'team', teamId: owner, createdBy });
  if (decision === 'not_found') throw new AppError('not_found', `No such ${what}.`);
  if (decision === 'forbidden') throw new AppError('forbidden', `Your role in this team (${role}) does not allow this.`);
}

/** Who acts: a session's wallet, or an API key (with the admin scope) acting for its wallet. */
export interface TeamActor {
  address: string;
  kind: 'session' | 'key';
}

/** Why: an API key acts for its own account only; team resources need the member's session. */
function sessionOnly(actor: TeamActor): void {
  if (actor.kind !== 'session') throw new AppError('insufficient_scope', 'Team resources need a session, not an API key.');
}

/**
 * The billing account (owner) of a list or a new resource: the actor's own wallet, or with
 * `team_id` the team, after the policy allowed `action` to the actor's role.
 */
export async function ownerForTeamOrSelf(
  db: Kysely<Database>,
  actor: TeamActor,
  teamId: string | undefined,
  action: Action,
): Promise<string> {
  if (teamId === undefined) return actor.address;
  sessionOnly(actor);
  await requireTeamAccess(db, actor.address, teamId, action);
  return teamId;
}

/**
 * The account a key belongs to, once the policy allowed `action` on it to the actor: the actor's
 * own wallet, or a team the actor is an active member of in a role that may. Anything else is
 * `not_found` (an API key asking about a team key too: no existence leak); a member whose role
 * does not allow it gets `forbidden`.
 */
export async function keyOwnerFor(db: Kysely<Database>, actor: TeamActor, keyId: string, action: Action): Promise<string> {
  const key = await findKeyOwnership(db, keyId);
  if (!key) throw new AppError('not_found', 'No such key.');
  if (isTeamId(key.account) && actor.kind !== 'session') throw new AppError('not_found', 'No such key.');
  await requireOwnerAccess(db, actor.address, key.account, action, 'key', key.created_by);
  return key.account;
}

export async function createTeam(deps: TeamsDeps, caller: Actor, { name }: { name: string }): Promise<TeamView> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  const now = meta.now.getTime();
  if ((await listTeamsOf(db, actor)).length >= MAX_TEAMS_PER_WALLET) {
    throw new AppError('limit_reached', `A wallet can belong to at most ${MAX_TEAMS_PER_WALLET} teams.`);
  }
  const id = newId(TEAM_ID_PREFIX.slice(0, -1), meta.now);
  await inBatch(db, [
    insertTeamQuery(db, { id, name, created_by: actor, created_at: now }),
    insertTeamAccountQuery(db, id, now),
    insertMemberQuery(db, {
      team_id: id,
      address: actor,
      role: 'owner',
      status: 'active',
      invited_by: actor,
      invited_at: now,
      joined_at: now,
    }),
    auditEventStep(db, meta, { actor, account: id, action: 'team.create', target: id, detail: { name } }),
  ]);
  return teamView({ id, name, created_by: actor, created_at: now, credits: null }, 'owner');
}

export async function listMyTeams(deps: TeamsDeps, caller: Actor): Promise<{ data: TeamListItem[] }> {
  sessionOnly(caller);
  const rows = await listTeamsOf(deps.db, caller.address);
  return {
    data: rows.map((r) => ({ ...teamView(r, r.role), status: r.status, invited_by: r.invited_by, joined_at: iso(r.joined_at) })),
  };
}

export async function getTeam(deps: TeamsDeps, caller: Actor, teamId: string): Promise<TeamDetail> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const role = await requireTeamAccess(db, actor, teamId, 'read');
  const team = await findTeam(db, teamId);
  if (!team) throw notFound();
  return { ...teamView(team, role), members: (await listMembers(db, teamId)).map(memberView) };
}

/** Membership changes count owners: on PostgreSQL they take the team row's lock first. */
function lockSteps(db: Kysely<Database>, teamId: string) {
  return isPostgres(db) ? [lockTeamQuery(db, teamId)] : [];
}

export async function inviteMember(
  deps: TeamsDeps,
  caller: Actor,
  { id: teamId, ...input }: { id: string; address: string; role: TeamRole },
): Promise<MemberView> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  await requireTeamAccess(db, actor, teamId, 'member.invite', { newRole: input.role });
  if ((await countMembers(db, teamId)) >= MAX_TEAM_MEMBERS) {
    throw new AppError('limit_reached', `A team can have at most ${MAX_TEAM_MEMBERS} members and invitations.`);
  }
  const now = meta.now.getTime();
  const row: MemberRow = {
    team_id: teamId,
    address: input.address,
    role: input.role,
    status: 'invited',
    invited_by: actor,
    invited_at: now,
    joined_at: null,
  };
  try {
    await inBatch(db, [
      { query: insertInvitationQuery(db, row), mustChange: true },
      auditEventStep(db, meta, { actor, account: teamId, action: 'team.invite', target: input.address, detail: { role: input.role } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw notFound();
    if (isUniqueViolation(err)) {
      throw new AppError('already_member', 'That wallet is already a member of the team or invited to it.', {
        extra: { param: 'address' },
      });
    }
    throw err;
  }
  return memberView(row);
}

/** The invited wallet accepts with its own session; nobody joins on someone else's word. */
export async function joinTeam(deps: TeamsDeps, caller: Actor, teamId: string): Promise<TeamView> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  const invitation = isTeamId(teamId) ? await findMember(db, teamId, actor) : undefined;
  if (invitation?.status !== 'invited') throw new AppError('not_found', 'No invitation to this team.');
  try {
    await inBatch(db, [
      { query: acceptInvitationQuery(db, teamId, actor, meta.now.getTime()), mustChange: true },
      auditEventStep(db, meta, { actor, account: teamId, action: 'team.join', target: actor, detail: { role: invitation.role } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No invitation to this team.');
    throw err;
  }
  const team = await findTeam(db, teamId);
  if (!team) throw notFound();
  return teamView(team, invitation.role);
}

async function targetOf(db: Kysely<Database>, teamId: string, address: string): Promise<MemberRow> {
  const m = await findMember(db, teamId, address);
  if (!m) throw new AppError('not_found', 'No such member.');
  return m;
}

/** A refused conditional change: the target's role moved meanwhile, it left, or it is the last owner. */
async function explainRefusal(db: Kysely<Database>, teamId: string, address: string): Promise<AppError> {
  const m = await findMember(db, teamId, address);
  if (!m) return new AppError('not_found', 'No such member.');
  if (m.role === 'owner' && m.status === 'active') return new AppError('last_owner');
  return new AppError('invalid_request', 'The member changed meanwhile; read the team again.');
}

export async function changeRole(
  deps: TeamsDeps,
  caller: Actor,
  { id: teamId, address, role }: { id: string; address: string; role: TeamRole },
): Promise<MemberView> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  await requireTeamAccess(db, actor, teamId, 'read');
  const target = await targetOf(db, teamId, address);
  await requireTeamAccess(db, actor, teamId, 'member.change_role', { target, newRole: role });
  if (target.role === role) return memberView(target);
  try {
    await inBatch(db, [
      ...lockSteps(db, teamId),
      { query: changeMemberRoleQuery(db, teamId, address, target.role, role), mustChange: true },
      auditEventStep(db, meta, { actor, account: teamId, action: 'team.role', target: address, detail: { from: target.role, to: role } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw await explainRefusal(db, teamId, address);
    throw err;
  }
  return memberView({ ...target, role });
}

/** Removal, leaving, declining an invitation: access ends with this write (membership is read per request). */
export async function removeMember(
  deps: TeamsDeps,
  caller: Actor,
  { id: teamId, address }: { id: string; address: string },
): Promise<void> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  const self = address === actor;
  // Declining: an invited wallet may delete its own invitation (it has no access otherwise).
  if (!self) await requireTeamAccess(db, actor, teamId, 'read');
  const target = isTeamId(teamId) ? await findMember(db, teamId, address) : undefined;
  if (!target) throw new AppError('not_found', self ? 'No such team.' : 'No such member.');
  if (!self) await requireTeamAccess(db, actor, teamId, 'member.remove', { target });
  const action = self ? (target.status === 'invited' ? 'team.decline' : 'team.leave') : 'team.remove';
  try {
    await inBatch(db, [
      ...lockSteps(db, teamId),
      { query: deleteMemberQuery(db, teamId, address, target.role), mustChange: true },
      auditEventStep(db, meta, { actor, account: teamId, action, target: address, detail: { role: target.role, status: target.status } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw await explainRefusal(db, teamId, address);
    throw err;
  }
}

/**
 * Deletes the team with its keys (tombstoned: usage records stay searchable) and domains. The
 * first step deletes the team row only while the actor is still an active owner, so a demotion
 * that commits first refuses it. Verification stops accepting the keys and domain tokens at once.
 */
export async function deleteTeam(deps: TeamsDeps, caller: Actor, teamId: string): Promise<void> {
  sessionOnly(caller);
  const { db } = deps;
  const actor = caller.address;
  const meta = auditMeta(caller, deps.clock.now());
  await requireTeamAccess(db, actor, teamId, 'team.delete');
  const now = meta.now.getTime();
  const domains = await domainIdsOf(db, teamId);
  try {
    await inBatch(db, [
      ...lockSteps(db, teamId),
      { query: deleteTeamByOwnerQuery(db, teamId, actor), mustChange: true },
      deleteAllMembersQuery(db, teamId),
      tombstoneAllKeysQuery(db, teamId, now),
      deleteAllKeysQuery(db, teamId),
      deleteAllDomainsQuery(db, teamId),
      auditEventStep(db, meta, { actor, account: teamId, action: 'team.delete', target: teamId, detail: { domains } }),
      ...changeSteps(db, { account: teamId }, ...domains.map((d) => ({ domain: d }))),
    ]);
    recordsChanged(db, { account: teamId }, ...domains.map((d) => ({ domain: d })));
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('forbidden', 'Only an owner can delete the team.');
    throw err;
  }
}

export async function teamAudit(
  deps: TeamsDeps,
  caller: Actor,
  { id: teamId, ...q }: { id: string; limit: number; cursor?: string; action?: string },
): Promise<Page<AuditEventView>> {
  sessionOnly(caller);
  await requireTeamAccess(deps.db, caller.address, teamId, 'team.audit');
  // As a user sees it: other wallets' IPs and browsers are not shown to team members.
  return auditPage(deps.db, q, teamId, 'user');
}

/** Platform admins: adds delta to the team's balance (from null: starts enforcing it), like an account's. */
export async function changeTeamCredits(
  deps: TeamsDeps,
  caller: AdminActor,
  { id: teamId, ...input }: { id: string; delta: number; reason: string },
): Promise<AdminTeamView> {
  assertAdmin(caller);
  const { db } = deps;
  const admin = actorId(caller);
  const meta = auditMeta(caller, deps.clock.now());
  const team = isTeamId(teamId) ? await findTeam(db, teamId) : undefined;
  if (!team) throw notFound();
  await changeBalance(db, meta, { admin, account: teamId, action: 'team.credits', input });
  return (await listTeamsForAdmin(deps, caller, { limit: 1, id: teamId })).data[0];
}

export interface AdminTeamView {
  id: string;
  name: string;
  credits: number | null;
  members: number;
  invited: number;
  created_by: string;
  created_at: string;
}

export async function listTeamsForAdmin(
  deps: TeamsDeps,
  caller: AdminActor,
  q: { limit: number; cursor?: string; id?: string },
): Promise<Page<AdminTeamView>> {
  assertAdmin(caller);
  const rows = await listAllTeams(deps.db, { cursor: q.cursor, id: q.id, limit: q.limit + 1 });
  const more = rows.length > q.limit;
  const shown = more ? rows.slice(0, q.limit) : rows;
  return {
    data: shown.map((t) => ({
      id: t.id,
      name: t.name,
      credits: t.credits === null ? null : Number(t.credits),
      members: t.members,
      invited: t.invited,
      created_by: t.created_by,
      created_at: iso(t.created_at) as string,
    })),
    has_more: more,
    next_cursor: more ? shown[shown.length - 1].id : null,
  };
}
