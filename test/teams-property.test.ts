import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, nodeTargets, patch, post, signIn, type Harness, type SignedIn } from './support/harness.js';
import type { KeyWithSecret, Team, TeamList, TeamWithMembers } from './support/responses.js';

/*
 * Random sequences of team membership changes across four wallets. After every step, for every
 * wallet and every team resource, what the API allows must equal what a tiny reference model of
 * the roles allows: no wallet ever reads or changes a team resource outside its role. The model is
 * written from the contract (API.md, "Teams"), not from the service's policy function.
 */

type Role = 'owner' | 'admin' | 'member' | 'viewer';
type Member = { role: Role; status: 'invited' | 'active' };
type Model = Map<number, Member> & { keys?: { id?: string; createdBy: number }[] };

type Cmd =
  | { op: 'invite'; by: number; who: number; role: Role }
  | { op: 'join'; by: number }
  | { op: 'role'; by: number; who: number; role: Role }
  | { op: 'remove'; by: number; who: number }
  | { op: 'createKey'; by: number }
  | { op: 'manageKey'; by: number; key: number };

const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];
const W = 4;
const wallet = fc.integer({ min: 0, max: W - 1 });
const role = fc.constantFrom(...ROLES);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('invite' as const), by: wallet, who: wallet, role }),
  fc.record({ op: fc.constant('join' as const), by: wallet }),
  fc.record({ op: fc.constant('role' as const), by: wallet, who: wallet, role }),
  fc.record({ op: fc.constant('remove' as const), by: wallet, who: wallet }),
  fc.record({ op: fc.constant('createKey' as const), by: wallet }),
  fc.record({ op: fc.constant('manageKey' as const), by: wallet, key: fc.nat(5) }),
);

/** Wallets 1..3 at the start: not listed (null), or invited at a role and maybe joined. */
const start = fc.tuple(
  ...Array.from({ length: W - 1 }, () => fc.tuple(fc.option(role, { nil: null, freq: 4 }), fc.boolean())),
) as fc.Arbitrary<[Role | null, boolean][]>;

const active = (m: Model, w: number): Role | null => (m.get(w)?.status === 'active' ? (m.get(w) as Member).role : null);
const activeOwners = (m: Model): number => [...m.values()].filter((x) => x.status === 'active' && x.role === 'owner').length;
const manages = (r: Role | null): boolean => r === 'owner' || r === 'admin';

/** The status the contract gives the command in this state, and the state after it. */
function expected(m: Model, c: Cmd): number {
  const by = active(m, c.by);
  switch (c.op) {
    case 'invite': {
      if (by === null) return 404;
      if (!manages(by) || (by === 'admin' && c.role === 'owner')) return 403;
      if (m.has(c.who)) return 409;
      m.set(c.who, { role: c.role, status: 'invited' });
      return 201;
    }
    case 'join': {
      const me = m.get(c.by);
      if (me?.status !== 'invited') return 404;
      me.status = 'active';
      return 200;
    }
    case 'role': {
      if (by === null) return 404;
      const t = m.get(c.who);
      if (!t) return 404;
      if (!manages(by) || (by === 'admin' && (t.role === 'owner' || c.role === 'owner'))) return 403;
      if (t.role === c.role) return 200;
      if (t.status === 'active' && t.role === 'owner' && activeOwners(m) === 1) return 409;
      t.role = c.role;
      return 200;
    }
    case 'remove': {
      const t = m.get(c.who);
      if (c.by === c.who) {
        if (!t) return 404;
      } else {
        if (by === null) return 404;
        if (!t) return 404;
        if (!manages(by) || (by === 'admin' && t.role === 'owner')) return 403;
      }
      if (t.status === 'active' && t.role === 'owner' && activeOwners(m) === 1) return 409;
      m.delete(c.who);
      return 204;
    }
    case 'createKey': {
      // Members and above create team keys; viewers change nothing.
      if (by === null) return 404;
      if (by === 'viewer') return 403;
      m.keys?.push({ createdBy: c.by });
      return 201;
    }
    case 'manageKey': {
      const k = m.keys?.[c.key];
      if (!k) return -1; // no such key yet: not sent
      if (by === null) return 404;
      // Members manage the keys they created; owners and admins every team key.
      return manages(by) || (by === 'member' && k.createdBy === c.by) ? 200 : 403;
    }
  }
}

