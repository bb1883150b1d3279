import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import { startRealServer } from './support/server.js';
import type { Account, Application, AuditEvent, ErrorBody, Key, Page, UsageRecord, UsageRecorded } from './support/responses.js';

const MAX = Number.MAX_SAFE_INTEGER;

async function approve(h: Harness, user: SignedIn, admin: SignedIn, credits: number, headers: Record<string, string> = {}): Promise<void> {
  const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'testing' }, user.token));
  const res = await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits }, admin.token, headers);
  expect(res.status).toBe(200);
}

async function credits(h: Harness, user: SignedIn): Promise<number | null> {
  return (await json<Account>(await get(h, '/v1/me', user.token))).credits;
}

describe.each(targets())('approved accounts on network domains on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let networkToken: string;
  let publicToken: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    networkToken = (await createDomain(h, operator.token, uniqueDomainName('net'))).token;
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('pub'), 'public')).token;
  });
  afterAll(async () => h.close());

  it('disables the network keys an account made before its approval, says why, and audits it', async () => {
    const user = await signIn(h);
    const old = await createKey(h, user.token, { name: 'before-approval' });
    const off = await createKey(h, user.token, { name: 'already-off' });
    const manager = await createKey(h, user.token, { name: 'admin-only', scopes: ['admin'] });
    await patch(h, `/v1/keys/${off.id}`, { status: 'disabled' }, user.token);
    expect((await verify(h, networkToken, { key: old.key })).valid).toBe(true);

    await approve(h, user, admin, 1000);

    const k = await json<Key>(await get(h, `/v1/keys/${old.id}`, user.token));
    expect(k).toMatchObject({ status: 'disabled', disabled_reason: 'trial_approved' });
    // A key the owner had turned off keeps the owner's reason (none).
    expect(await json<Key>(await get(h, `/v1/keys/${off.id}`, user.token))).toMatchObject({ status: 'disabled', disabled_reason: null });
    expect((await verify(h, networkToken, { key: old.key, cost: 5 })).code).toBe('disabled');
    // An admin-only key never works on a domain anyway: it keeps managing the account.
    expect(await json<Key>(await get(h, `/v1/keys/${manager.id}`, user.token))).toMatchObject({ status: 'active', disabled_reason: null });
    expect((await get(h, '/v1/keys', manager.key)).status).toBe(200);
    const events = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', user.token))).data;
    expect(events.find((e) => e.action === 'key.disable')).toMatchObject({
      actor: admin.address,
      detail: { reason: 'trial_approved', keys: [old.id] },
    });
    expect(await credits(h, user)).toBe(1000);
  });

  it('refuses every key of an approved account on network domains, even a network key enabled again', async () => {
    const user = await signIn(h);
    const old = await createKey(h, user.token, { name: 'net-key' });
    expect((await verify(h, networkToken, { key: old.key })).valid).toBe(true);
    await approve(h, user, admin, 1000);

    // The owner turns the old key back on: the rule is about the account, so it is still refused.
    const enabled = await json<Key>(await patch(h, `/v1/keys/${old.id}`, { status: 'active' }, user.token));
    expect(enabled).toMatchObject({ status: 'active', disabled_reason: null });
    const r = await verify(h, networkToken, { key: old.key, cost: 400 });
    expect(r).toMatchObject({ valid: false, code: 'key_type_mismatch', key_id: old.id });
    expect(r.message).toMatch(/different account/i);
    const dev = await createKey(h, user.token, { name: 'dev-key' });
    const d = await verify(h, networkToken, { key: dev.key, cost: 400 });
    expect(d).toMatchObject({ valid: false, code: 'key_type_mismatch' });
    expect(d.message).toMatch(/different account/i);
    // Nothing was spent on the network domain; the trial credits work on public domains only.
    expect(await credits(h, user)).toBe(1000);
    expect((await verify(h, publicToken, { key: old.key })).code).toBe('key_type_mismatch');
    expect(await verify(h, publicToken, { key: dev.key, cost: 10 })).toMatchObject({ valid: true, credits_remaining: 990 });
  });

  it("refuses a network domain's usage report for an approved account's key it verified before the approval", async () => {
    const user = await signIn(h);
    const old = await createKey(h, user.token, { name: 'reported' });
    expect((await verify(h, networkToken, { key: old.key })).valid).toBe(true);
    await approve(h, user, admin, 500);
    await patch(h, `/v1/keys/${old.id}`, { status: 'active' }, user.token);

    const res = await post(h, '/v1/usage', { key_id: old.id, request_id: `after-approval-${Date.now()}`, cost: 300 }, networkToken);
    expect(res.status).toBe(403);
    expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    expect(await credits(h, user)).toBe(500);
    // Also once the key is deleted (its tombstone still names the account).
    await del(h, `/v1/keys/${old.id}`, user.token);
    const gone = await post(h, '/v1/usage', { key_id: old.id, request_id: `deleted-${Date.now()}`, cost: 300 }, networkToken);
    expect(gone.status).toBe(403);
    expect(await credits(h, user)).toBe(500);
  });
});

