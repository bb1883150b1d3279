import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import type { AdminTeam, AuditEvent, ErrorBody, Page, Team, TeamList, TeamMember, TeamWithMembers } from './support/responses.js';

/** A team made by `owner`, with each other wallet invited at its role and joined. */
async function teamWith(h: Harness, owner: SignedIn, members: [SignedIn, string][] = [], name = 'acme'): Promise<string> {
  const res = await post(h, '/v1/teams', { name }, owner.token);
  const team = await json<Team>(res);
  if (res.status !== 201) throw new Error(`create team: ${res.status} ${JSON.stringify(team)}`);
  for (const [m, role] of members) {
    const inv = await post(h, `/v1/teams/${team.id}/members`, { address: m.address, role }, owner.token);
    if (inv.status !== 201) throw new Error(`invite: ${inv.status} ${await inv.text()}`);
    const joined = await post(h, `/v1/teams/${team.id}/join`, {}, m.token);
    if (joined.status !== 200) throw new Error(`join: ${joined.status} ${await joined.text()}`);
  }
  return team.id;
}

async function code(res: Response): Promise<string> {
  return (await json<ErrorBody>(res)).error?.code;
}

describe.each(targets())('teams on $name', (target) => {
  let h: Harness;
  let owner: SignedIn;
  let admin: SignedIn;
  let member: SignedIn;
  let viewer: SignedIn;
  let stranger: SignedIn;
  let platformAdmin: SignedIn;
  let team: string;
  beforeAll(async () => {
    h = await target.start();
    [owner, admin, member, viewer, stranger] = await Promise.all([signIn(h), signIn(h), signIn(h), signIn(h), signIn(h)]);
    platformAdmin = await signInAdmin(h);
    team = await teamWith(h, owner, [
      [admin, 'admin'],
      [member, 'member'],
      [viewer, 'viewer'],
    ]);
  });
  afterAll(async () => h.close());

  it('creates a team whose creator is its owner, with no enforced balance', async () => {
    const res = await post(h, '/v1/teams', { name: 'Node Runners' }, owner.token);
    expect(res.status).toBe(201);
    const t = await json<Team>(res);
    expect(t).toMatchObject({ name: 'Node Runners', plan: 'network', credits: null, role: 'owner' });
    expect(t.id).toMatch(/^team_/);
    const list = await json<TeamList>(await get(h, '/v1/teams', owner.token));
    expect(list.data.find((x) => x.id === t.id)).toMatchObject({ role: 'owner', status: 'active' });
  });

  it('refuses a bad team name and an unauthenticated call', async () => {
    const bad = await post(h, '/v1/teams', { name: ' x' }, owner.token);
    expect(bad.status).toBe(400);
    expect((await json<ErrorBody>(bad)).error.param).toBe('name');
    expect((await post(h, '/v1/teams', { name: 'x' })).status).toBe(401);
  });

  it('shows the team and its members to every active member, with roles', async () => {
    for (const s of [owner, admin, member, viewer]) {
      const res = await get(h, `/v1/teams/${team}`, s.token);
      expect(res.status).toBe(200);
      const t = await json<TeamWithMembers>(res);
      expect(t.members).toHaveLength(4);
      expect(t.members.every((m) => m.status === 'active' && m.invited_by === owner.address)).toBe(true);
    }
    expect((await json<TeamWithMembers>(await get(h, `/v1/teams/${team}`, viewer.token))).role).toBe('viewer');
  });

  it('answers 404 to a non-member on every team resource', async () => {
    const paths: [string, string, unknown?][] = [
      ['GET', `/v1/teams/${team}`],
      ['DELETE', `/v1/teams/${team}`],
      ['GET', `/v1/teams/${team}/audit`],
      ['POST', `/v1/teams/${team}/members`, { address: stranger.address, role: 'member' }],
      ['POST', `/v1/teams/${team}/join`, {}],
      ['PATCH', `/v1/teams/${team}/members/${member.address}`, { role: 'viewer' }],
      ['DELETE', `/v1/teams/${team}/members/${member.address}`],
    ];
    for (const [method, path, body] of paths) {
      const res = await h.request(path, {
        method,
        headers: { authorization: `Bearer ${stranger.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await code(res)).toBe('not_found');
    }
    expect((await get(h, '/v1/teams/team_01NOSUCHTEAM0000000000000000', owner.token)).status).toBe(404);
  });

  it('gives an invitation no access until the invited wallet joins with its own session', async () => {
    const w = await signIn(h);
    const inv = await post(h, `/v1/teams/${team}/members`, { address: w.address.toLowerCase(), role: 'admin' }, owner.token);
    expect(inv.status).toBe(201);
    expect(await json<TeamMember>(inv)).toMatchObject({
      address: w.address,
      role: 'admin',
      status: 'invited',
      invited_by: owner.address,
      joined_at: null,
    });
    // It sees the invitation, and nothing else.
    expect((await json<TeamList>(await get(h, '/v1/teams', w.token))).data).toEqual([
      expect.objectContaining({ id: team, role: 'admin', status: 'invited', invited_by: owner.address, joined_at: null }),
    ]);
    expect((await get(h, `/v1/teams/${team}`, w.token)).status).toBe(404);
    expect((await get(h, `/v1/teams/${team}/audit`, w.token)).status).toBe(404);
    expect((await post(h, `/v1/teams/${team}/members`, { address: stranger.address, role: 'viewer' }, w.token)).status).toBe(404);
    // Nobody joins for it: another wallet's join finds no invitation.
    expect((await post(h, `/v1/teams/${team}/join`, {}, stranger.token)).status).toBe(404);
    const joined = await post(h, `/v1/teams/${team}/join`, {}, w.token);
    expect(joined.status).toBe(200);
    expect(await json<Team>(joined)).toMatchObject({ id: team, role: 'admin' });
    expect((await get(h, `/v1/teams/${team}/audit`, w.token)).status).toBe(200);
    // Joining twice: no invitation left.
    expect((await post(h, `/v1/teams/${team}/join`, {}, w.token)).status).toBe(404);
    expect((await del(h, `/v1/teams/${team}/members/${w.address}`, w.token)).status).toBe(204);
  });

  it('lets an invited wallet decline by deleting its own invitation', async () => {
    const w = await signIn(h);
    await post(h, `/v1/teams/${team}/members`, { address: w.address, role: 'member' }, admin.token);
    expect((await del(h, `/v1/teams/${team}/members/${w.address}`, w.token)).status).toBe(204);
    expect((await json<TeamList>(await get(h, '/v1/teams', w.token))).data).toEqual([]);
    expect((await post(h, `/v1/teams/${team}/join`, {}, w.token)).status).toBe(404);
  });

  it('refuses to invite a wallet twice, and a malformed address', async () => {
    const dup = await post(h, `/v1/teams/${team}/members`, { address: member.address, role: 'viewer' }, owner.token);
    expect(dup.status).toBe(409);
    expect(await code(dup)).toBe('already_member');
    const bad = await post(h, `/v1/teams/${team}/members`, { address: '0x1234', role: 'viewer' }, owner.token);
    expect(bad.status).toBe(400);
    expect((await json<ErrorBody>(bad)).error.param).toBe('address');
    const role = await post(h, `/v1/teams/${team}/members`, { address: stranger.address, role: 'boss' }, owner.token);
    expect(role.status).toBe(400);
  });

  it('refuses member management to members and viewers (403), and owner invitations to admins', async () => {
    const w = await signIn(h);
    for (const s of [member, viewer]) {
      const inv = await post(h, `/v1/teams/${team}/members`, { address: w.address, role: 'viewer' }, s.token);
      expect(inv.status).toBe(403);
      expect(await code(inv)).toBe('forbidden');
      expect(await code(await patch(h, `/v1/teams/${team}/members/${viewer.address}`, { role: 'member' }, s.token))).toBe('forbidden');
      expect(await code(await del(h, `/v1/teams/${team}/members/${admin.address}`, s.token))).toBe('forbidden');
      expect(await code(await get(h, `/v1/teams/${team}/audit`, s.token))).toBe('forbidden');
      expect(await code(await del(h, `/v1/teams/${team}`, s.token))).toBe('forbidden');
    }
    expect(await code(await post(h, `/v1/teams/${team}/members`, { address: w.address, role: 'owner' }, admin.token))).toBe('forbidden');
    expect(await code(await del(h, `/v1/teams/${team}`, admin.token))).toBe('forbidden');
  });

  it('lets an admin manage non-owners but never remove or demote an owner, nor promote to owner', async () => {
    const t = await teamWith(h, owner, [
      [admin, 'admin'],
      [viewer, 'viewer'],
    ]);
    expect(await code(await patch(h, `/v1/teams/${t}/members/${owner.address}`, { role: 'member' }, admin.token))).toBe('forbidden');
    expect(await code(await del(h, `/v1/teams/${t}/members/${owner.address}`, admin.token))).toBe('forbidden');
    expect(await code(await patch(h, `/v1/teams/${t}/members/${viewer.address}`, { role: 'owner' }, admin.token))).toBe('forbidden');
    const up = await patch(h, `/v1/teams/${t}/members/${viewer.address}`, { role: 'member' }, admin.token);
    expect(up.status).toBe(200);
    expect(await json<TeamMember>(up)).toMatchObject({ address: viewer.address, role: 'member', status: 'active' });
    expect((await del(h, `/v1/teams/${t}/members/${viewer.address}`, admin.token)).status).toBe(204);
    expect((await get(h, `/v1/teams/${t}`, viewer.token)).status).toBe(404);
    expect((await patch(h, `/v1/teams/${t}/members/${stranger.address}`, { role: 'member' }, admin.token)).status).toBe(404);
  });

  it('keeps the last owner: it cannot leave or be demoted (409 last_owner), a second owner can', async () => {
    const other = await signIn(h);
    const t = await teamWith(h, owner, [[other, 'admin']]);
    const leave = await del(h, `/v1/teams/${t}/members/${owner.address}`, owner.token);
    expect(leave.status).toBe(409);
    expect(await code(leave)).toBe('last_owner');
    const demote = await patch(h, `/v1/teams/${t}/members/${owner.address}`, { role: 'admin' }, owner.token);
    expect(demote.status).toBe(409);
    expect(await code(demote)).toBe('last_owner');
    // With a second owner, the first may go.
    expect((await patch(h, `/v1/teams/${t}/members/${other.address}`, { role: 'owner' }, owner.token)).status).toBe(200);
    expect((await patch(h, `/v1/teams/${t}/members/${owner.address}`, { role: 'viewer' }, owner.token)).status).toBe(200);
    expect(await code(await del(h, `/v1/teams/${t}/members/${other.address}`, other.token))).toBe('last_owner');
    expect((await del(h, `/v1/teams/${t}/members/${owner.address}`, owner.token)).status).toBe(204);
    expect((await get(h, `/v1/teams/${t}`, owner.token)).status).toBe(404);
  });

  it("ends a removed member's access on its very next request with the same session", async () => {
    const w = await signIn(h);
    const t = await teamWith(h, owner, [[w, 'admin']]);
    expect((await get(h, `/v1/teams/${t}`, w.token)).status).toBe(200);
    expect((await del(h, `/v1/teams/${t}/members/${w.address}`, owner.token)).status).toBe(204);
    expect((await get(h, `/v1/teams/${t}`, w.token)).status).toBe(404);
    expect((await get(h, `/v1/teams/${t}/audit`, w.token)).status).toBe(404);
    expect((await post(h, `/v1/teams/${t}/members`, { address: stranger.address, role: 'viewer' }, w.token)).status).toBe(404);
    expect((await json<TeamList>(await get(h, '/v1/teams', w.token))).data.map((x) => x.id)).not.toContain(t);
  });

  it('audits every team change with the acting wallet, readable by owners and admins', async () => {
    const w = await signIn(h);
    const t = await teamWith(h, owner, [[admin, 'admin']]);
    await post(h, `/v1/teams/${t}/members`, { address: w.address, role: 'viewer' }, admin.token);
    await post(h, `/v1/teams/${t}/join`, {}, w.token);
    await patch(h, `/v1/teams/${t}/members/${w.address}`, { role: 'member' }, owner.token);
    await del(h, `/v1/teams/${t}/members/${w.address}`, admin.token);
    const res = await get(h, `/v1/teams/${t}/audit?limit=100`, admin.token);
    expect(res.status).toBe(200);
    const events = (await json<Page<AuditEvent>>(res)).data.reverse();
    expect(events.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['team.create', owner.address, t],
      ['team.invite', owner.address, admin.address],
      ['team.join', admin.address, admin.address],
      ['team.invite', admin.address, w.address],
      ['team.join', w.address, w.address],
      ['team.role', owner.address, w.address],
      ['team.remove', admin.address, w.address],
    ]);
    expect(events.every((e) => e.account === t && e.request_id)).toBe(true);
    expect(events[5].detail).toEqual({ from: 'viewer', to: 'member' });
  });

  it('deletes a team (owner): members lose it at once', async () => {
    const t = await teamWith(h, owner, [[member, 'member']]);
    expect((await del(h, `/v1/teams/${t}`, owner.token)).status).toBe(204);
    expect((await get(h, `/v1/teams/${t}`, owner.token)).status).toBe(404);
    expect((await get(h, `/v1/teams/${t}`, member.token)).status).toBe(404);
    expect((await json<TeamList>(await get(h, '/v1/teams', member.token))).data.map((x) => x.id)).not.toContain(t);
  });

  it('grants team credits (platform admins only) and lists teams for admins', async () => {
    const t = await teamWith(h, owner);
    const body = { delta: 500, reason: 'prepaid' };
    expect(await code(await post(h, `/v1/admin/teams/${t}/credits`, body, owner.token))).toBe('forbidden');
    const res = await post(h, `/v1/admin/teams/${t}/credits`, body, platformAdmin.token);
    expect(res.status).toBe(200);
    expect(await json<AdminTeam>(res)).toMatchObject({ id: t, credits: 500, members: 1 });
    expect((await json<TeamWithMembers>(await get(h, `/v1/teams/${t}`, owner.token))).credits).toBe(500);
    const below = await post(h, `/v1/admin/teams/${t}/credits`, { delta: -501, reason: 'x' }, platformAdmin.token);
    expect(below.status).toBe(409);
    expect(await code(below)).toBe('insufficient_credits');
    expect((await post(h, `/v1/admin/teams/${t}/credits`, { delta: 0, reason: 'x' }, platformAdmin.token)).status).toBe(400);
    expect((await post(h, '/v1/admin/teams/team_nope/credits', body, platformAdmin.token)).status).toBe(404);
    // A wallet address is not a team.
    expect((await post(h, `/v1/admin/teams/${owner.address}/credits`, body, platformAdmin.token)).status).toBe(404);
    const list = await json<Page<AdminTeam>>(await get(h, '/v1/admin/teams?limit=100', platformAdmin.token));
    expect(list.data.find((x) => x.id === t)).toMatchObject({ credits: 500, members: 1, invited: 0, created_by: owner.address });
    expect(await code(await get(h, '/v1/admin/teams', owner.token))).toBe('forbidden');
    const audit = (await json<Page<AuditEvent>>(await get(h, `/v1/teams/${t}/audit`, owner.token))).data;
    expect(audit[0]).toMatchObject({ action: 'team.credits', actor: platformAdmin.address, detail: body });
  });
});
