import type { TeamRole } from '../db/schema.js';

/*
 * The one place that answers "may this actor do this to this resource", for personal and team
 * resources alike. Pure: the caller reads the facts (who owns the resource, the actor's active
 * membership, read from the database on every request) and every route or service asks here.
 *
 * Answers: 'allow'; 'not_found' when the actor may not even know the resource exists (another
 * account's, another team's, a team the actor is not an active member of: 404, no existence
 * leak); 'forbidden' when the actor is a member whose role does not allow it (403).
 */

export type { TeamRole };

export { TEAM_ROLES } from '../contract/teams.js';

export type Action =
  | 'read' // a key, a domain, usage, the team and its members
  | 'key.create'
  | 'key.manage' // update, rotate, delete a key
  | 'domain.create'
  | 'domain.manage' // delete, rotate its token, prove ownership
  | 'team.audit'
  | 'team.delete'
  | 'member.invite'
  | 'member.change_role'
  | 'member.remove';

/** Who owns the resource: a wallet (personal) or a team (with what the team-specific actions need). */
export type Resource =
  | { kind: 'personal'; owner: string }
  | {
      kind: 'team';
      teamId: string;
      /** key.manage: the member wallet that created the key (null: unknown, e.g. made by an admin). */
      createdBy?: string | null;
      /** member.*: the member acted upon, with its current role. */
      target?: { address: string; role: TeamRole };
      /** member.invite / member.change_role: the role given. */
      newRole?: TeamRole;
    };

export interface Actor {
  address: string;
  /** The actor's ACTIVE membership of the resource's team (null: none, or only invited). */
  teamRole: TeamRole | null;
}

export type Decision = 'allow' | 'not_found' | 'forbidden';

const MANAGERS: ReadonlySet<TeamRole> = new Set(['owner', 'admin']);

export function authorize(actor: Actor, action: Action, resource: Resource): Decision {
  if (resource.kind === 'personal') {
    // Personal resources: the wallet itself, nobody else (platform admins are handled by the caller
    // where the contract gives them more, e.g. listing every domain).
    return resource.owner === actor.address ? 'allow' : 'not_found';
  }
  const role = actor.teamRole;
  // An invitation gives no access until the invited wallet joins: same answer as a stranger.
  if (role === null) return 'not_found';
  const yes = (ok: boolean): Decision => (ok ? 'allow' : 'forbidden');
  switch (action) {
    case 'read':
      return 'allow';
    case 'key.create':
      return yes(role !== 'viewer');
    case 'key.manage':
      // Members manage the keys they created; owners and admins every team key.
      return yes(MANAGERS.has(role) || (role === 'member' && !!resource.createdBy && resource.createdBy === actor.address));
    case 'domain.create':
    case 'domain.manage':
    case 'team.audit':
      return yes(MANAGERS.has(role));
    case 'team.delete':
      return yes(role === 'owner');
    case 'member.invite':
      // Admins manage members other than owners: they cannot make one.
      return yes(role === 'owner' || (role === 'admin' && resource.newRole !== 'owner'));
    case 'member.change_role': {
      const t = resource.target;
      if (!t) return 'forbidden';
      return yes(role === 'owner' || (role === 'admin' && t.role !== 'owner' && resource.newRole !== 'owner'));
    }
    case 'member.remove': {
      const t = resource.target;
      if (!t) return 'forbidden';
      // Anyone may leave (the last owner is refused by the service, 409 last_owner).
      if (t.address === actor.address) return 'allow';
      return yes(role === 'owner' || (role === 'admin' && t.role !== 'owner'));
    }
  }
}
