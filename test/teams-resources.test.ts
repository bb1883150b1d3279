import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import type {
  Account,
  Application,
  AuditEvent,
  Domain,
  DomainWithToken,
  ErrorBody,
  Key,
  Page,
  Team,
  TeamWithMembers,
  UsageRecorded,
  UsageSummary,
} from './support/responses.js';

async function code(res: Response): Promise<string> {
  return (await json<ErrorBody>(res)).error?.code;
}

/** Team keys and domains: created with team_id, read with ?team_id=, each member acting per its role. */
describe.each(targets())('team keys, domains and usage on $name', (target) => {
  let h: Harness;
  let owner: SignedIn;
  let admin: SignedIn;
  let member: SignedIn;
  let member2: SignedIn;
  let viewer: SignedIn;
  let stranger: SignedIn;
  let invitee: SignedIn;
  let platformAdmin: SignedIn;
  let team: string;
  let networkDomain: string;
  let publicDomain: string;

  async function newTeam(members: [SignedIn, string][]): Promise<string> {
    const t = (await json<Team>(await post(h, '/v1/teams', { name: 'resources' }, owner.token))).id as string;
    for (const [m, role] of members) {
      expect((await post(h, `/v1/teams/${t}/members`, { address: m.address, role }, owner.token)).status).toBe(201);
      expect((await post(h, `/v1/teams/${t}/join`, {}, m.token)).status).toBe(200);
    }
    return t;
  }

  beforeAll(async () => {
    h = await target.start();
    [owner, admin, member, member2, viewer, stranger, invitee] = await Promise.all(Array.from({ length: 7 }, () => signIn(h)));
    platformAdmin = await signInAdmin(h);
    team = await newTeam([
      [admin, 'admin'],
      [member, 'member'],
      [member2, 'member'],
      [viewer, 'viewer'],
    ]);
    await post(h, `/v1/teams/${team}/members`, { address: invitee.address, role: 'admin' }, owner.token);
    networkDomain = (await createDomain(h, stranger.token, uniqueDomainName('tnet'))).token;
    publicDomain = (await createDomain(h, platformAdmin.token, uniqueDomainName('tpub'), 'public')).token;
  });
  afterAll(async () => h.close());

  it('creates a team key (a network key) that lists under ?team_id= for every member, not under anyone personal keys', async () => {
    const k = await createKey(h, member.token, { name: 'team-key-1', team_id: team });
    expect(k).toMatchObject({ type: 'network', team_id: team, created_by: member.address });
    expect(k.key).toMatch(/_net_/);
    for (const s of [owner, admin, member, member2, viewer]) {
      const res = await get(h, `/v1/keys?team_id=${team}&limit=100`, s.token);
      expect(res.status).toBe(200);
      expect((await json<Page<Key>>(res)).data.map((x) => x.id)).toContain(k.id);
      expect((await get(h, `/v1/keys/${k.id}`, s.token)).status).toBe(200);
    }
    expect((await json<Page<Key>>(await get(h, '/v1/keys?limit=100', member.token))).data.map((x) => x.id)).not.toContain(k.id);
    // A personal key stays personal: team_id null.
    const p = await createKey(h, member.token, { name: 'personal' });
    expect(p).toMatchObject({ team_id: null, created_by: null });
    expect((await json<Page<Key>>(await get(h, `/v1/keys?team_id=${team}&limit=100`, owner.token))).data.map((x) => x.id)).not.toContain(
      p.id,
    );
  });

  it('answers 404 to non-members and invitees on every team key and list, 403 to viewers on changes', async () => {
    const k = await createKey(h, admin.token, { name: 'team-key-2', team_id: team });
    for (const s of [stranger, invitee]) {
      expect(await code(await get(h, `/v1/keys?team_id=${team}`, s.token))).toBe('not_found');
      expect(await code(await get(h, `/v1/keys/${k.id}`, s.token))).toBe('not_found');
      expect(await code(await patch(h, `/v1/keys/${k.id}`, { description: 'x' }, s.token))).toBe('not_found');
      expect(await code(await post(h, `/v1/keys/${k.id}/rotate`, {}, s.token))).toBe('not_found');
      expect(await code(await del(h, `/v1/keys/${k.id}`, s.token))).toBe('not_found');
      expect(await code(await post(h, '/v1/keys', { name: 'x', team_id: team }, s.token))).toBe('not_found');
      expect(await code(await get(h, `/v1/domains?team_id=${team}`, s.token))).toBe('not_found');
      expect(await code(await get(h, `/v1/usage/summary?team_id=${team}`, s.token))).toBe('not_found');
    }
    expect(await code(await post(h, '/v1/keys', { name: 'v', team_id: team }, viewer.token))).toBe('forbidden');
    expect(await code(await patch(h, `/v1/keys/${k.id}`, { description: 'x' }, viewer.token))).toBe('forbidden');
    expect(await code(await post(h, `/v1/keys/${k.id}/rotate`, {}, viewer.token))).toBe('forbidden');
    expect(await code(await del(h, `/v1/keys/${k.id}`, viewer.token))).toBe('forbidden');
    expect(await code(await get(h, '/v1/keys?team_id=team_01NOSUCH', owner.token))).toBe('not_found');
  });

  it('lets a member manage only the keys it created; admins and owners manage all', async () => {
    const mine = await createKey(h, member.token, { name: 'm1-own', team_id: team });
    const theirs = await createKey(h, member2.token, { name: 'm2-own', team_id: team });
    expect(await code(await patch(h, `/v1/keys/${theirs.id}`, { description: 'x' }, member.token))).toBe('forbidden');
    expect(await code(await post(h, `/v1/keys/${theirs.id}/rotate`, {}, member.token))).toBe('forbidden');
    expect(await code(await del(h, `/v1/keys/${theirs.id}`, member.token))).toBe('forbidden');
    expect((await patch(h, `/v1/keys/${mine.id}`, { description: 'mine' }, member.token)).status).toBe(200);
    expect((await post(h, `/v1/keys/${mine.id}/rotate`, {}, member.token)).status).toBe(200);
    expect((await patch(h, `/v1/keys/${theirs.id}`, { status: 'disabled' }, admin.token)).status).toBe(200);
    expect((await del(h, `/v1/keys/${theirs.id}`, owner.token)).status).toBe(204);
    expect((await del(h, `/v1/keys/${mine.id}`, member.token)).status).toBe(204);
    const audit = (await json<Page<AuditEvent>>(await get(h, `/v1/teams/${team}/audit?limit=100`, owner.token))).data;
    expect(audit.find((e) => e.action === 'key.delete' && e.target === theirs.id)).toMatchObject({
      actor: owner.address,
      account: team,
    });
    expect(audit.find((e) => e.action === 'key.rotate' && e.target === mine.id)).toMatchObject({ actor: member.address });
  });

  it('refuses developer team keys (403 key_type_not_allowed) and the admin scope on team keys', async () => {
    const dev = await post(h, '/v1/keys', { name: 'dev', type: 'developer', team_id: team }, member.token);
    expect(dev.status).toBe(403);
    expect(await code(dev)).toBe('key_type_not_allowed');
    const adm = await post(h, '/v1/keys', { name: 'adm', scopes: ['admin'], team_id: team }, owner.token);
    expect(adm.status).toBe(403);
    expect(await code(adm)).toBe('forbidden');
    const k = await createKey(h, owner.token, { name: 'no-admin-later', team_id: team });
    expect(await code(await patch(h, `/v1/keys/${k.id}`, { scopes: ['admin'] }, owner.token))).toBe('forbidden');
  });

  it('applies the type rule: a team key works on network domains and is refused on public ones', async () => {
    const k = await createKey(h, member.token, { name: 'type-rule', team_id: team });
    const ok = await verify(h, networkDomain, { key: k.key });
    expect(ok).toMatchObject({ valid: true, type: 'network', account: team });
    expect((await verify(h, publicDomain, { key: k.key })).code).toBe('key_type_mismatch');
  });

  it("spends the team's balance: unlimited until granted, then exact under 50 concurrent charges", async () => {
    const t = await newTeam([[member, 'member']]);
    const k = await createKey(h, member.token, { name: 'spender', team_id: t });
    expect(await verify(h, networkDomain, { key: k.key, cost: 1000 })).toMatchObject({ valid: true, credits_remaining: null });
    const g = await post(h, `/v1/admin/teams/${t}/credits`, { delta: 200, reason: 'prepaid' }, platformAdmin.token);
    expect(g.status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 50 }, () => verify(h, networkDomain, { key: k.key, cost: 10 })));
    expect(answers.filter((a) => a.valid)).toHaveLength(20);
    expect(answers.filter((a) => !a.valid).every((a) => a.code === 'billing_shortfall')).toBe(true);
    expect((await json<TeamWithMembers>(await get(h, `/v1/teams/${t}`, member.token))).credits).toBe(0);
    // The member's own account was not charged.
    expect((await json<Account>(await get(h, '/v1/me', member.token))).credits).toBeNull();
    // Usage reported after the fact is charged to the team too (as far as the balance allows).
    await post(h, `/v1/admin/teams/${t}/credits`, { delta: 30, reason: 'top-up' }, platformAdmin.token);
    const rep = await post(h, '/v1/usage', { key_id: k.id, request_id: 'req-team-1', cost: 50 }, networkDomain);
    expect(await json<UsageRecorded>(rep)).toMatchObject({ recorded: true, charged: 30, credits_remaining: 0 });
    const sum = await json<UsageSummary>(await get(h, `/v1/usage/summary?team_id=${t}`, member.token));
    expect(sum.totals).toMatchObject({ requests: 1, cost: 50, charged: 30, uncharged: 20 });
  });

  it("keeps team keys working when a member's own account is approved for the free trial", async () => {
    const dev = await signIn(h);
    const t = await newTeam([[dev, 'member']]);
    const teamKey = await createKey(h, dev.token, { name: 'team-net', team_id: t });
    const ownKey = await createKey(h, dev.token, { name: 'own-net' });
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'both' }, dev.token));
    expect((await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 50 }, platformAdmin.token)).status).toBe(200);
    expect((await verify(h, networkDomain, { key: ownKey.key })).valid).toBe(false);
    expect((await verify(h, networkDomain, { key: teamKey.key })).valid).toBe(true);
    // Its personal keys are developer keys now; team keys stay network keys.
    expect((await createKey(h, dev.token, { name: 'team-net-2', team_id: t })).type).toBe('network');
  });

  it('registers team domains (owners and admins), readable by every member, hidden from others', async () => {
    const name = uniqueDomainName('team');
    const res = await post(h, '/v1/domains', { name, team_id: team }, admin.token);
    expect(res.status).toBe(201);
    const d = await json<DomainWithToken>(res);
    expect(d).toMatchObject({ name, owner: team, team_id: team, created_by: admin.address });
    expect(await code(await post(h, '/v1/domains', { name: uniqueDomainName('m'), team_id: team }, member.token))).toBe('forbidden');
    expect(await code(await post(h, '/v1/domains', { name: uniqueDomainName('v'), team_id: team }, viewer.token))).toBe('forbidden');
    // The type rule: public domains are the platform's, team or not.
    const pub = await post(h, '/v1/domains', { name: uniqueDomainName('p'), visibility: 'public', team_id: team }, owner.token);
    expect(await code(pub)).toBe('forbidden');
    for (const s of [owner, admin, member, viewer]) {
      expect((await json<Page<Domain>>(await get(h, `/v1/domains?team_id=${team}`, s.token))).data.map((x) => x.id)).toContain(d.id);
      expect((await get(h, `/v1/domains/${d.id}`, s.token)).status).toBe(200);
    }
    expect((await json<Page<Domain>>(await get(h, '/v1/domains', admin.token))).data.map((x) => x.id)).not.toContain(d.id);
    for (const s of [stranger, invitee]) {
      expect(await code(await get(h, `/v1/domains/${d.id}`, s.token))).toBe('not_found');
      expect(await code(await del(h, `/v1/domains/${d.id}`, s.token))).toBe('not_found');
    }
    expect(await code(await post(h, `/v1/domains/${d.id}/token/rotate`, {}, member.token))).toBe('forbidden');
    expect(await code(await del(h, `/v1/domains/${d.id}`, viewer.token))).toBe('forbidden');
    const k = await createKey(h, member.token, { name: 'on-team-domain', team_id: team });
    expect((await verify(h, d.token, { key: k.key })).valid).toBe(true);
    // Its verification stats: any member reads them; others: not found.
    expect((await get(h, `/v1/domains/${d.id}/stats`, viewer.token)).status).toBe(200);
    expect(await code(await get(h, `/v1/domains/${d.id}/stats`, stranger.token))).toBe('not_found');
    expect((await post(h, `/v1/domains/${d.id}/token/rotate`, {}, owner.token)).status).toBe(200);
    expect((await del(h, `/v1/domains/${d.id}`, admin.token)).status).toBe(204);
  });

  it('reads team usage with ?team_id= (viewers too), apart from personal usage', async () => {
    const t = await newTeam([[viewer, 'viewer']]);
    const k = await createKey(h, owner.token, { name: 'usage', team_id: t });
    expect((await verify(h, networkDomain, { key: k.key })).valid).toBe(true);
    for (const [i, cost] of [7, 5].entries()) {
      expect((await post(h, '/v1/usage', { key_id: k.id, request_id: `req-usage-${i}`, cost }, networkDomain)).status).toBe(201);
    }
    const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?team_id=${t}&group_by=key`, viewer.token));
    expect(s.totals).toMatchObject({ cost: 12, charged: 12 });
    expect(s.data.map((b) => b.bucket)).toEqual([k.id]);
    const personal = await json<UsageSummary>(await get(h, '/v1/usage/summary?group_by=key', owner.token));
    expect(personal.data.map((b) => b.bucket)).not.toContain(k.id);
  });

  it("ends a removed member's access to team keys at its next request", async () => {
    const w = await signIn(h);
    const t = await newTeam([[w, 'admin']]);
    const k = await createKey(h, w.token, { name: 'leaver', team_id: t });
    expect((await get(h, `/v1/keys/${k.id}`, w.token)).status).toBe(200);
    expect((await del(h, `/v1/teams/${t}/members/${w.address}`, owner.token)).status).toBe(204);
    expect(await code(await get(h, `/v1/keys/${k.id}`, w.token))).toBe('not_found');
    expect(await code(await get(h, `/v1/keys?team_id=${t}`, w.token))).toBe('not_found');
    expect(await code(await del(h, `/v1/keys/${k.id}`, w.token))).toBe('not_found');
    // The key is the team's: it keeps working for the team.
    expect((await verify(h, networkDomain, { key: k.key })).valid).toBe(true);
  });

  it('deletes a team with its keys and domains: verification refuses them at once', async () => {
    const t = await newTeam([]);
    const k = await createKey(h, owner.token, { name: 'doomed', team_id: t });
    const d = await json<DomainWithToken>(await post(h, '/v1/domains', { name: uniqueDomainName('doomed'), team_id: t }, owner.token));
    expect((await verify(h, networkDomain, { key: k.key })).valid).toBe(true);
    expect((await verify(h, d.token, { key: k.key })).valid).toBe(true);
    expect((await del(h, `/v1/teams/${t}`, owner.token)).status).toBe(204);
    expect((await verify(h, networkDomain, { key: k.key })).code).toBe('not_found');
    expect((await post(h, '/v1/verify', { key: k.key }, d.token)).status).toBe(401);
  });

  it('refuses team resources to API keys (sessions only)', async () => {
    const adminKey = await createKey(h, owner.token, { name: 'owner-admin-key', scopes: ['admin'] });
    expect(await code(await get(h, `/v1/keys?team_id=${team}`, adminKey.key))).toBe('insufficient_scope');
    expect(await code(await post(h, '/v1/keys', { name: 'via-key', team_id: team }, adminKey.key))).toBe('insufficient_scope');
    const tk = await createKey(h, owner.token, { name: 'by-id', team_id: team });
    // By id, a team key is not the admin key's account's: not found (no existence leak).
    expect(await code(await get(h, `/v1/keys/${tk.id}`, adminKey.key))).toBe('not_found');
    expect(await code(await del(h, `/v1/keys/${tk.id}`, adminKey.key))).toBe('not_found');
  });
});