describe.each(targets())('admin keys are management keys only on $name', (target) => {
  let h: Harness;
  let user: SignedIn;
  let networkToken: string;

  beforeAll(async () => {
    h = await target.start();
    user = await signIn(h);
    const operator = await signIn(h);
    networkToken = (await createDomain(h, operator.token, uniqueDomainName('adm'))).token;
  });
  afterAll(async () => h.close());

  it('refuses admin combined with another scope on create and on PATCH, naming scopes', async () => {
    for (const scopes of [
      ['admin', 'inference:write'],
      ['inference:read', 'admin'],
      ['admin', 'analytics:read'],
    ]) {
      const res = await post(h, '/v1/keys', { name: `mixed-${scopes.join('-')}`, scopes }, user.token);
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'invalid_request', param: 'scopes' });
    }
    const k = await createKey(h, user.token, { name: 'to-mix' });
    const res = await patch(h, `/v1/keys/${k.id}`, { scopes: ['admin', 'inference:write'] }, user.token);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'invalid_request', param: 'scopes' });
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, user.token))).scopes).toEqual(['inference:read', 'inference:write']);
  });

  it('never answers valid for an admin key, whatever scope is asked', async () => {
    const k = await createKey(h, user.token, { name: 'adm-verify', scopes: ['admin'] });
    for (const scope of ['admin', 'inference:write', 'inference:read', 'analytics:read', undefined]) {
      const r = await verify(h, networkToken, scope ? { key: k.key, scope } : { key: k.key });
      expect(r).toMatchObject({ valid: false, code: 'scope_denied', key_id: k.id });
    }
  });

  it('refuses a stored key that mixes admin with inference scopes (made before the rule)', async ({ skip }) => {
    if (!h.service) skip(); // needs the database itself to write a row the API no longer accepts
    const k = await createKey(h, user.token, { name: 'legacy-mixed' });
    await h
      .service!.db.updateTable('api_keys')
      .set({ scopes: JSON.stringify(['admin', 'inference:write']) })
      .where('id', '=', k.id)
      .execute();
    expect(await verify(h, networkToken, { key: k.key, scope: 'inference:write' })).toMatchObject({ valid: false, code: 'scope_denied' });
  });

  it('an admin key cannot create an admin key nor grant the admin scope; a session can', async () => {
    const adminKey = await createKey(h, user.token, { name: 'adm-creator', scopes: ['admin'] });
    const made = await post(h, '/v1/keys', { name: 'adm-child', scopes: ['admin'] }, adminKey.key);
    expect(made.status).toBe(403);
    expect((await json<ErrorBody>(made)).error).toMatchObject({ code: 'insufficient_scope', param: 'scopes' });
    const inference = await createKey(h, user.token, { name: 'adm-target' });
    const granted = await patch(h, `/v1/keys/${inference.id}`, { scopes: ['admin'] }, adminKey.key);
    expect(granted.status).toBe(403);
    expect((await json<ErrorBody>(granted)).error.code).toBe('insufficient_scope');
    expect((await json<Key>(await get(h, `/v1/keys/${inference.id}`, user.token))).scopes).toEqual(['inference:read', 'inference:write']);
    // The ordinary management the key exists for still works.
    expect((await post(h, '/v1/keys', { name: 'adm-made-inference' }, adminKey.key)).status).toBe(201);
    expect((await patch(h, `/v1/keys/${inference.id}`, { scopes: ['admin'] }, user.token)).status).toBe(200);
  });

  it('an admin key cannot extend or clear its own expiry, nor revive another admin key; it may shorten it', async () => {
    const adminKey = await createKey(h, user.token, { name: 'adm-expiry', scopes: ['admin'], expires_in_days: 2 });
    const current = new Date(adminKey.expires_at as string).getTime();
    for (const expires_at of [new Date(current + 30 * 86_400_000).toISOString(), null]) {
      const res = await patch(h, `/v1/keys/${adminKey.id}`, { expires_at }, adminKey.key);
      expect(res.status).toBe(403);
      expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'insufficient_scope', param: 'expires_at' });
    }
    expect((await json<Key>(await get(h, `/v1/keys/${adminKey.id}`, user.token))).expires_at).toBe(adminKey.expires_at);
    // A second admin key cannot do it for the first either, nor enable a disabled one.
    const other = await createKey(h, user.token, { name: 'adm-other', scopes: ['admin'] });
    expect((await patch(h, `/v1/keys/${adminKey.id}`, { expires_at: null }, other.key)).status).toBe(403);
    const off = await createKey(h, user.token, { name: 'adm-off', scopes: ['admin'] });
    await patch(h, `/v1/keys/${off.id}`, { status: 'disabled' }, user.token);
    const revive = await patch(h, `/v1/keys/${off.id}`, { status: 'active' }, other.key);
    expect(revive.status).toBe(403);
    expect((await json<Key>(await get(h, `/v1/keys/${off.id}`, user.token))).status).toBe('disabled');
    // Shortening is allowed; a session may do anything.
    const sooner = new Date(current - 86_400_000).toISOString();
    expect((await json<Key>(await patch(h, `/v1/keys/${adminKey.id}`, { expires_at: sooner }, adminKey.key))).expires_at).toBe(
      new Date(sooner).toISOString(),
    );
    expect((await json<Key>(await patch(h, `/v1/keys/${adminKey.id}`, { expires_at: null }, user.token))).expires_at).toBeNull();
  });

  it("shows the owner the user agent of their own keys' actions, but not an admin's", async () => {
    const owner = await signIn(h);
    const adminKey = await createKey(h, owner.token, { name: 'adm-audit', scopes: ['admin'] });
    const made = await post(h, '/v1/keys', { name: 'made-by-script' }, adminKey.key, { 'user-agent': 'deploy-script/1.0' });
    expect(made.status).toBe(201);
    const admin = await signInAdmin(h);
    await approve(h, owner, admin, 10, { 'user-agent': 'admin-browser/9' });
    const events = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', owner.token))).data;
    expect(events.find((e) => e.action === 'key.create' && e.detail?.name === 'made-by-script')).toMatchObject({
      actor: adminKey.id,
      user_agent: 'deploy-script/1.0',
    });
    expect(events.find((e) => e.action === 'trial.approve')).toMatchObject({ actor: admin.address, user_agent: null, ip: null });
  });
});

