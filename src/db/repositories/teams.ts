import type {
  DeleteQueryBuilder,
  DeleteResult,
  InsertQueryBuilder,
  InsertResult,
  RawBuilder,
  SelectQueryBuilder,
  UpdateQueryBuilder,
  UpdateResult,
} from 'kysely';
import { sql, type Kysely } from 'kysely';
import type { Database, MemberRow, TeamRole, TeamRow } from '../schema.js';
import type { Executor } from '../tx.js';

/** A team prefix on an id is what tells a team's billing account from a wallet's. */
export const TEAM_ID_PREFIX = 'team_';

export function isTeamId(account: string): boolean {
  return account.startsWith(TEAM_ID_PREFIX);
}

export function insertTeamQuery(db: Kysely<Database>, row: TeamRow): InsertQueryBuilder<Database, 'teams', InsertResult> {
  return db.insertInto('teams').values(row);
}

/** The team's billing principal: plan network (the column's default), no enforced balance until an admin grants credits. */
export function insertTeamAccountQuery(
  db: Kysely<Database>,
  teamId: string,
  now: number,
): InsertQueryBuilder<Database, 'accounts', InsertResult> {
  return db.insertInto('accounts').values({ address: teamId, credits: null, created_at: now, last_sign_in_at: null });
}

export function insertMemberQuery(db: Kysely<Database>, row: MemberRow): InsertQueryBuilder<Database, 'team_members', InsertResult> {
  return db.insertInto('team_members').values(row);
}

/**
 * An invitation, inserted only while the team exists (a concurrent deletion leaves no orphan row):
 * changes no row when the team is gone; a unique violation when the wallet is already listed.
 */
export function insertInvitationQuery(db: Kysely<Database>, row: MemberRow): InsertQueryBuilder<Database, 'team_members', InsertResult> {
  return db
    .insertInto('team_members')
    .columns(['team_id', 'address', 'role', 'status', 'invited_by', 'invited_at', 'joined_at'])
    .expression(
      db
        .selectFrom('teams')
        .select([
          'id',
          sql.lit(row.address).as('address'),
          sql.lit(row.role).as('role'),
          sql.lit('invited').as('status'),
          sql.lit(row.invited_by).as('invited_by'),
          sql<number>`CAST(${row.invited_at} AS BIGINT)`.as('invited_at'),
          sql<null>`NULL`.as('joined_at'),
        ])
        .where('id', '=', row.team_id),
    );
}

export interface TeamWithCredits extends TeamRow {
  credits: number | null;
}

export async function findTeam(db: Executor, id: string): Promise<TeamWithCredits | undefined> {
  return db
    .selectFrom('teams as t')
    .innerJoin('accounts as a', 'a.address', 't.id')
    .select(['t.id', 't.name', 't.created_by', 't.created_at', 'a.credits'])
    .where('t.id', '=', id)
    .executeTakeFirst();
}

export async function findMember(db: Executor, teamId: string, address: string): Promise<MemberRow | undefined> {
  return db.selectFrom('team_members').selectAll().where('team_id', '=', teamId).where('address', '=', address).executeTakeFirst();
}

/** The wallet's role in the team if it is an ACTIVE member (an invitation is no access), else null. */
export async function activeRole(db: Executor, teamId: string, address: string): Promise<TeamRole | null> {
  const row = await db
    .selectFrom('team_members')
    .select('role')
    .where('team_id', '=', teamId)
    .where('address', '=', address)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return row ? row.role : null;
}

export interface MembershipOfWallet extends TeamWithCredits {
  role: TeamRole;
  status: 'invited' | 'active';
  invited_by: string;
  invited_at: number;
  joined_at: number | null;
}

/** Teams the wallet belongs to or is invited to, newest team first. */
export async function listTeamsOf(db: Executor, address: string): Promise<MembershipOfWallet[]> {
  return db
    .selectFrom('team_members as m')
    .innerJoin('teams as t', 't.id', 'm.team_id')
    .innerJoin('accounts as a', 'a.address', 't.id')
    .select([
      't.id',
      't.name',
      't.created_by',
      't.created_at',
      'a.credits',
      'm.role',
      'm.status',
      'm.invited_by',
      'm.invited_at',
      'm.joined_at',
    ])
    .where('m.address', '=', address)
    .orderBy('t.id', 'desc')
    .execute();
}

export async function listMembers(db: Executor, teamId: string): Promise<MemberRow[]> {
  return db.selectFrom('team_members').selectAll().where('team_id', '=', teamId).orderBy('invited_at').orderBy('address').execute();
}

