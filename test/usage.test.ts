import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import type { Account, ErrorBody, Key, Page, UsageRecord, UsageRecorded } from './support/responses.js';

describe.each(targets())('usage metering on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let domainToken: string;
  let publicToken: string;
  let domainName: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    domainName = uniqueDomainName('meter');
    domainToken = (await createDomain(h, operator.token, domainName)).token;
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('pub'), 'public')).token;
  });
  afterAll(async () => h.close());

  it('records usage, charges the balance and the key windows, and answers the same on retry', async () => {
    const u = await developerAccount(h, 100, admin);
    const k = await createKey(h, u.token, { name: 'm1' });
    await verify(h, publicToken, { key: k.key }); // domains report usage only for keys they verified
    const body = { key_id: k.id, request_id: 'req-1', cost: 30, model: 'llama-3-8b', input_tokens: 100, output_tokens: 20 };
    const res = await post(h, '/v1/usage', body, publicToken);
    expect(res.status).toBe(201);
    const first = await json<UsageRecorded>(res);
    expect(first).toMatchObject({ recorded: true, charged: 30, uncharged: 0, credits_remaining: 70 });
    const again = await json<UsageRecorded>(await post(h, '/v1/usage', body, publicToken));
    expect(again).toEqual(first);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(70);
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, u.token))).usage).toEqual({ today: 30, this_month: 30, total: 30 });
    const listed = await json<Page<UsageRecord>>(await get(h, `/v1/usage?request_id=req-1`, u.token));
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]).toMatchObject({
      key_id: k.id,
      request_id: 'req-1',
      cost: 30,
      charged: 30,
      input_tokens: 100,
      output_tokens: 20,
      model: 'llama-3-8b',
    });
  });

  it('charges only what the balance allows and records the shortfall as uncharged', async () => {
    const u = await developerAccount(h, 25, admin);
    const k = await createKey(h, u.token, { name: 'm2' });
    await verify(h, publicToken, { key: k.key }); // domains report usage only for keys they verified
    const r = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: k.id, request_id: 'short-1', cost: 40 }, publicToken));
    expect(r).toMatchObject({ charged: 25, uncharged: 15, credits_remaining: 0 });
    const r2 = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: k.id, request_id: 'short-2', cost: 5 }, publicToken));
    expect(r2).toMatchObject({ charged: 0, uncharged: 5, credits_remaining: 0 });
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(0);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage', u.token))).data).toHaveLength(2);
  });

  it('charges only what the key windows allow', async () => {
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'm3', limits: { daily_credits: 50 } });
    await verify(h, domainToken, { key: k.key }); // domains report usage only for keys they verified
    const r = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: k.id, request_id: 'win-1', cost: 80 }, domainToken));
    expect(r).toMatchObject({ charged: 50, uncharged: 30, credits_remaining: null });
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, u.token))).usage.today).toBe(50);
  });

  it('stores and charges a report once under concurrent retries', async () => {
    const u = await developerAccount(h, 1000, admin);
    const k = await createKey(h, u.token, { name: 'm4' });
    await verify(h, publicToken, { key: k.key }); // domains report usage only for keys they verified
    const body = { key_id: k.id, request_id: 'dup-storm', cost: 7 };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(h, '/v1/usage', body, publicToken)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    const bodies = await Promise.all(answers.map((a) => json<UsageRecorded>(a)));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(993);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage?request_id=dup-storm', u.token))).data).toHaveLength(1);
  });

  it('charges concurrent reports with distinct request ids exactly, never below zero', async () => {
    const u = await developerAccount(h, 1000, admin);
    const k = await createKey(h, u.token, { name: 'm-par' });
    await verify(h, publicToken, { key: k.key }); // domains report usage only for keys they verified
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(h, '/v1/usage', { key_id: k.id, request_id: `par-${i}`, cost: 7 }, publicToken)),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(860);
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, u.token))).usage.total).toBe(140);
    const poor = await developerAccount(h, 50, admin);
    const pk = await createKey(h, poor.token, { name: 'm-par-poor' });
    await verify(h, publicToken, { key: pk.key }); // domains report usage only for keys they verified
    const bodies = await Promise.all(
      Array.from({ length: 10 }, async (_, i) =>
        json<UsageRecorded>(await post(h, '/v1/usage', { key_id: pk.id, request_id: `poor-${i}`, cost: 7 }, publicToken)),
      ),
    );
    expect(bodies.reduce((s, b) => s + b.charged, 0)).toBe(50);
    expect(bodies.reduce((s, b) => s + b.uncharged, 0)).toBe(20);
    expect((await json<Account>(await get(h, '/v1/me', poor.token))).credits).toBe(0);
  });

  it('keeps records findable by request id after the key is deleted, and still accepts late reports', async () => {
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'm5' });
    await verify(h, domainToken, { key: k.key }); // domains report usage only for keys they verified
    await post(h, '/v1/usage', { key_id: k.id, request_id: 'before-delete', cost: 1 }, domainToken);
    expect((await del(h, `/v1/keys/${k.id}`, u.token)).status).toBe(204);
    const late = await post(h, '/v1/usage', { key_id: k.id, request_id: 'after-delete', cost: 2 }, domainToken);
    expect(late.status).toBe(201);
    const found = await json<Page<UsageRecord>>(await get(h, '/v1/usage?request_id=before-delete', u.token));
    expect(found.data).toHaveLength(1);
    expect(found.data[0].domain).toBe(domainName);
    expect((await json<Page<UsageRecord>>(await get(h, `/v1/usage?key_id=${k.id}`, u.token))).data.map((r) => r.request_id).sort()).toEqual(
      ['after-delete', 'before-delete'],
    );
  });

  it("scopes request ids per domain and hides other accounts' records", async () => {
    const u = await signIn(h);
    const other = await signIn(h);
    const k = await createKey(h, u.token, { name: 'm6' });
    await verify(h, domainToken, { key: k.key }); // domains report usage only for keys they verified
    const second = (await createDomain(h, operator.token, uniqueDomainName('second'))).token;
    await verify(h, second, { key: k.key });
    await post(h, '/v1/usage', { key_id: k.id, request_id: 'same-id', cost: 1 }, domainToken);
    const r2 = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: k.id, request_id: 'same-id', cost: 1 }, second));
    expect(r2.recorded).toBe(true);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage?request_id=same-id', u.token))).data).toHaveLength(2);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage?request_id=same-id', other.token))).data).toHaveLength(0);
  });

  it('lets analytics:read keys read usage and refuses inference keys', async () => {
    const u = await signIn(h);
    const reader = await createKey(h, u.token, { name: 'reader', scopes: ['analytics:read'] });
    const infer = await createKey(h, u.token, { name: 'infer' });
    await verify(h, domainToken, { key: infer.key }); // domains report usage only for keys they verified
    await post(h, '/v1/usage', { key_id: infer.id, request_id: 'an-1', cost: 0 }, domainToken);
    const res = await get(h, '/v1/usage', reader.key);
    expect(res.status).toBe(200);
    expect((await json<Page<UsageRecord>>(res)).data.map((r) => r.request_id)).toEqual(['an-1']);
    const denied = await get(h, '/v1/usage', infer.key);
    expect(denied.status).toBe(403);
    expect((await json<ErrorBody>(denied)).error.code).toBe('insufficient_scope');
  });

  it('refuses reports from a domain that never verified the key, or whose type rule refuses it', async () => {
    const victim = await developerAccount(h, 500, admin);
    const k = await createKey(h, victim.token, { name: 'victim-key' });
    // An operator's own network domain tries to bill a developer key it never served.
    const attacker = await signIn(h);
    const attackerDomain = (await createDomain(h, attacker.token, uniqueDomainName('evil'))).token;
    const stolen = await post(h, '/v1/usage', { key_id: k.id, request_id: 'steal-1', cost: 500 }, attackerDomain);
    expect(stolen.status).toBe(403);
    expect((await json<ErrorBody>(stolen)).error).toMatchObject({ code: 'forbidden', param: 'key_id' });
    // Even after "verifying" it (refused by the type rule), the network domain cannot bill it.
    expect((await verify(h, attackerDomain, { key: k.key })).code).toBe('key_type_mismatch');
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: 'steal-2', cost: 500 }, attackerDomain)).status).toBe(403);
    // A second public domain that never saw the key is refused too.
    const otherPublic = (await createDomain(h, admin.token, uniqueDomainName('pub2'), 'public')).token;
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: 'steal-3', cost: 500 }, otherPublic)).status).toBe(403);
    expect((await json<Account>(await get(h, '/v1/me', victim.token))).credits).toBe(500);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage', victim.token))).data).toHaveLength(0);
  });

  it('stops accepting reports a day after the domain last verified the key', async ({ skip }) => {
    if (!h.clock) skip();
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'm-window' });
    await verify(h, domainToken, { key: k.key });
    h.clock!.advance(23 * 3600_000);
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: 'w-1' }, domainToken)).status).toBe(201);
    h.clock!.advance(2 * 3600_000);
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: 'w-2' }, domainToken)).status).toBe(403);
    await verify(h, domainToken, { key: k.key });
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: 'w-3' }, domainToken)).status).toBe(201);
    // Sessions are a day long: the shared accounts sign in again after moving time.
    admin = await signInAdmin(h);
    operator = await signIn(h, operator.account);
  });

  it('refuses unknown keys, bad bodies and bad domain tokens', async () => {
    expect((await post(h, '/v1/usage', { key_id: 'key_nope', request_id: 'x' }, domainToken)).status).toBe(404);
    const bad = await post(h, '/v1/usage', { key_id: 'k', request_id: 'x', cost: -1 }, domainToken);
    expect(bad.status).toBe(400);
    expect((await json<ErrorBody>(bad)).error.param).toBe('cost');
    expect((await post(h, '/v1/usage', { key_id: 'k', request_id: 'x' }, 'sk_dom_nope')).status).toBe(401);
  });

  it('filters by time range', async ({ skip }) => {
    if (!h.clock) skip();
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'm7' });
    await verify(h, domainToken, { key: k.key }); // domains report usage only for keys they verified
    const t0 = h.clock!.now().getTime();
    await post(h, '/v1/usage', { key_id: k.id, request_id: 't-1' }, domainToken);
    h.clock!.advance(60_000);
    await post(h, '/v1/usage', { key_id: k.id, request_id: 't-2' }, domainToken);
    const from = new Date(t0 + 30_000).toISOString();
    const page = await json<Page<UsageRecord>>(await get(h, `/v1/usage?from=${encodeURIComponent(from)}`, u.token));
    expect(page.data.map((r) => r.request_id)).toEqual(['t-2']);
    const to = await json<Page<UsageRecord>>(await get(h, `/v1/usage?to=${encodeURIComponent(from)}`, u.token));
    expect(to.data.map((r) => r.request_id)).toEqual(['t-1']);
  });
});