describe('audit shows the IP of actions taken with your own keys (real Node server)', () => {
  let srv: Awaited<ReturnType<typeof startRealServer>>;
  beforeAll(async () => {
    srv = await startRealServer();
  });
  afterAll(async () => srv.close());

  it("shows the owner the IP of their own key's action and hides another account's key's", async () => {
    const { h } = srv;
    const owner = await signIn(h);
    const adminKey = await createKey(h, owner.token, { name: 'ip-key', scopes: ['admin'] });
    await post(h, '/v1/keys', { name: 'ip-made' }, adminKey.key, { 'user-agent': 'cron/2' });
    const e = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', owner.token))).data.find((x) => x.detail?.name === 'ip-made');
    expect(e).toMatchObject({ actor: adminKey.id, ip: '127.0.0.1', user_agent: 'cron/2' });
    // Admins' addresses stay hidden from users.
    const admin = await signInAdmin(h);
    await post(h, `/v1/admin/accounts/${owner.address}/credits`, { delta: 5, reason: 'gift' }, admin.token);
    const c = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', owner.token))).data.find((x) => x.action === 'account.credits');
    expect(c).toMatchObject({ actor: admin.address, ip: null, user_agent: null });
  });
});

describe.each(targets())('bounded usage counters on $name', (target) => {
  let h: Harness;
  let user: SignedIn;
  let networkToken: string;

  beforeAll(async () => {
    h = await target.start();
    user = await signIn(h);
    const operator = await signIn(h);
    networkToken = (await createDomain(h, operator.token, uniqueDomainName('cnt'))).token;
  });
  afterAll(async () => h.close());

  /** Seeds counters in the database (the API cannot reach 2^53 in a test's time). */
  async function seed(keyId: string, set: { total_used?: number | bigint; usage_total?: number }): Promise<void> {
    const db = h.service!.db;
    if (set.total_used !== undefined) {
      await db
        .updateTable('api_keys')
        .set({ total_used: sql<number>`CAST(${String(set.total_used)} AS BIGINT)` })
        .where('id', '=', keyId)
        .execute();
    }
    if (set.usage_total !== undefined) {
      await db.updateTable('accounts').set({ usage_total: set.usage_total }).where('address', '=', user.address).execute();
    }
  }

  it("stops a key's total at 2^53 - 1: the charge that would pass it is refused", async ({ skip }) => {
    if (!h.service) skip(); // Workers+D1: no direct database access from the test to seed 2^53
    const k = await createKey(h, user.token, { name: 'near-max' });
    await seed(k.id, { total_used: MAX - 5, usage_total: 0 });
    expect(await verify(h, networkToken, { key: k.key, cost: 6 })).toMatchObject({ valid: false, code: 'api_key_quota_exceeded' });
    expect(await verify(h, networkToken, { key: k.key, cost: 5 })).toMatchObject({ valid: true, charged: 5 });
    expect((await verify(h, networkToken, { key: k.key, cost: 1 })).code).toBe('api_key_quota_exceeded');
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true); // free calls still work
    const view = await json<Key>(await get(h, `/v1/keys/${k.id}`, user.token));
    expect(view.usage.total).toBe(MAX);
    expect(Number.isSafeInteger(view.usage.today)).toBe(true);
  });

  it('enforces the key bound in the UPDATE itself under concurrency (the snapshot cannot see the others)', async ({ skip }) => {
    if (!h.service) skip(); // Workers+D1: no direct database access from the test to seed 2^53
    const k = await createKey(h, user.token, { name: 'near-max-race' });
    await seed(k.id, { total_used: MAX - 5, usage_total: 0 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => verify(h, networkToken, { key: k.key, cost: 1 })));
    expect(answers.filter((a) => a.valid)).toHaveLength(5);
    expect(answers.filter((a) => !a.valid).every((a) => a.code === 'api_key_quota_exceeded')).toBe(true);
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, user.token))).usage.total).toBe(MAX);
  });

  it("stops an account's usage (no balance) at 2^53 - 1 across its keys, also under concurrency", async ({ skip }) => {
    if (!h.service) skip(); // Workers+D1: no direct database access from the test to seed 2^53
    const a = await createKey(h, user.token, { name: 'acct-a' });
    const b = await createKey(h, user.token, { name: 'acct-b' });
    await seed(a.id, { usage_total: MAX - 10 });
    expect(await verify(h, networkToken, { key: a.key, cost: 11 })).toMatchObject({ valid: false, code: 'billing_shortfall' });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => verify(h, networkToken, { key: i % 2 ? a.key : b.key, cost: 1 })),
    );
    expect(answers.filter((x) => x.valid)).toHaveLength(10);
    expect((await verify(h, networkToken, { key: b.key, cost: 1 })).code).toBe('billing_shortfall');
    const row = await h
      .service!.db.selectFrom('accounts')
      .select('usage_total')
      .where('address', '=', user.address)
      .executeTakeFirstOrThrow();
    expect(Number(row.usage_total)).toBe(MAX);
  });

  it('caps a usage report at the key bound and refuses one past the account bound, writing nothing', async ({ skip }) => {
    if (!h.service) skip(); // Workers+D1: no direct database access from the test to seed 2^53
    const k = await createKey(h, user.token, { name: 'report-near-max' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    await seed(k.id, { total_used: MAX - 3, usage_total: 0 });
    const r = await post(h, '/v1/usage', { key_id: k.id, request_id: `cap-${Date.now()}`, cost: 10 }, networkToken);
    expect(r.status).toBe(201);
    expect(await json<UsageRecorded>(r)).toMatchObject({ charged: 3, uncharged: 7 });
    expect((await json<Key>(await get(h, `/v1/keys/${k.id}`, user.token))).usage.total).toBe(MAX);

    await seed(k.id, { usage_total: MAX - 5 });
    const rid = `refused-${Date.now()}`;
    const refused = await post(h, '/v1/usage', { key_id: k.id, request_id: rid, cost: 6 }, networkToken);
    expect(refused.status).toBe(409);
    expect((await json<ErrorBody>(refused)).error.code).toBe('usage_limit_reached');
    expect((await json<Page<UsageRecord>>(await get(h, `/v1/usage?request_id=${rid}`, user.token))).data).toEqual([]);
    expect((await post(h, '/v1/usage', { key_id: k.id, request_id: `fits-${Date.now()}`, cost: 5 }, networkToken)).status).toBe(201);
  });

  it('refuses cleanly (no overflow error) when a stored counter is already far past the bound', async ({ skip }) => {
    if (!h.service) skip(); // Workers+D1: no direct database access from the test to seed 2^53
    const k = await createKey(h, user.token, { name: 'overflowing' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    await seed(k.id, { total_used: 2n ** 63n - 2n, usage_total: 0 });
    expect((await verify(h, networkToken, { key: k.key, cost: 1_000_000_000_000 })).code).toBe('api_key_quota_exceeded');
    const r = await post(h, '/v1/usage', { key_id: k.id, request_id: `huge-${Date.now()}`, cost: 1_000_000_000_000 }, networkToken);
    expect(r.status).toBe(201);
    expect(await json<UsageRecorded>(r)).toMatchObject({ charged: 0, uncharged: 1_000_000_000_000 });
  });
});
