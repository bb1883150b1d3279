import { describe, expect, it } from 'vitest';
import { authorize, TEAM_ROLES, type Action, type Decision, type TeamRole } from './authorize.js';

const ME = '0x000000000000000000000000000000000000000A';
const OTHER = '0x000000000000000000000000000000000000000B';
const team = (extra = {}) => ({ kind: 'team' as const, teamId: 'team_x', ...extra });
const as = (teamRole: TeamRole | null) => ({ address: ME, teamRole });

describe('authorize', () => {
  it('allows a personal resource to its own wallet only, and hides it from everyone else', () => {
    expect(authorize(as(null), 'key.manage', { kind: 'personal', owner: ME })).toBe('allow');
    expect(authorize(as(null), 'read', { kind: 'personal', owner: OTHER })).toBe('not_found');
    // A team role says nothing about someone's personal resources.
    expect(authorize(as('owner'), 'read', { kind: 'personal', owner: OTHER })).toBe('not_found');
  });

  it('hides every team resource from non-members and invitees (no active role)', () => {
    const actions: Action[] = ['read', 'key.create', 'key.manage', 'domain.create', 'domain.manage', 'team.audit', 'team.delete'];
    for (const a of actions) expect(authorize(as(null), a, team()), a).toBe('not_found');
    expect(authorize(as(null), 'member.remove', team({ target: { address: OTHER, role: 'viewer' } }))).toBe('not_found');
  });

  it('answers the role table of the contract', () => {
    const table: Record<string, Record<TeamRole, Decision>> = {
      read: { owner: 'allow', admin: 'allow', member: 'allow', viewer: 'allow' },
      'key.create': { owner: 'allow', admin: 'allow', member: 'allow', viewer: 'forbidden' },
      'domain.create': { owner: 'allow', admin: 'allow', member: 'forbidden', viewer: 'forbidden' },
      'domain.manage': { owner: 'allow', admin: 'allow', member: 'forbidden', viewer: 'forbidden' },
      'team.audit': { owner: 'allow', admin: 'allow', member: 'forbidden', viewer: 'forbidden' },
      'team.delete': { owner: 'allow', admin: 'forbidden', member: 'forbidden', viewer: 'forbidden' },
    };
    for (const [action, byRole] of Object.entries(table)) {
      for (const r of TEAM_ROLES) expect(authorize(as(r), action as Action, team()), `${r} ${action}`).toBe(byRole[r]);
    }
  });

  it('lets members manage only the keys they created; owners and admins all team keys', () => {
    expect(authorize(as('member'), 'key.manage', team({ createdBy: ME }))).toBe('allow');
    expect(authorize(as('member'), 'key.manage', team({ createdBy: OTHER }))).toBe('forbidden');
    expect(authorize(as('member'), 'key.manage', team({ createdBy: null }))).toBe('forbidden');
    expect(authorize(as('viewer'), 'key.manage', team({ createdBy: ME }))).toBe('forbidden');
    expect(authorize(as('admin'), 'key.manage', team({ createdBy: OTHER }))).toBe('allow');
    expect(authorize(as('owner'), 'key.manage', team({ createdBy: null }))).toBe('allow');
  });

  it('keeps owners out of admins reach: no inviting, promoting to, demoting or removing an owner', () => {
    const owner = { address: OTHER, role: 'owner' as const };
    const viewer = { address: OTHER, role: 'viewer' as const };
    expect(authorize(as('admin'), 'member.invite', team({ newRole: 'owner' }))).toBe('forbidden');
    expect(authorize(as('admin'), 'member.invite', team({ newRole: 'admin' }))).toBe('allow');
    expect(authorize(as('admin'), 'member.change_role', team({ target: owner, newRole: 'admin' }))).toBe('forbidden');
    expect(authorize(as('admin'), 'member.change_role', team({ target: viewer, newRole: 'owner' }))).toBe('forbidden');
    expect(authorize(as('admin'), 'member.change_role', team({ target: viewer, newRole: 'admin' }))).toBe('allow');
    expect(authorize(as('admin'), 'member.remove', team({ target: owner }))).toBe('forbidden');
    expect(authorize(as('admin'), 'member.remove', team({ target: viewer }))).toBe('allow');
    expect(authorize(as('owner'), 'member.change_role', team({ target: owner, newRole: 'viewer' }))).toBe('allow');
    expect(authorize(as('owner'), 'member.invite', team({ newRole: 'owner' }))).toBe('allow');
    for (const r of ['member', 'viewer'] as const) {
      expect(authorize(as(r), 'member.invite', team({ newRole: 'viewer' }))).toBe('forbidden');
      expect(authorize(as(r), 'member.remove', team({ target: viewer }))).toBe('forbidden');
    }
  });

  it('lets anyone remove themselves (leaving)', () => {
    for (const r of TEAM_ROLES) {
      expect(authorize(as(r), 'member.remove', team({ target: { address: ME, role: r } })), r).toBe('allow');
    }
  });
});
