import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import type { Account, ErrorBody, Key, KeyWithSecret } from './support/responses.js';

describe.each(targets())('key verification on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let net: SignedIn;
  let dev: SignedIn;
  let publicToken: string;
  let networkToken: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    net = await signIn(h);
    dev = await developerAccount(h, 1000, admin);
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('public'), 'public')).token;
    networkToken = (await createDomain(h, operator.token, uniqueDomainName('net'))).token;
  });
  afterAll(async () => h.close());

  it('accepts a network key on a network domain with the contract fields', async () => {
    const k = await createKey(h, net.token, { name: 'v-ok' });
    const r = await verify(h, networkToken, { key: k.key, scope: 'inference:write', model: 'llama-3-8b' });
    expect(r).toMatchObject({
      valid: true,
      code: 'valid',
      key_id: k.id,
      account: net.address,
      type: 'network',
      scopes: k.scopes,
      expires_at: null,
      credits_remaining: null,
    });
    expect(r.ratelimit).toMatchObject({ limit: null, remaining: null });
  });

  it('accepts a developer key on a public domain and reports its credits', async () => {
    const k = await createKey(h, dev.token, { name: 'v-dev' });
    const r = await verify(h, publicToken, { key: k.key, cost: 10 });
    expect(r).toMatchObject({ valid: true, type: 'developer', credits_remaining: 990 });
  });

  it('refuses a network key on a public domain with the exact message', async () => {
    const k = await createKey(h, net.token, { name: 'v-net-on-public' });
    const r = await verify(h, publicToken, { key: k.key });
    expect(r).toEqual({
      valid: false,
      code: 'key_type_mismatch',
      key_id: k.id,
      message: "Your API key doesn't match the type. Please apply for a Developer API key.",
    });
  });

  it('refuses a developer (free-trial) key on a network domain', async () => {
    const k = await createKey(h, dev.token, { name: 'v-dev-on-net' });
    const r = await verify(h, networkToken, { key: k.key });
    expect(r.valid).toBe(false);
    expect(r.code).toBe('key_type_mismatch');
    expect(r.message).toMatch(/free-trial.*only on public domains/i);
  });

  it('answers malformed for mistyped keys without a lookup, and not_found for unknown ones', async () => {
    const k = await createKey(h, net.token, { name: 'v-typo' });
    const typo = k.key.slice(0, 10) + (k.key[10] === 'A' ? 'B' : 'A') + k.key.slice(11);
    expect((await verify(h, networkToken, { key: typo })).code).toBe('malformed');
    expect((await verify(h, networkToken, { key: 'hello' })).code).toBe('malformed');
    expect((await verify(h, networkToken, { key: networkToken })).code).toBe('malformed');
    expect((await verify(h, networkToken, { key: k.key.replace(/^sk_/, 'xx_') })).code).toBe('malformed');
    const { generateSecret } = await import('../src/services/key-format.js');
    expect((await verify(h, networkToken, { key: generateSecret('sk', 'net') })).code).toBe('not_found');
  });

  it('refuses disabled, rotated and deleted keys at once', async () => {
    const k = await createKey(h, net.token, { name: 'v-lifecycle' });
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('disabled');
    await patch(h, `/v1/keys/${k.id}`, { status: 'active' }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    const rotated = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, {}, net.token));
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('not_found');
    expect((await verify(h, networkToken, { key: rotated.key })).valid).toBe(true);
    await del(h, `/v1/keys/${k.id}`, net.token);
    expect((await verify(h, networkToken, { key: rotated.key })).code).toBe('not_found');
  });

  it('honours a rotation grace period by the clock', async ({ skip }) => {
    if (!h.clock) skip();
    const k = await createKey(h, net.token, { name: 'v-grace' });
    const rotated = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, { grace_seconds: 30 }, net.token));
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    h.clock!.advance(31_000);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('not_found');
    expect((await verify(h, networkToken, { key: rotated.key })).valid).toBe(true);
  });

  it('expires keys by the clock', async ({ skip }) => {
    if (!h.clock) skip();
    const k = await createKey(h, net.token, { name: 'v-expiry', expires_at: new Date(h.clock!.now().getTime() + 60_000).toISOString() });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    h.clock!.advance(60_000);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('expired');
  });

  it('checks scopes (default inference:write) and the model allow-list', async () => {
    const reader = await createKey(h, net.token, { name: 'v-reader', scopes: ['inference:read'], models: ['llama-3-8b'] });
    expect((await verify(h, networkToken, { key: reader.key })).code).toBe('scope_denied');
    expect((await verify(h, networkToken, { key: reader.key, scope: 'inference:write' })).code).toBe('scope_denied');
    expect((await verify(h, networkToken, { key: reader.key, scope: 'inference:read', model: 'llama-3-8b' })).valid).toBe(true);
    const r = await verify(h, networkToken, { key: reader.key, scope: 'inference:read', model: 'gpt-4' });
    expect(r.code).toBe('model_not_allowed');
  });

  it('checks in the contract order: disabled beats type mismatch, type beats scope', async () => {
    const k = await createKey(h, net.token, { name: 'v-order', scopes: ['analytics:read'] });
    expect((await verify(h, publicToken, { key: k.key })).code).toBe('key_type_mismatch');
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, net.token);
    expect((await verify(h, publicToken, { key: k.key })).code).toBe('disabled');
  });

  it('enforces requests per minute and resets with the next minute', async ({ skip }) => {
    if (!h.clock) skip();
    h.clock!.set(Math.ceil(h.clock!.now().getTime() / 60_000) * 60_000 + 1_000);
    const k = await createKey(h, net.token, { name: 'v-rpm', limits: { rpm: 3 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await verify(h, networkToken, { key: k.key }));
    expect(answers.map((a) => a.code)).toEqual(['valid', 'valid', 'valid', 'rate_limited']);
    expect(answers[0].ratelimit).toMatchObject({ limit: 3, remaining: 2 });
    expect(answers[2].ratelimit).toMatchObject({ limit: 3, remaining: 0 });
    expect(answers[3].ratelimit).toMatchObject({ limit: 3, remaining: 0, reset: 59 });
    h.clock!.advance(60_000);
    expect((await verify(h, networkToken, { key: k.key })).ratelimit).toMatchObject({ remaining: 2 });
  });

  it('charges cost against daily and monthly key windows, all or nothing', async () => {
    const k = await createKey(h, net.token, { name: 'v-windows', limits: { daily_credits: 25, monthly_credits: 40 } });
    expect((await verify(h, networkToken, { key: k.key, cost: 10 })).valid).toBe(true);
    expect((await verify(h, networkToken, { key: k.key, cost: 10 })).valid).toBe(true);
    const over = await verify(h, networkToken, { key: k.key, cost: 10 });
    expect(over.code).toBe('api_key_quota_exceeded');
    expect((await verify(h, networkToken, { key: k.key, cost: 5 })).valid).toBe(true);
    const got = await json<Key>(await get(h, `/v1/keys/${k.id}`, net.token));
    expect(got.usage).toEqual({ today: 25, this_month: 25, total: 25 });
  });

  it('rolls the daily window at UTC midnight and the monthly one at month end', async ({ skip }) => {
    if (!h.clock) skip();
    // Its own service: moving time by months would expire the shared sessions.
    const h2 = await target.start();
    try {
      h2.clock!.set('2027-01-31T23:59:30.000Z');
      const u = await signIn(h2);
      const op = await signIn(h2);
      const token = (await createDomain(h2, op.token, uniqueDomainName('roll'))).token;
      const k = await createKey(h2, u.token, { name: 'v-rollover', limits: { daily_credits: 10, monthly_credits: 15 } });
      expect((await verify(h2, token, { key: k.key, cost: 10 })).valid).toBe(true);
      expect((await verify(h2, token, { key: k.key, cost: 1 })).code).toBe('api_key_quota_exceeded');
      h2.clock!.set('2027-02-01T00:00:00.000Z'); // new day and new month
      expect((await verify(h2, token, { key: k.key, cost: 10 })).valid).toBe(true);
      h2.clock!.set('2027-02-02T00:00:01.000Z'); // new day, same month: 10 of 15 used this month
      expect((await verify(h2, token, { key: k.key, cost: 6 })).code).toBe('api_key_quota_exceeded');
      expect((await verify(h2, token, { key: k.key, cost: 5 })).valid).toBe(true);
      const got = await json<Key>(await get(h2, `/v1/keys/${k.id}`, (await signIn(h2, u.account)).token));
      expect(got.usage).toEqual({ today: 5, this_month: 15, total: 25 });
    } finally {
      await h2.close();
    }
  });

  it('refuses a cost the balance cannot cover and deducts nothing', async () => {
    const poor = await developerAccount(h, 15, admin);
    const k = await createKey(h, poor.token, { name: 'v-poor', limits: { daily_credits: 100 } });
    expect((await verify(h, publicToken, { key: k.key, cost: 10 })).credits_remaining).toBe(5);
    const short = await verify(h, publicToken, { key: k.key, cost: 10 });
    expect(short.code).toBe('billing_shortfall');
    expect((await json<Account>(await get(h, '/v1/me', poor.token))).credits).toBe(5);
    // The refused charge did not touch the key's window either.
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, poor.token))).usage.today).toBe(10);
    // Quota is checked before billing.
    const capped = await createKey(h, poor.token, { name: 'v-poor-capped', limits: { daily_credits: 1 } });
    expect((await verify(h, publicToken, { key: capped.key, cost: 10 })).code).toBe('api_key_quota_exceeded');
  });

  it('never overspends: 50 parallel checks of cost 10 against 200 credits give exactly 20 valid', async () => {
    const rich = await developerAccount(h, 200, admin);
    const k = await createKey(h, rich.token, { name: 'v-race' });
    const answers = await Promise.all(Array.from({ length: 50 }, () => verify(h, publicToken, { key: k.key, cost: 10 })));
    expect(answers.filter((a) => a.valid)).toHaveLength(20);
    expect(answers.filter((a) => !a.valid).every((a) => a.code === 'billing_shortfall')).toBe(true);
    expect((await json<Account>(await get(h, '/v1/me', rich.token))).credits).toBe(0);
    // A refused charge leaves no trace on the key's windows either.
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, rich.token))).usage).toEqual({ today: 200, this_month: 200, total: 200 });
  });

  it('refuses a cost above the per-request bound with 400 naming it', async () => {
    const k = await createKey(h, net.token, { name: 'v-huge-cost' });
    const res = await post(h, '/v1/verify', { key: k.key, cost: 1_000_000_000_001 }, networkToken);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.param).toBe('cost');
    expect((await verify(h, networkToken, { key: k.key, cost: 1_000_000_000_000 })).valid).toBe(true);
  });

  it('refuses a bad or missing domain token with 401', async () => {
    const k = await createKey(h, net.token, { name: 'v-domain-token' });
    for (const token of [undefined, 'garbage', k.key, networkToken.slice(0, -1) + (networkToken.endsWith('a') ? 'b' : 'a')]) {
      const res = await post(h, '/v1/verify', { key: k.key }, token);
      expect(res.status).toBe(401);
      expect((await json<ErrorBody>(res)).error.code).toBe('invalid_domain_token');
    }
  });

  it('updates last_used_at in batches', async () => {
    const k = await createKey(h, net.token, { name: 'v-last-used' });
    expect(k.last_used_at).toBeNull();
    await verify(h, networkToken, { key: k.key });
    await h.service?.deps.lastUsed.flush();
    if (h.service) expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, net.token))).last_used_at).not.toBeNull();
  });
});
