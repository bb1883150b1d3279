import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, json, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import type { Account, Application, AuditEvent, ErrorBody, KeyWithSecret, Page } from './support/responses.js';

describe.each(targets())('free trial and plans on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  beforeAll(async () => {
    h = await target.start({ env: { TRIAL_CREDITS: '5000' } });
    admin = await signInAdmin(h);
  });
  afterAll(async () => h.close());

  it('takes an application, approves it with default credits, and switches the key type', async () => {
    const u = await signIn(h);
    expect((await get(h, '/v1/trial/applications/mine', u.token)).status).toBe(404);
    const net = await post(h, '/v1/keys', { name: 'before' }, u.token);
    expect((await json<KeyWithSecret>(net)).type).toBe('network');

    const res = await post(h, '/v1/trial/applications', { use_case: 'Build a chat app', contact: 'me@example.org' }, u.token);
    expect(res.status).toBe(201);
    const app = await json<Application>(res);
    expect(app).toMatchObject({
      status: 'pending',
      address: u.address,
      use_case: 'Build a chat app',
      contact: 'me@example.org',
      credits_granted: null,
    });
    expect((await json<Account>(await get(h, '/v1/me', u.token))).trial.status).toBe('pending');

    const queue = await json<Page<Application>>(await get(h, '/v1/admin/trial/applications?status=pending', admin.token));
    expect(queue.data.map((a) => a.id)).toContain(app.id);

    const ok = await post(h, `/v1/admin/trial/applications/${app.id}/approve`, {}, admin.token);
    expect(ok.status).toBe(200);
    expect(await json<Application>(ok)).toMatchObject({ status: 'approved', credits_granted: 5000, reviewed_by: admin.address });

    const me = await json<Account>(await get(h, '/v1/me', u.token));
    expect(me).toMatchObject({ plan: 'developer', credits: 5000, trial: { status: 'approved', credits_granted: 5000 } });

    const dev = await post(h, '/v1/keys', { name: 'dev' }, u.token);
    expect(dev.status).toBe(201);
    const devKey = await json<KeyWithSecret>(dev);
    expect(devKey.type).toBe('developer');
    expect(devKey.key).toMatch(/^sk_dev_/);
    // Once developer, never network again.
    const again = await post(h, '/v1/keys', { name: 'net-again', type: 'network' }, u.token);
    expect(again.status).toBe(403);
    expect((await json<ErrorBody>(again)).error.code).toBe('key_type_not_allowed');
    // Applying again is pointless.
    const twice = await post(h, '/v1/trial/applications', { use_case: 'more' }, u.token);
    expect(twice.status).toBe(409);
    expect((await json<ErrorBody>(twice)).error.code).toBe('already_approved');
  });

  it('allows one open application per account, even under concurrent submits', async () => {
    const u = await signIn(h);
    const results = await Promise.all(Array.from({ length: 5 }, () => post(h, '/v1/trial/applications', { use_case: 'race' }, u.token)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    const dup = results.find((r) => r.status === 409)!;
    expect((await json<ErrorBody>(dup)).error.code).toBe('application_exists');
  });

  it('lets only admins review, and only once', async () => {
    const u = await signIn(h);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
    for (const res of [
      await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 10 }, u.token),
      await get(h, '/v1/admin/trial/applications', u.token),
      await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 100, reason: 'self-service' }, u.token),
    ]) {
      expect(res.status).toBe(403);
      expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    }
    expect((await json<Account>(await get(h, '/v1/me', u.token))).plan).toBe('network');

    const rej = await post(h, `/v1/admin/trial/applications/${app.id}/reject`, { reason: 'Not enough detail' }, admin.token);
    expect(rej.status).toBe(200);
    expect(await json<Application>(rej)).toMatchObject({ status: 'rejected', reason: 'Not enough detail' });
    const late = await post(h, `/v1/admin/trial/applications/${app.id}/approve`, {}, admin.token);
    expect(late.status).toBe(409);
    expect((await json<ErrorBody>(late)).error.code).toBe('application_closed');
    expect((await json<Account>(await get(h, '/v1/me', u.token))).plan).toBe('network');
    expect((await json<Application>(await get(h, '/v1/trial/applications/mine', u.token))).status).toBe('rejected');
    // A rejected applicant may apply again.
    expect((await post(h, '/v1/trial/applications', { use_case: 'better detail' }, u.token)).status).toBe(201);
    expect((await post(h, '/v1/admin/trial/applications/app_nope/approve', {}, admin.token)).status).toBe(404);
    expect((await post(h, `/v1/admin/trial/applications/${app.id}/reject`, {}, admin.token)).status).toBe(400);
  });

  it('approves with explicit credits and adjusts balances without going negative', async () => {
    const u = await signIn(h);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'y' }, u.token));
    await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 300 }, admin.token);
    const plus = await post(h, `/v1/admin/accounts/${u.address.toLowerCase()}/credits`, { delta: 200, reason: 'bonus' }, admin.token);
    expect(plus.status).toBe(200);
    expect((await json<Account>(plus)).credits).toBe(500);
    const minus = await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: -501, reason: 'too much' }, admin.token);
    expect(minus.status).toBe(409);
    expect((await json<ErrorBody>(minus)).error.code).toBe('insufficient_credits');
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(500);
    expect((await post(h, `/v1/admin/accounts/0x${'1'.repeat(40)}/credits`, { delta: 1, reason: 'ghost' }, admin.token)).status).toBe(404);
    expect((await post(h, `/v1/admin/accounts/not-an-address/credits`, { delta: 1, reason: 'x' }, admin.token)).status).toBe(400);
    expect((await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 1.5, reason: 'x' }, admin.token)).status).toBe(400);
    const zero = await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 0, reason: 'x' }, admin.token);
    expect(zero.status).toBe(400);
    expect((await json<ErrorBody>(zero)).error.param).toBe('delta');
  });

  it('grants credits to a network account, which then has an enforced balance', async () => {
    const u = await signIn(h);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBeNull();
    const res = await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 70, reason: 'promo' }, admin.token);
    expect(await json<Account>(res)).toMatchObject({ plan: 'network', credits: 70 });
  });

  it('records every review in the audit trail of both parties', async () => {
    const u = await signIn(h);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'z' }, u.token));
    await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 1 }, admin.token, { 'user-agent': 'AdminBrowser/1.0' });
    const mine = await json<Page<AuditEvent>>(await get(h, '/v1/audit', u.token));
    const actions = mine.data.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['trial.apply', 'trial.approve', 'auth.sign_in']));
    const approval = mine.data.find((e) => e.action === 'trial.approve');
    expect(approval).toMatchObject({ actor: admin.address, account: u.address, target: app.id, detail: { credits: 1 } });
    expect(approval?.request_id).toMatch(/^req_/);
    // The user sees what an admin did to the account, not the admin's browser or address.
    expect(approval?.user_agent).toBeNull();
    expect(approval?.ip).toBeNull();
    const all = await json<Page<AuditEvent>>(await get(h, '/v1/admin/audit?limit=100', admin.token));
    expect(all.data.find((e) => e.action === 'trial.approve' && e.target === app.id)?.user_agent).toBe('AdminBrowser/1.0');
  });
});