describe.each(nodeTargets())('team roles (property) on $name', (target) => {
  let h: Harness;
  let ws: SignedIn[];
  beforeAll(async () => {
    h = await target.start();
    ws = [];
    for (let i = 0; i < W; i++) ws.push(await signIn(h));
  });
  afterAll(async () => h.close());

  async function run(team: string, m: Model, c: Cmd): Promise<number> {
    const by = ws[c.by].token;
    switch (c.op) {
      case 'createKey': {
        const res = await post(h, '/v1/keys', { name: `k-${Date.now()}-${Math.random()}`, team_id: team }, by);
        const body = await json<KeyWithSecret>(res);
        // The model pushed the key before the request ran; it gets its id here.
        const pending = m.keys?.[m.keys.length - 1];
        if (res.status === 201 && pending && pending.id === undefined) pending.id = body.id;
        return res.status;
      }
      case 'manageKey': {
        const k = m.keys?.[c.key];
        if (!k?.id) return -1;
        return (await patch(h, `/v1/keys/${k.id}`, { description: `by ${c.by}` }, by)).status;
      }
      case 'invite':
        return (await post(h, `/v1/teams/${team}/members`, { address: ws[c.who].address, role: c.role }, by)).status;
      case 'join':
        return (await post(h, `/v1/teams/${team}/join`, {}, by)).status;
      case 'role':
        return (await patch(h, `/v1/teams/${team}/members/${ws[c.who].address}`, { role: c.role }, by)).status;
      case 'remove':
        return (await del(h, `/v1/teams/${team}/members/${ws[c.who].address}`, by)).status;
    }
  }

  /** Every wallet's view of every team resource equals the model's. */
  async function checkAccess(team: string, m: Model, step: string): Promise<void> {
    for (let w = 0; w < W; w++) {
      const r = active(m, w);
      const ctx = `${step}: wallet ${w} (${r ?? m.get(w)?.status ?? 'none'})`;
      const t = await get(h, `/v1/teams/${team}`, ws[w].token);
      expect(t.status, `${ctx} GET team`).toBe(r ? 200 : 404);
      if (r) {
        const body = await json<TeamWithMembers>(t);
        expect(body.role, ctx).toBe(r);
        const members = new Map<string, Member>(body.members.map((x) => [x.address, { role: x.role, status: x.status }]));
        expect(members, ctx).toEqual(new Map([...m].map(([i, x]) => [ws[i].address, x])));
      }
      expect((await get(h, `/v1/teams/${team}/audit`, ws[w].token)).status, `${ctx} audit`).toBe(r === null ? 404 : manages(r) ? 200 : 403);
      expect((await get(h, `/v1/keys?team_id=${team}`, ws[w].token)).status, `${ctx} team keys`).toBe(r ? 200 : 404);
      for (const k of m.keys ?? []) {
        if (k.id) expect((await get(h, `/v1/keys/${k.id}`, ws[w].token)).status, `${ctx} key ${k.id}`).toBe(r ? 200 : 404);
      }
      const mine = (await json<TeamList>(await get(h, '/v1/teams', ws[w].token))).data.find((x) => x.id === team);
      const listed = m.get(w);
      expect(mine ? { role: mine.role, status: mine.status } : undefined, `${ctx} GET /v1/teams`).toEqual(
        listed ? { ...listed } : undefined,
      );
    }
  }

  it('no wallet ever reads or changes a team resource outside its role', async () => {
    await fc.assert(
      fc.asyncProperty(start, fc.array(cmd, { minLength: 1, maxLength: 14 }), async (initial, rest) => {
        // A fresh creator per run: a wallet belongs to a bounded number of teams.
        ws[0] = await signIn(h);
        const team = (await json<Team>(await post(h, '/v1/teams', { name: 'prop' }, ws[0].token))).id as string;
        const m: Model = Object.assign(new Map<number, Member>([[0, { role: 'owner', status: 'active' }]]), {
          keys: [] as { id?: string; createdBy: number }[],
        });
        await checkAccess(team, m, 'start');
        // A populated team first (the owner invites the others; some join), then random steps.
        const setup: Cmd[] = initial.flatMap(([r, joins], i): Cmd[] =>
          r === null ? [] : [{ op: 'invite', by: 0, who: i + 1, role: r }, ...(joins ? [{ op: 'join' as const, by: i + 1 }] : [])],
        );
        for (const [i, c] of [...setup, ...rest].entries()) {
          const want = expected(m, c);
          const got = await run(team, m, c);
          expect(got, `step ${i} ${JSON.stringify(c)}`).toBe(want);
          await checkAccess(team, m, `after step ${i} ${JSON.stringify(c)}`);
        }
        // The invariant the model keeps (and the service must): a team always has an active owner.
        expect(activeOwners(m)).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 40) },
    );
    // Hundreds of HTTP requests per run (every wallet's view after every step): not a speed test.
  }, 600_000);
});
