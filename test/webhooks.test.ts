import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runWebhooksOnce } from '../src/services/webhook-delivery.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import { del, get, json, nodeTargets, post, signIn, signInAdmin, type Harness, type SignedIn } from './support/harness.js';
import { startReceiver, type ReceivedWebhook, type Receiver } from './support/webhook-receiver.js';
import type {
  Application,
  AuditEvent,
  Delivery,
  ErrorBody,
  OpenApiDoc,
  Page,
  UsageRecorded,
  Webhook as WebhookView,
  WebhookTest,
  WebhookWithSecret,
} from './support/responses.js';

const DAY = 86_400_000;

/** The receiver side, by hand: HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the base64-decoded secret. */
function signedByHand(secret: string, r: ReceivedWebhook): boolean {
  const mac = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`)
    .digest('base64');
  return r.headers['webhook-signature'].split(' ').includes(`v1,${mac}`);
}

/** The standardwebhooks library's own signature for this message (independent of our clock). */
function signedPerLibrary(secret: string, r: ReceivedWebhook): boolean {
  const expected = new Webhook(secret).sign(r.headers['webhook-id'], new Date(Number(r.headers['webhook-timestamp']) * 1000), r.body);
  return r.headers['webhook-signature'].split(' ').includes(expected);
}

/** A delivered event's body. Its data differs by event type: these are the fields the suites read. */
interface EventBody {
  type: string;
  timestamp: string;
  data: { window?: string; days_before?: number; key?: { id: string } } & Record<string, unknown>;
}
const bodyOf = (r: ReceivedWebhook): EventBody => JSON.parse(r.body);

describe.each(nodeTargets())('webhooks on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  const receivers: Receiver[] = [];
  const receiver = async (...args: Parameters<typeof startReceiver>): Promise<Receiver> => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };
  const run = (schedule = false) => runWebhooksOnce(h.service!.webhooks.runtime, { schedule });

  beforeAll(async () => {
    h = await target.start({
      env: {
        WEBHOOK_ALLOW_PRIVATE_URLS: '1',
        WEBHOOK_TIMEOUT_MS: '400',
        MAX_WEBHOOKS_PER_ACCOUNT: '3',
        WEBHOOK_SECRET_GRACE_SECONDS: '3600',
      },
    });
    admin = await signInAdmin(h);
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    // Tests move the clock; the next one starts at real time again (sessions, SIWE, signatures).
    h.clock!.set(new Date());
  });
  afterAll(async () => h.close());

  async function register(u: SignedIn, url: string, events: string[] = ['webhook.test']): Promise<WebhookWithSecret> {
    const res = await post(h, '/v1/webhooks', { url, events }, u.token);
    const b = await json<WebhookWithSecret>(res);
    if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(b)}`);
    return b;
  }

  it('registers an endpoint, shows its secret once, lists, gets and deletes it, with audit events', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    const res = await post(h, '/v1/webhooks', { url: rx.url, events: ['key.expiring', 'trial.approved'], description: 'ops' }, u.token);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const wh = await json<WebhookWithSecret>(res);
    expect(wh.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(wh).toMatchObject({ url: rx.url, events: ['key.expiring', 'trial.approved'], description: 'ops' });
    expect(wh.secret_hint.endsWith(wh.secret.slice(-4))).toBe(true);

    const one = await json<WebhookView>(await get(h, `/v1/webhooks/${wh.id}`, u.token));
    expect(one.id).toBe(wh.id);
    const list = await json<Page<WebhookView>>(await get(h, '/v1/webhooks', u.token));
    expect(list.data.map((w) => w.id)).toEqual([wh.id]);
    // The secret is never shown again.
    expect(JSON.stringify(one) + JSON.stringify(list)).not.toContain(wh.secret);

    expect((await del(h, `/v1/webhooks/${wh.id}`, u.token)).status).toBe(204);
    expect((await get(h, `/v1/webhooks/${wh.id}`, u.token)).status).toBe(404);
    const actions = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', u.token))).data.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['webhook.create', 'webhook.delete']));
    expect(JSON.stringify((await json<Page<AuditEvent>>(await get(h, '/v1/audit', u.token))).data)).not.toContain(wh.secret);
  });

  it("answers 404 for another account's webhook and delivery ids", async () => {
    const owner = await signIn(h);
    const other = await signIn(h);
    const rx = await receiver();
    const wh = await register(owner, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, owner.token);
    await run();
    const delivery = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, owner.token))).data[0];
    for (const res of [
      await get(h, `/v1/webhooks/${wh.id}`, other.token),
      await del(h, `/v1/webhooks/${wh.id}`, other.token),
      await post(h, `/v1/webhooks/${wh.id}/test`, {}, other.token),
      await post(h, `/v1/webhooks/${wh.id}/rotate-secret`, {}, other.token),
      await get(h, `/v1/webhooks/${wh.id}/deliveries`, other.token),
      await post(h, `/v1/webhooks/${wh.id}/deliveries/${delivery.id}/retry`, {}, other.token),
    ]) {
      expect(res.status).toBe(404);
      expect((await json<ErrorBody>(res)).error.code).toBe('not_found');
    }
    expect((await get(h, `/v1/webhooks/${wh.id}`, owner.token)).status).toBe(200);
    expect(rx.received).toHaveLength(1);
  });

  it('caps endpoints per account with 409 limit_reached', async () => {
    const u = await signIn(h);
    for (let i = 0; i < 3; i++) await register(u, `https://hooks${i}.example.com/x`);
    const res = await post(h, '/v1/webhooks', { url: 'https://hooks9.example.com/x', events: ['webhook.test'] }, u.token);
    expect(res.status).toBe(409);
    expect((await json<ErrorBody>(res)).error.code).toBe('limit_reached');
  });

  it('refuses unknown event types and missing fields with 400 invalid_request', async () => {
    const u = await signIn(h);
    for (const body of [
      { url: 'https://a.example.com', events: ['key.exploded'] },
      { url: 'https://a.example.com', events: [] },
      { events: ['webhook.test'] },
    ]) {
      const res = await post(h, '/v1/webhooks', body, u.token);
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error.code).toBe('invalid_request');
    }
  });

  it('signs a test delivery so that standardwebhooks Webhook.verify accepts it, and a tampered one not', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    const wh = await register(u, rx.url);
    const sent = await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    expect(sent.status).toBe(202);
    const { event_id } = await json<WebhookTest>(sent);
    expect((await run()).attempted).toBe(1);
    const [r] = rx.received;
    expect(r.headers['webhook-id']).toBe(event_id);
    expect(r.headers['content-type']).toBe('application/json');
    // The library checks the signature and that the timestamp is recent (the test clock is real time here).
    const payload = new Webhook(wh.secret).verify(r.body, r.headers) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(payload).toMatchObject({ type: 'webhook.test', data: { webhook_id: wh.id, account: u.address } });
    expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
    expect(signedByHand(wh.secret, r)).toBe(true);
    expect(() => new Webhook(wh.secret).verify(r.body.replace('test', 'tesT'), r.headers)).toThrow();
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(() => new Webhook(otherSecret).verify(r.body, r.headers)).toThrow();
    const d = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toEqual([
      expect.objectContaining({
        event_id,
        type: 'webhook.test',
        status: 'succeeded',
        attempts: 1,
        last_status_code: 204,
        next_attempt_at: null,
      }),
    ]);
  });

  it('retries a 500 on the schedule: a 500 then a 204 make two attempts with the same webhook-id', async () => {
    const u = await signIn(h);
    const rx = await receiver((n) => (n === 0 ? 500 : 204));
    const wh = await register(u, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run();
    let [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect(Date.parse(d.next_attempt_at!) - h.clock!.now().getTime()).toBeGreaterThanOrEqual(4900);
    // Not due yet: nothing is sent before the first retry delay (5 s) has passed.
    await run();
    expect(rx.received).toHaveLength(1);
    h.clock!.advance(5000);
    await run();
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1].headers['webhook-id']).toBe(rx.received[0].headers['webhook-id']);
    expect(rx.received[1].body).toBe(rx.received[0].body);
    for (const r of rx.received) expect(signedPerLibrary(wh.secret, r)).toBe(true);
    [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'succeeded', attempts: 2, last_status_code: 204, next_attempt_at: null });
  });

  it('times out a receiver that never answers and retries it', async () => {
    const u = await signIn(h);
    const rx = await receiver((n) => (n === 0 ? 'hang' : 204));
    const wh = await register(u, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run(); // the send gives up after WEBHOOK_TIMEOUT_MS (400 ms here)
    let [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'timeout' });
    h.clock!.advance(5000);
    await run();
    [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual([d.event_id, d.event_id]);
  });

  it('follows no redirect: a 302 is a failed attempt and its Location gets nothing', async () => {
    const u = await signIn(h);
    const elsewhere = await receiver();
    const rx = await receiver();
    // The first receiver answers 302 (its status); node:http never follows it.
    rx.behave(() => 302);
    const wh = await register(u, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run();
    const [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'pending', last_status_code: 302 });
    expect(elsewhere.received).toHaveLength(0);
  });

  it('marks a delivery failed after the last retry of the schedule; a manual retry sends it once more', async () => {
    const u = await signIn(h);
    const rx = await receiver(() => 503);
    const wh = await register(u, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    const delays = [5, 300, 1800, 7200, 18000, 36000];
    await run();
    for (const s of delays) {
      h.clock!.advance(s * 1000);
      await run();
    }
    let [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'failed', attempts: 7, last_status_code: 503, next_attempt_at: null });
    // Failed is final: nothing more is sent however long one waits (the schedule spans 17.6 hours).
    h.clock!.advance(DAY / 4);
    await run();
    expect(rx.received).toHaveLength(7);

    rx.behave(() => 200);
    const retried = await post(h, `/v1/webhooks/${wh.id}/deliveries/${d.id}/retry`, {}, u.token);
    expect(retried.status).toBe(202);
    expect(await json<Delivery>(retried)).toMatchObject({ id: d.id, status: 'pending' });
    await run();
    [d] = (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries`, u.token))).data;
    expect(d).toMatchObject({ status: 'succeeded', attempts: 8, last_status_code: 200 });
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect((await post(h, `/v1/webhooks/${wh.id}/deliveries/whd_nope/retry`, {}, u.token)).status).toBe(404);
  });

  it('lists deliveries newest first with cursor pagination', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    const wh = await register(u, rx.url);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await json<WebhookTest>(await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token))).event_id);
      await run();
    }
    const p1 = await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries?limit=2`, u.token));
    expect(p1.has_more).toBe(true);
    const p2 = await json<Page<Delivery>>(await get(h, `/v1/webhooks/${wh.id}/deliveries?limit=2&cursor=${p1.next_cursor}`, u.token));
    expect(p2.has_more).toBe(false);
    expect([...p1.data, ...p2.data].map((d) => d.event_id)).toEqual([...ids].reverse());
  });

  it('sends trial.approved and trial.rejected to the applicant, and nothing for a decision that was refused', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    const wh = await register(u, rx.url, ['trial.approved', 'trial.rejected']);
    const first = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
    expect((await post(h, `/v1/admin/trial/applications/${first.id}/reject`, { reason: 'Tell us more' }, admin.token)).status).toBe(200);
    // A second decision on the same application is refused (409): its batch, outbox step included, is undone.
    expect((await post(h, `/v1/admin/trial/applications/${first.id}/approve`, {}, admin.token)).status).toBe(409);
    const second = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'a chat app' }, u.token));
    // Refused by the balance cap in the middle of the batch: no approval, no event.
    const tooMuch = await post(
      h,
      `/v1/admin/trial/applications/${second.id}/approve`,
      { credits: Number.MAX_SAFE_INTEGER + 1 },
      admin.token,
    );
    expect(tooMuch.status).toBe(400);
    expect((await post(h, `/v1/admin/trial/applications/${second.id}/approve`, { credits: 777 }, admin.token)).status).toBe(200);
    await run();
    // Deliveries go out in parallel: order is not guaranteed (as with any webhook sender).
    const bodies = rx.received.map(bodyOf).sort((a, b) => a.type.localeCompare(b.type));
    expect(bodies.map((b) => b.type)).toEqual(['trial.approved', 'trial.rejected']);
    expect(bodies[1].data).toEqual({ application_id: first.id, account: u.address, status: 'rejected', reason: 'Tell us more' });
    expect(bodies[0].data).toEqual({ application_id: second.id, account: u.address, status: 'approved', credits_granted: 777 });
    for (const r of rx.received) expect(signedPerLibrary(wh.secret, r)).toBe(true);
  });

  it('sends only the event types an endpoint subscribed to', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    await register(u, rx.url, ['trial.approved']);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
    await post(h, `/v1/admin/trial/applications/${app.id}/reject`, { reason: 'no' }, admin.token);
    await run();
    expect(rx.received).toHaveLength(0);
  });

  /** A developer account with a webhook (registered before the grant), a public domain and a key. */
  async function developerWithKey(events: string[], credits: number, limits?: Record<string, number>) {
    const u = await signIn(h);
    const rx = await receiver();
    const wh = await register(u, rx.url, events);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
    expect((await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits }, admin.token)).status).toBe(200);
    const domain = await createDomain(h, admin.token, uniqueDomainName('wh'), 'public');
    const key = await createKey(h, u.token, { name: 'k', ...(limits ? { limits } : {}) });
    return { u, rx, wh, domain, key };
  }

  it('sends key.quota_reached once per key per window when a daily limit refuses a charge', async () => {
    const { rx, domain, key } = await developerWithKey(['key.quota_reached'], 100_000, { daily_credits: 100 });
    expect((await verify(h, domain.token, { key: key.key, cost: 60 })).valid).toBe(true);
    for (let i = 0; i < 3; i++) expect((await verify(h, domain.token, { key: key.key, cost: 60 })).code).toBe('api_key_quota_exceeded');
    await run();
    expect(rx.received).toHaveLength(1);
    const e = bodyOf(rx.received[0]);
    expect(e.type).toBe('key.quota_reached');
    expect(e.data).toMatchObject({
      key: { id: key.id, name: 'k', hint: key.hint },
      limit: 'daily',
      limit_credits: 100,
      used: 60,
      refused_cost: 60,
    });
    expect(rx.received[0].body).not.toContain(key.key);
    // The next day is a new window: one more notice when it is used up.
    h.clock!.advance(DAY);
    expect((await verify(h, domain.token, { key: key.key, cost: 60 })).valid).toBe(true);
    expect((await verify(h, domain.token, { key: key.key, cost: 60 })).code).toBe('api_key_quota_exceeded');
    await run();
    expect(rx.received.map((r) => bodyOf(r).data.window)).toEqual([e.data.window, expect.not.stringMatching(e.data.window!)]);
  });

  it('sends key.quota_reached when a usage report is capped by the monthly limit', async () => {
    const { rx, domain, key } = await developerWithKey(['key.quota_reached'], 100_000, { monthly_credits: 50 });
    expect((await verify(h, domain.token, { key: key.key })).valid).toBe(true);
    const res = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: key.id, request_id: 'r1', cost: 80 }, domain.token));
    expect(res).toMatchObject({ charged: 50, uncharged: 30 });
    await run();
    expect(rx.received.map((r) => bodyOf(r).data)).toEqual([
      expect.objectContaining({ key: expect.objectContaining({ id: key.id }), limit: 'monthly' }),
    ]);
  });

  it('sends account.credits_low once per grant when the balance falls below 10% of the last grant', async () => {
    const { u, rx, domain, key } = await developerWithKey(['account.credits_low'], 1000);
    expect((await verify(h, domain.token, { key: key.key })).valid).toBe(true);
    const usage = (rid: string, cost: number) => post(h, '/v1/usage', { key_id: key.id, request_id: rid, cost }, domain.token);
    expect((await usage('a', 850)).status).toBe(201); // 150 left: not below 100
    await run();
    expect(rx.received).toHaveLength(0);
    await usage('b', 60); // 90 left
    await usage('c', 10); // 80 left: same grant, no second notice
    await run();
    expect(rx.received.map(bodyOf)).toEqual([
      expect.objectContaining({
        type: 'account.credits_low',
        data: { account: u.address, credits: 90, last_grant: 1000, threshold_percent: 10 },
      }),
    ]);
    // A top-up is a new grant; an admin debit below its 10% notifies again.
    expect((await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 2000, reason: 'top-up' }, admin.token)).status).toBe(200);
    expect((await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: -1900, reason: 'correction' }, admin.token)).status).toBe(
      200,
    );
    await run();
    expect(rx.received.map((r) => bodyOf(r).data)).toEqual([
      expect.objectContaining({ credits: 90 }),
      { account: u.address, credits: 180, last_grant: 2000, threshold_percent: 10 },
    ]);
  });

  it('sends account.credits_low for balances lowered by /v1/verify charges, from the scheduler, once per grant', async () => {
    const { u, rx, domain, key } = await developerWithKey(['account.credits_low'], 1000);
    expect((await verify(h, domain.token, { key: key.key, cost: 950 })).valid).toBe(true);
    await run(true);
    await run(true);
    expect(rx.received.map((r) => bodyOf(r).data)).toEqual([{ account: u.address, credits: 50, last_grant: 1000, threshold_percent: 10 }]);
  });

  it('sends key.expiring 7 days and 1 day before expires_at and key.expired, each once, as the clock moves', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    await register(u, rx.url, ['key.expiring', 'key.expired']);
    const key = await createKey(h, u.token, { name: 'short', expires_in_days: 10 });
    const mine = () => rx.received.map(bodyOf).filter((b) => b.data.key?.id === key.id);
    await run(true);
    expect(mine()).toHaveLength(0);
    h.clock!.advance(3.5 * DAY); // 6.5 days left
    await run(true);
    await run(true);
    expect(mine().map((b) => [b.type, b.data.days_before])).toEqual([['key.expiring', 7]]);
    expect(mine()[0].data).toMatchObject({
      key: { id: key.id, name: 'short', hint: key.hint },
      account: u.address,
      expires_at: key.expires_at,
    });
    h.clock!.advance(5.6 * DAY); // 0.9 days left
    await run(true);
    await run(true);
    h.clock!.advance(1 * DAY); // expired
    await run(true);
    await run(true);
    expect(mine().map((b) => [b.type, b.data.days_before])).toEqual([
      ['key.expiring', 7],
      ['key.expiring', 1],
      ['key.expired', undefined],
    ]);
    expect(JSON.stringify(mine())).not.toContain(key.key);
  });

  it('signs with both secrets for the grace period after a rotation, then with the new one only', async () => {
    const u = await signIn(h);
    const rx = await receiver();
    const wh = await register(u, rx.url);
    const rot = await post(h, `/v1/webhooks/${wh.id}/rotate-secret`, { grace_seconds: 600 }, u.token);
    expect(rot.status).toBe(200);
    const rotated = await json<WebhookWithSecret>(rot);
    expect(rotated.secret).not.toBe(wh.secret);
    expect(rotated.previous_secret_expires_at).not.toBeNull();
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run();
    const [during] = rx.received;
    expect(during.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(signedPerLibrary(wh.secret, during)).toBe(true);
    expect(signedPerLibrary(rotated.secret, during)).toBe(true);
    h.clock!.advance(601_000);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run();
    const after = rx.received[1];
    expect(after.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(signedPerLibrary(rotated.secret, after)).toBe(true);
    expect(signedPerLibrary(wh.secret, after)).toBe(false);
    expect((await json<Page<AuditEvent>>(await get(h, '/v1/audit', u.token))).data.map((e) => e.action)).toContain('webhook.rotate_secret');
  });

  it('rotates with the default grace period when the request has no body', async () => {
    const u = await signIn(h);
    const wh = await register(u, 'https://hooks.example.com/rotate');
    const res = await h.request(`/v1/webhooks/${wh.id}/rotate-secret`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } });
    expect(res.status).toBe(200);
    const body = await json<WebhookWithSecret>(res);
    expect(body.secret).toMatch(/^whsec_/);
    expect(Date.parse(body.previous_secret_expires_at!) - h.clock!.now().getTime()).toBe(3600_000);
  });

  it('fails pending deliveries of a deleted endpoint without sending them', async () => {
    const u = await signIn(h);
    const rx = await receiver(() => 500);
    const wh = await register(u, rx.url);
    await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
    await run();
    await del(h, `/v1/webhooks/${wh.id}`, u.token);
    h.clock!.advance(5000);
    await run();
    expect(rx.received).toHaveLength(1);
  });

  it('documents the webhook routes in /openapi.json', async () => {
    const doc = await json<OpenApiDoc>(await get(h, '/openapi.json'));
    for (const p of [
      '/v1/webhooks',
      '/v1/webhooks/{id}',
      '/v1/webhooks/{id}/test',
      '/v1/webhooks/{id}/deliveries',
      '/v1/webhooks/{id}/deliveries/{delivery_id}/retry',
      '/v1/webhooks/{id}/rotate-secret',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(doc.components.schemas.WebhookDelivery.properties?.status.enum).toEqual(['pending', 'succeeded', 'failed']);
  });
});