export async function countMembers(db: Executor, teamId: string): Promise<number> {
  const r = await db
    .selectFrom('team_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('team_id', '=', teamId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Every team with its balance and member counts (platform admins, the CLI). */
export async function listAllTeams(
  db: Executor,
  f: { cursor?: string; limit: number; id?: string },
): Promise<(TeamWithCredits & { members: number; invited: number })[]> {
  let q = db
    .selectFrom('teams as t')
    .innerJoin('accounts as a', 'a.address', 't.id')
    .select(['t.id', 't.name', 't.created_by', 't.created_at', 'a.credits'])
    .select([
      sql<number>`(SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.status = 'active')`.as('members'),
      sql<number>`(SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.status = 'invited')`.as('invited'),
    ]);
  if (f.cursor) q = q.where('t.id', '<', f.cursor);
  if (f.id) q = q.where('t.id', '=', f.id);
  const rows = await q.orderBy('t.id', 'desc').limit(f.limit).execute();
  return rows.map((r) => ({ ...r, members: Number(r.members), invited: Number(r.invited) }));
}

/** PostgreSQL: serialises membership changes of one team (the last-owner rule counts owners). */
export function lockTeamQuery(db: Kysely<Database>, teamId: string): SelectQueryBuilder<Database, 'teams', { id: string }> {
  return db.selectFrom('teams').select('id').where('id', '=', teamId).forUpdate();
}

/** True unless the row is the team's only active owner: the WHERE of every change that could leave it ownerless. */
function notLastOwner(teamId: string): RawBuilder<boolean> {
  return sql<boolean>`(NOT (role = 'owner' AND status = 'active') OR (SELECT COUNT(*) FROM team_members o WHERE o.team_id = ${teamId} AND o.role = 'owner' AND o.status = 'active') > 1)`;
}

export function acceptInvitationQuery(
  db: Kysely<Database>,
  teamId: string,
  address: string,
  now: number,
): UpdateQueryBuilder<Database, 'team_members', 'team_members', UpdateResult> {
  return db
    .updateTable('team_members')
    .set({ status: 'active', joined_at: now })
    .where('team_id', '=', teamId)
    .where('address', '=', address)
    .where('status', '=', 'invited');
}

/**
 * Changes a member's role, conditional on the role the decision was made against, and (when it
 * takes an active owner's role away) on another active owner remaining. Changes no row otherwise.
 */
export function changeMemberRoleQuery(
  db: Kysely<Database>,
  teamId: string,
  address: string,
  from: TeamRole,
  to: TeamRole,
): UpdateQueryBuilder<Database, 'team_members', 'team_members', UpdateResult> {
  let q = db
    .updateTable('team_members')
    .set({ role: to })
    .where('team_id', '=', teamId)
    .where('address', '=', address)
    .where('role', '=', from);
  if (to !== 'owner') q = q.where(notLastOwner(teamId));
  return q;
}

/** Removes a member (or an invitation) on the same conditions as a role change away from owner. */
export function deleteMemberQuery(
  db: Kysely<Database>,
  teamId: string,
  address: string,
  from: TeamRole,
): DeleteQueryBuilder<Database, 'team_members', DeleteResult> {
  return db
    .deleteFrom('team_members')
    .where('team_id', '=', teamId)
    .where('address', '=', address)
    .where('role', '=', from)
    .where(notLastOwner(teamId));
}

/** Deletes the team row only while `owner` is still one of its active owners (first step of a deletion). */
export function deleteTeamByOwnerQuery(
  db: Kysely<Database>,
  teamId: string,
  owner: string,
): DeleteQueryBuilder<Database, 'teams', DeleteResult> {
  return db
    .deleteFrom('teams')
    .where('id', '=', teamId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('team_members as m')
          .select('m.address')
          .where('m.team_id', '=', teamId)
          .where('m.address', '=', owner)
          .where('m.role', '=', 'owner')
          .where('m.status', '=', 'active'),
      ),
    );
}

export function deleteAllMembersQuery(db: Kysely<Database>, teamId: string): DeleteQueryBuilder<Database, 'team_members', DeleteResult> {
  return db.deleteFrom('team_members').where('team_id', '=', teamId);
}

/** Tombstones for every key of the account (usage records stay searchable by request id). */
export function tombstoneAllKeysQuery(
  db: Kysely<Database>,
  account: string,
  now: number,
): InsertQueryBuilder<Database, 'deleted_keys', InsertResult> {
  return db
    .insertInto('deleted_keys')
    .columns(['id', 'account', 'type', 'deleted_at'])
    .expression(
      db
        .selectFrom('api_keys')
        .select(['id', 'account', 'type', sql<number>`CAST(${now} AS BIGINT)`.as('deleted_at')])
        .where('account', '=', account),
    );
}

export function deleteAllKeysQuery(db: Kysely<Database>, account: string): DeleteQueryBuilder<Database, 'api_keys', DeleteResult> {
  return db.deleteFrom('api_keys').where('account', '=', account);
}

export async function domainIdsOf(db: Executor, owner: string): Promise<string[]> {
  return (await db.selectFrom('domains').select('id').where('owner', '=', owner).execute()).map((r) => r.id);
}

export function deleteAllDomainsQuery(db: Kysely<Database>, owner: string): DeleteQueryBuilder<Database, 'domains', DeleteResult> {
  return db.deleteFrom('domains').where('owner', '=', owner);
}

/** Who owns a key and which member created it (team keys), for the authorization decision. */
export async function findKeyOwnership(db: Executor, id: string): Promise<{ account: string; created_by: string | null } | undefined> {
  const row = await db.selectFrom('api_keys').select(['account', 'created_by']).where('id', '=', id).executeTakeFirst();
  return row ? { account: row.account, created_by: row.created_by } : undefined;
}
