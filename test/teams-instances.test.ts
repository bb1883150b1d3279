import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ACCOUNT, del, get, json, post, type Harness, signIn, type SignedIn } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import { within, startPgPair, type PgPair } from './support/pg-pair.js';
import type { Team } from './support/responses.js';

const pgUrl = process.env.TEST_POSTGRES_URL;

/**
 * Two `siwe-keys serve` processes on one PostgreSQL database. Team membership is read from the
 * database on every request (never cached in memory), so a removal written through one instance
 * is enforced by the other on the very next request: no NOTIFY bound to wait for.
 */
describe.skipIf(!pgUrl)('teams across two instances on PostgreSQL', () => {
  let pair: PgPair;
  let ha: Harness;
  let hb: Harness;
  let owner: SignedIn;

  beforeAll(async () => {
    // Both start (and migrate) at the same time.
    pair = await startPgPair(pgUrl as string);
    ({ ha, hb } = pair);
    owner = await signIn(ha);
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('enforces on B, at the next request, a removal written through A', async () => {
    // The member signs in on B: its session lives there, the removal happens on A.
    const m = await signIn(hb);
    const team = (await json<Team>(await post(ha, '/v1/teams', { name: 'two instances' }, owner.token))).id;
    expect((await post(ha, `/v1/teams/${team}/members`, { address: m.address, role: 'admin' }, owner.token)).status).toBe(201);
    expect((await post(hb, `/v1/teams/${team}/join`, {}, m.token)).status).toBe(200);
    expect((await get(hb, `/v1/teams/${team}`, m.token)).status).toBe(200);
    expect((await get(hb, `/v1/teams/${team}/audit`, m.token)).status).toBe(200);
    expect((await del(ha, `/v1/teams/${team}/members/${m.address}`, owner.token)).status).toBe(204);
    expect((await get(hb, `/v1/teams/${team}`, m.token)).status).toBe(404);
    expect((await get(hb, `/v1/teams/${team}/audit`, m.token)).status).toBe(404);
    expect((await post(hb, `/v1/teams/${team}/members`, { address: owner.address, role: 'viewer' }, m.token)).status).toBe(404);
  });

  it('enforces on B, at the next request, a demotion written through A', async () => {
    const m = await signIn(hb);
    const team = (await json<Team>(await post(ha, '/v1/teams', { name: 'demote' }, owner.token))).id;
    await post(ha, `/v1/teams/${team}/members`, { address: m.address, role: 'admin' }, owner.token);
    await post(hb, `/v1/teams/${team}/join`, {}, m.token);
    expect((await get(hb, `/v1/teams/${team}/audit`, m.token)).status).toBe(200);
    const res = await ha.request(`/v1/teams/${team}/members/${m.address}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer' }),
    });
    expect(res.status).toBe(200);
    expect((await get(hb, `/v1/teams/${team}/audit`, m.token)).status).toBe(403);
  });

  it("applies on B a team's credit grant and its deletion written through A (the team key's cached record)", async () => {
    const admin = await signIn(ha, ADMIN_ACCOUNT);
    const team = (await json<Team>(await post(ha, '/v1/teams', { name: 'billing' }, owner.token))).id;
    const k = await createKey(ha, owner.token, { name: 'team-key', team_id: team });
    const domainToken = (await createDomain(hb, (await signIn(hb)).token, uniqueDomainName('tinst'))).token;
    // B caches the key with no enforced balance.
    expect(await verify(hb, domainToken, { key: k.key, cost: 5 })).toMatchObject({ valid: true, credits_remaining: null });
    expect((await post(ha, `/v1/admin/teams/${team}/credits`, { delta: 10, reason: 'grant' }, admin.token)).status).toBe(200);
    const after = await within(
      () => verify(hb, domainToken, { key: k.key, cost: 4 }),
      (v) => v.credits_remaining !== null,
    );
    expect(after).toMatchObject({ valid: true, credits_remaining: 6 });
    expect((await verify(hb, domainToken, { key: k.key, cost: 7 })).code).toBe('billing_shortfall');
    expect((await del(ha, `/v1/teams/${team}`, owner.token)).status).toBe(204);
    const gone = await within(
      () => verify(hb, domainToken, { key: k.key }),
      (v) => v.code === 'not_found',
    );
    expect(gone.code).toBe('not_found');
  });
});
