import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createKey } from './support/fixtures.js';
import type { KeyView } from '../src/contract/views.js';
import type { AuditEventView } from '../src/services/audit.js';
import type { AuditEvent, ErrorBody, Key, KeyWithSecret, Page } from './support/responses.js';

describe.each(targets())('API keys on $name', (target) => {
  let h: Harness;
  let alice: SignedIn;
  let bob: SignedIn;
  beforeAll(async () => {
    h = await target.start();
    alice = await signIn(h);
    bob = await signIn(h);
  });
  afterAll(async () => h.close());

  it('creates a network key for a new account and shows the secret once', async () => {
    const k = await createKey(h, alice.token, { name: 'first', description: 'my laptop' });
    expect(k.key).toMatch(/^sk_net_[0-9A-Za-z]{34}$/);
    expect(k.type).toBe('network');
    expect(k.scopes).toEqual(['inference:read', 'inference:write']);
    expect(k.hint).toBe(`sk_net_…${k.key.slice(-4)}`);
    expect(k.status).toBe('active');
    expect(k.usage).toEqual({ today: 0, this_month: 0, total: 0 });
    const got = await json<Key>(await get(h, `/v1/keys/${k.id}`, alice.token));
    expect(got.id).toBe(k.id);
    // The secret is not part of a listed key: read it as the wider type to check it is absent.
    expect((got as Partial<KeyWithSecret>).key).toBeUndefined();
    expect(JSON.stringify(got)).not.toContain(k.key);
    const list = await json<Page<KeyView>>(await get(h, '/v1/keys', alice.token));
    expect(list.data.map((x) => x.id)).toContain(k.id);
    expect(JSON.stringify(list)).not.toContain(k.key);
  });

  it('refuses a developer key for a network account with key_type_not_allowed', async () => {
    const res = await post(h, '/v1/keys', { name: 'dev-attempt', type: 'developer' }, alice.token);
    expect(res.status).toBe(403);
    expect((await json<ErrorBody>(res)).error.code).toBe('key_type_not_allowed');
  });

  it('refuses a duplicate name with name_taken', async () => {
    await createKey(h, alice.token, { name: 'dup' });
    const res = await post(h, '/v1/keys', { name: 'dup' }, alice.token);
    expect(res.status).toBe(409);
    expect((await json<ErrorBody>(res)).error.code).toBe('name_taken');
    // Another account may use the same name.
    await createKey(h, bob.token, { name: 'dup' });
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ name: 'x'.repeat(65) }, 'name'],
    [{ name: 'tab\there' }, 'name'],
    [{ name: 'ok', scopes: ['inference:write', 'root'] }, 'scopes.1'],
    [{ name: 'ok', scopes: [] }, 'scopes'],
    [{ name: 'ok', limits: { rpm: 0 } }, 'limits.rpm'],
    [{ name: 'ok', limits: { daily_credits: -1 } }, 'limits.daily_credits'],
    [{ name: 'ok', limits: { daily_credits: 1.5 } }, 'limits.daily_credits'],
    [{ name: 'ok', expires_at: 'tomorrow' }, 'expires_at'],
    [{ name: 'ok', expires_in_days: 0 }, 'expires_in_days'],
    [{ name: 'ok', unknown_field: 1 }, 'body'],
    [{}, 'name'],
  ])('refuses bad input %j naming the field', async (body, param) => {
    const res = await post(h, '/v1/keys', body, alice.token);
    expect(res.status).toBe(400);
    const err = (await json<ErrorBody>(res)).error;
    expect(err.code).toBe('invalid_request');
    if (param !== 'body') expect(err.param).toBe(param);
  });

  it('refuses an expiry in the past', async () => {
    const res = await post(h, '/v1/keys', { name: 'past', expires_at: '2000-01-01T00:00:00Z' }, alice.token);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.param).toBe('expires_at');
  });

  it("hides other accounts' keys behind 404 on every verb", async () => {
    const k = await createKey(h, alice.token, { name: 'private' });
    for (const res of [
      await get(h, `/v1/keys/${k.id}`, bob.token),
      await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, bob.token),
      await post(h, `/v1/keys/${k.id}/rotate`, {}, bob.token),
      await del(h, `/v1/keys/${k.id}`, bob.token),
    ]) {
      expect(res.status).toBe(404);
      expect((await json<ErrorBody>(res)).error.code).toBe('not_found');
    }
    // Nothing changed for the owner.
    const still = await json<Key>(await get(h, `/v1/keys/${k.id}`, alice.token));
    expect(still.status).toBe('active');
    expect(still.hint).toBe(k.hint);
    expect((await json<Page<KeyView>>(await get(h, '/v1/keys', bob.token))).data.map((x) => x.id)).not.toContain(k.id);
  });

  it('patches description, status, scopes, models, limits and expiry but never the name', async () => {
    const k = await createKey(h, alice.token, { name: 'patchme', limits: { rpm: 10 } });
    const res = await patch(
      h,
      `/v1/keys/${k.id}`,
      {
        description: 'new',
        status: 'disabled',
        scopes: ['analytics:read'],
        models: ['llama-3-8b'],
        limits: { rpm: null, daily_credits: 50 },
        expires_at: '2999-01-01T00:00:00Z',
      },
      alice.token,
    );
    expect(res.status).toBe(200);
    const b = await json<Key>(res);
    expect(b).toMatchObject({
      description: 'new',
      status: 'disabled',
      scopes: ['analytics:read'],
      models: ['llama-3-8b'],
      limits: { daily_credits: 50 },
      expires_at: '2999-01-01T00:00:00.000Z',
    });
    expect(b.limits.rpm).toBeUndefined();
    const rename = await patch(h, `/v1/keys/${k.id}`, { name: 'renamed' }, alice.token);
    expect(rename.status).toBe(400);
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, alice.token))).name).toBe('patchme');
  });

  it('lets an admin-scoped key manage its own account and refuses inference keys there', async () => {
    const adminKey = await createKey(h, alice.token, { name: 'automation', scopes: ['admin'] });
    const inference = await createKey(h, alice.token, { name: 'inference-only' });
    const made = await post(h, '/v1/keys', { name: 'made-by-key' }, adminKey.key);
    expect(made.status).toBe(201);
    expect((await json<KeyWithSecret>(made)).type).toBe('network');
    const listed = await json<Page<KeyView>>(await get(h, '/v1/keys', adminKey.key));
    expect(listed.data.map((x) => x.name)).toContain('made-by-key');
    const events = (await json<Page<AuditEventView>>(await get(h, '/v1/audit', alice.token))).data;
    expect(events.find((e) => e.action === 'key.create' && e.detail?.name === 'made-by-key')).toMatchObject({
      actor: adminKey.id,
      account: alice.address,
    });
    // The admin key acts only for its own account.
    const bobKey = await createKey(h, bob.token, { name: 'bobs' });
    expect((await get(h, `/v1/keys/${bobKey.id}`, adminKey.key)).status).toBe(404);
    for (const res of [await post(h, '/v1/keys', { name: 'nope' }, inference.key), await get(h, '/v1/keys', inference.key)]) {
      expect(res.status).toBe(403);
      expect((await json<ErrorBody>(res)).error.code).toBe('insufficient_scope');
    }
    // A key is never a session: /v1/me and applications need a session.
    expect((await get(h, '/v1/me', adminKey.key)).status).toBe(403);
  });

  it('refuses a disabled, expired or mistyped admin key', async () => {
    const k = await createKey(h, alice.token, { name: 'admin-disabled', scopes: ['admin'] });
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, alice.token);
    const res = await get(h, '/v1/keys', k.key);
    expect(res.status).toBe(401);
    expect((await json<ErrorBody>(res)).error.code).toBe('invalid_api_key');
    const typo = k.key.slice(0, -1) + (k.key.endsWith('a') ? 'b' : 'a');
    expect((await get(h, '/v1/keys', typo)).status).toBe(401);
  });

  it('rotates: same id and settings, new secret, old secret dead at once', async () => {
    const k = await createKey(h, alice.token, { name: 'rotate-now', scopes: ['admin'], limits: { rpm: 5 } });
    const res = await post(h, `/v1/keys/${k.id}/rotate`, {}, alice.token);
    expect(res.status).toBe(200);
    const r = await json<KeyWithSecret>(res);
    expect(r.id).toBe(k.id);
    expect(r.key).not.toBe(k.key);
    expect(r.scopes).toEqual(k.scopes);
    expect(r.limits).toEqual({ rpm: 5 });
    expect((await get(h, '/v1/keys', k.key)).status).toBe(401);
    expect((await get(h, '/v1/keys', r.key)).status).toBe(200);
  });

  it('rotation with a grace period keeps the old secret until it ends', async ({ skip }) => {
    if (!h.clock) skip();
    const k = await createKey(h, alice.token, { name: 'rotate-grace', scopes: ['admin'] });
    const r = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, { grace_seconds: 60 }, alice.token));
    expect((await get(h, '/v1/keys', k.key)).status).toBe(200);
    expect((await get(h, '/v1/keys', r.key)).status).toBe(200);
    h.clock!.advance(61_000);
    expect((await get(h, '/v1/keys', k.key)).status).toBe(401);
    expect((await get(h, '/v1/keys', r.key)).status).toBe(200);
  });

  it('refuses a grace period over a day', async () => {
    const k = await createKey(h, alice.token, { name: 'rotate-bad' });
    const res = await post(h, `/v1/keys/${k.id}/rotate`, { grace_seconds: 86_401 }, alice.token);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.param).toBe('grace_seconds');
  });

  it('deletes permanently', async () => {
    const k = await createKey(h, alice.token, { name: 'delete-me', scopes: ['admin'] });
    expect((await del(h, `/v1/keys/${k.id}`, alice.token)).status).toBe(204);
    expect((await get(h, `/v1/keys/${k.id}`, alice.token)).status).toBe(404);
    expect((await get(h, '/v1/keys', k.key)).status).toBe(401);
    expect((await del(h, `/v1/keys/${k.id}`, alice.token)).status).toBe(404);
  });

  it('expires keys by the clock and lists those expiring soon', async ({ skip }) => {
    if (!h.clock) skip();
    const carol = await signIn(h);
    const soon = await createKey(h, carol.token, { name: 'soon', scopes: ['admin'], expires_in_days: 2 });
    await createKey(h, carol.token, { name: 'later', expires_in_days: 30 });
    await createKey(h, carol.token, { name: 'never' });
    const within7 = await json<Page<KeyView>>(await get(h, '/v1/keys?expiring_within_days=7', carol.token));
    expect(within7.data.map((x) => x.name)).toEqual(['soon']);
    h.clock!.advance(3 * 86_400_000);
    expect((await get(h, '/v1/keys', soon.key)).status).toBe(401);
    // Sessions are a day long: sign the shared accounts in again after moving time.
    alice = await signIn(h, alice.account);
    bob = await signIn(h, bob.account);
  });

  it('paginates newest first with a cursor, visiting each key once, and filters by status', async () => {
    const dave = await signIn(h);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await createKey(h, dave.token, { name: `k${i}` })).id);
    await patch(h, `/v1/keys/${ids[3]}`, { status: 'disabled' }, dave.token);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<KeyView> = await json<Page<Key>>(await get(h, `/v1/keys?limit=3${cursor ? `&cursor=${cursor}` : ''}`, dave.token));
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((x) => x.id));
      cursor = page.next_cursor ?? null;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const disabled = await json<Page<KeyView>>(await get(h, '/v1/keys?status=disabled', dave.token));
    expect(disabled.data.map((x) => x.id)).toEqual([ids[3]]);
    expect((await get(h, '/v1/keys?limit=0', dave.token)).status).toBe(400);
  });

  it('caps keys per account', async () => {
    const h2 = await target.start({ env: { MAX_KEYS_PER_ACCOUNT: '2' } });
    try {
      const s = await signIn(h2);
      await createKey(h2, s.token, { name: 'a' });
      await createKey(h2, s.token, { name: 'b' });
      const res = await post(h2, '/v1/keys', { name: 'c' }, s.token);
      expect(res.status).toBe(409);
      expect((await json<ErrorBody>(res)).error.code).toBe('limit_reached');
    } finally {
      await h2.close();
    }
  });

  it('never writes a secret into logs or the audit trail', async () => {
    const k = await createKey(h, alice.token, { name: 'secret-hygiene', scopes: ['admin'] });
    const r = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, { grace_seconds: 10 }, alice.token));
    await get(h, '/v1/keys', r.key);
    const audit = await json<Page<AuditEventView>>(await get(h, '/v1/audit?limit=100', alice.token));
    const text = JSON.stringify(audit) + h.logs.join('\n');
    expect(text).not.toContain(k.key);
    expect(text).not.toContain(r.key);
    expect(text).not.toContain(alice.token);
    expect(audit.data.map((e) => e.action)).toEqual(expect.arrayContaining(['key.create', 'key.rotate', 'auth.sign_in']));
  });

  it('requires a session or key', async () => {
    expect((await get(h, '/v1/keys')).status).toBe(401);
    expect((await get(h, '/v1/keys', 'garbage')).status).toBe(401);
  });

  it('lets an admin session see the platform audit and refuses it to others', async () => {
    const admin = await signInAdmin(h);
    const all = await get(h, '/v1/admin/audit?limit=5', admin.token);
    expect(all.status).toBe(200);
    const page = await json<Page<AuditEvent>>(all);
    expect(page.data.length).toBe(5);
    expect(page.has_more).toBe(true);
    const res = await get(h, '/v1/admin/audit', alice.token);
    expect(res.status).toBe(403);
    expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
  });
});
