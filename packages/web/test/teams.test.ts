// @siwe-keys/web's team calls and address check, in-process: the exact requests a dApp's calls send
// (method, path, body, encoding) against a recording fetch, and the EIP-55 rule of checkAddress.
import { describe, expect, it } from 'vitest';
import { ApiError, checkAddress, createSiweKeys } from '../src/index.js';

interface Sent {
  method: string;
  url: string;
  body: unknown;
  auth: string | null;
}

function recorder(answer: (s: Sent) => Response = () => Response.json({ data: [] })): { sent: Sent[]; fetch: typeof fetch } {
  const sent: Sent[] = [];
  const fake = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const s: Sent = {
      method: init?.method ?? 'GET',
      url: String(input),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : null,
      auth: headers.get('authorization'),
    };
    sent.push(s);
    return answer(s);
  };
  return { sent, fetch: fake as typeof fetch };
}

const ADDR = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const BASE = 'https://keys.example.org';

describe('@siwe-keys/web team calls', () => {
  it('sends every Teams call of API.md with its method, path and body, URL-encoding ids', async () => {
    const r = recorder((s) => (s.method === 'DELETE' ? new Response(null, { status: 204 }) : Response.json({ data: [] })));
    const keys = createSiweKeys({ baseUrl: BASE, storageKey: null, fetch: r.fetch });
    await keys.teams.list();
    await keys.teams.create('Node Ops');
    await keys.teams.get('team/1');
    await keys.teams.invite('t1', ADDR, 'viewer');
    await keys.teams.join('t1');
    await keys.teams.setRole('t1', ADDR, 'member');
    await keys.teams.removeMember('t1', ADDR);
    await keys.teams.audit('t1', { limit: 10, cursor: 'c 1' });
    await keys.teams.remove('t1');
    expect(r.sent.map((s) => [s.method, s.url.slice(BASE.length), s.body])).toEqual([
      ['GET', '/v1/teams', null],
      ['POST', '/v1/teams', { name: 'Node Ops' }],
      ['GET', '/v1/teams/team%2F1', null],
      ['POST', '/v1/teams/t1/members', { address: ADDR, role: 'viewer' }],
      ['POST', '/v1/teams/t1/join', {}],
      ['PATCH', `/v1/teams/t1/members/${ADDR}`, { role: 'member' }],
      ['DELETE', `/v1/teams/t1/members/${ADDR}`, null],
      ['GET', '/v1/teams/t1/audit?cursor=c+1&limit=10', null],
      ['DELETE', '/v1/teams/t1', null],
    ]);
  });

  it('scopes key and domain lists, creations and the usage summary to a team with team_id', async () => {
    const r = recorder();
    const keys = createSiweKeys({ baseUrl: BASE, storageKey: null, fetch: r.fetch });
    await keys.keys.list({ team_id: 't1', limit: 5 });
    await keys.keys.list();
    await keys.keys.create({ name: 'shared', team_id: 't1' });
    await keys.domains.list({ team_id: 't1' });
    await keys.domains.create({ name: 'node-1.example.org', team_id: 't1' });
    await keys.usage.summary({ group_by: 'key', team_id: 't1' });
    await keys.usage.summary();
    expect(r.sent.map((s) => [s.method, s.url.slice(BASE.length), s.body])).toEqual([
      ['GET', '/v1/keys?limit=5&team_id=t1', null],
      ['GET', '/v1/keys', null],
      ['POST', '/v1/keys', { name: 'shared', team_id: 't1' }],
      ['GET', '/v1/domains?team_id=t1', null],
      ['POST', '/v1/domains', { name: 'node-1.example.org', team_id: 't1' }],
      ['GET', '/v1/usage/summary?group_by=key&team_id=t1', null],
      ['GET', '/v1/usage/summary', null],
    ]);
  });

  it('declines and leaves as the signed-in wallet, and refuses to before sign-in', async () => {
    const r = recorder();
    const keys = createSiweKeys({ baseUrl: BASE, storageKey: null, fetch: r.fetch });
    await expect(keys.teams.decline('t1')).rejects.toThrow('Sign in first.');
    await expect(keys.teams.leave('t1')).rejects.toThrow('Sign in first.');
    expect(r.sent).toEqual([]);
  });

  it("surfaces the service's 403 and 409 last_owner as ApiError with the stable code", async () => {
    const r = recorder((s) =>
      s.method === 'DELETE'
        ? Response.json({ error: { code: 'last_owner', message: 'A team keeps at least one owner.', request_id: 'r1' } }, { status: 409 })
        : Response.json({ error: { code: 'forbidden', message: 'Your role does not allow this.' } }, { status: 403 }),
    );
    const keys = createSiweKeys({ baseUrl: BASE, storageKey: null, fetch: r.fetch });
    const denied = await keys.teams.invite('t1', ADDR, 'member').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ApiError);
    expect(denied).toMatchObject({ status: 403, code: 'forbidden' });
    const last = await keys.teams.removeMember('t1', ADDR).catch((e: unknown) => e);
    expect(last).toMatchObject({ status: 409, code: 'last_owner', requestId: 'r1', message: 'A team keeps at least one owner.' });
  });
});

describe('checkAddress (EIP-55)', () => {
  it('accepts a correctly checksummed address and returns it checksummed', () => {
    expect(checkAddress(ADDR)).toEqual({ ok: true, address: ADDR, checksummed: true });
    expect(checkAddress(`  ${ADDR}\n`)).toEqual({ ok: true, address: ADDR, checksummed: true });
  });

  it('accepts all-lower-case and all-upper-case addresses as unchecksummed', () => {
    expect(checkAddress(ADDR.toLowerCase())).toEqual({ ok: true, address: ADDR, checksummed: false });
    expect(checkAddress(`0x${ADDR.slice(2).toUpperCase()}`)).toEqual({ ok: true, address: ADDR, checksummed: false });
  });

  it('refuses a mixed-case address whose checksum is wrong (one letter flipped)', () => {
    const i = ADDR.indexOf('a', 2);
    const flipped = `${ADDR.slice(0, i)}A${ADDR.slice(i + 1)}`;
    expect(flipped).not.toBe(ADDR);
    const res = checkAddress(flipped);
    expect(res.ok).toBe(false);
    expect(res).toMatchObject({ code: 'bad_checksum' });
    expect(!res.ok && res.message).toMatch(/checksum/);
  });

  it('refuses what is not an address at all', () => {
    for (const bad of ['', 'vitalik.eth', ADDR.slice(0, 41), `${ADDR}00`, `0X${ADDR.slice(2)}`, `0x${'g'.repeat(40)}`]) {
      expect(checkAddress(bad)).toMatchObject({ ok: false, code: 'invalid_address' });
    }
  });
});
