import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, patch, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import type { DomainWithToken, KeyWithSecret } from '../src/contract/views.js';
import type { AuditEventView } from '../src/services/audit.js';
import type { UsageRecordView } from '../src/services/usage.js';
import type { AdminStats, Application, AuditEvent, DomainStats, ErrorBody, Page, UsageRecord, UsageSummary } from './support/responses.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

function getAs(h: Harness, path: string, token: string, accept: string): Promise<Response> {
  return h.request(path, { headers: { authorization: `Bearer ${token}`, accept } });
}

/** Sums of the account's raw records, read through the records list (the summary must equal them). */
async function recordSums(h: Harness, token: string): Promise<Record<string, number>> {
  const out = { requests: 0, input_tokens: 0, output_tokens: 0, cost: 0, charged: 0, uncharged: 0 };
  let cursor: string | null = null;
  do {
    const page: Page<UsageRecordView> = await json<Page<UsageRecord>>(
      await get(h, `/v1/usage?limit=100${cursor ? `&cursor=${cursor}` : ''}`, token),
    );
    for (const r of page.data) {
      out.requests += 1;
      out.input_tokens += r.input_tokens ?? 0;
      out.output_tokens += r.output_tokens ?? 0;
      out.cost += r.cost;
      out.charged += r.charged;
      out.uncharged += r.uncharged;
    }
    cursor = page.next_cursor ?? null;
  } while (cursor);
  return out;
}

describe.each(targets())('usage analytics on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let publicToken: string;
  let publicName: string;
  let publicId: string;
  let otherPublicToken: string;
  let otherPublicName: string;
  let user: SignedIn;
  let keyA: KeyWithSecret;
  let keyB: KeyWithSecret;
  const now = (): number => (h.clock ? h.clock.now().getTime() : Date.now());
  // A range whose hours are all whole and in the past or future: served from the roll-ups alone.
  const wholeRange = (): string =>
    `from=${new Date(Math.floor(now() / HOUR) * HOUR - 2 * DAY).toISOString()}&to=${new Date(Math.floor(now() / HOUR) * HOUR + 2 * HOUR).toISOString()}`;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    publicName = uniqueDomainName('pub');
    const pub = await createDomain(h, admin.token, publicName, 'public');
    publicToken = pub.token;
    publicId = pub.id;
    otherPublicName = uniqueDomainName('pub2');
    otherPublicToken = (await createDomain(h, admin.token, otherPublicName, 'public')).token;
    user = await developerAccount(h, 1_000, admin);
    keyA = await createKey(h, user.token, { name: 'alpha', scopes: ['inference:write', 'analytics:read'] });
    keyB = await createKey(h, user.token, { name: 'beta' });
    for (const k of [keyA, keyB]) {
      await verify(h, publicToken, { key: k.key });
      await verify(h, otherPublicToken, { key: k.key });
    }
    const reports: [string, KeyWithSecret, Record<string, unknown>][] = [
      [publicToken, keyA, { request_id: 'a1', cost: 100, model: 'llama-3-70b', input_tokens: 1000, output_tokens: 200 }],
      [publicToken, keyA, { request_id: 'a2', cost: 40, model: 'llama-3-8b', input_tokens: 300, output_tokens: 50 }],
      [otherPublicToken, keyA, { request_id: 'a3', cost: 5, model: 'llama-3-8b', input_tokens: 10 }],
      [publicToken, keyB, { request_id: 'b1', cost: 7 }],
      [otherPublicToken, keyB, { request_id: 'b2', cost: 300, model: 'llama-3-70b', output_tokens: 900 }],
    ];
    for (const [token, k, body] of reports) {
      const res = await post(h, '/v1/usage', { key_id: k.id, ...body }, token);
      if (res.status !== 201) throw new Error(`usage: ${res.status} ${await res.text()}`);
    }
  });
  afterAll(async () => h.close());

  it('sums usage per day with totals equal to the records, oldest first, empty days included', async () => {
    const res = await get(h, '/v1/usage/summary', user.token);
    expect(res.status).toBe(200);
    const s = await json<UsageSummary>(res);
    expect(s.group_by).toBe('day');
    expect(Date.parse(s.to) - Date.parse(s.from)).toBe(30 * DAY);
    expect(s.data.length).toBeGreaterThanOrEqual(30);
    expect(s.data.length).toBeLessThanOrEqual(32);
    const labels = s.data.map((b) => b.bucket);
    expect(labels).toEqual([...labels].sort());
    expect(labels[0]).toBe(s.from.slice(0, 10));
    expect(s.data.filter((b) => b.requests === 0).length).toBeGreaterThanOrEqual(s.data.length - 2);
    const sums = await recordSums(h, user.token);
    expect(sums).toEqual({ requests: 5, input_tokens: 1310, output_tokens: 1150, cost: 452, charged: 452, uncharged: 0 });
    const { bucket, ...totals } = s.totals;
    expect(totals).toEqual(sums);
    const summed = s.data.reduce((acc: number, b) => acc + b.cost, 0);
    expect(summed).toBe(452);
  });

  it('answers the same from the roll-ups (whole hours) as from the records (partial hours)', async () => {
    // Default `to` is now: the current hour is partial and read from the records. A range ending
    // on a later whole hour reads the same hour from the roll-up kept in the usage write's batch.
    const fromRecords = await json<UsageSummary>(await get(h, '/v1/usage/summary?group_by=hour', user.token));
    const fromRollups = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=hour&${wholeRange()}`, user.token));
    expect(fromRollups.totals).toEqual(fromRecords.totals);
    expect(fromRollups.totals.cost).toBe(452);
    const hours = fromRollups.data.map((b) => b.bucket);
    expect(hours).toHaveLength(2 * 24 + 2);
    expect(hours[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
    const busy = fromRollups.data.filter((b) => b.requests > 0);
    expect(busy.length).toBeGreaterThanOrEqual(1);
  });

  it('groups by model, key and domain, largest cost first', async () => {
    const byModel = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=model&${wholeRange()}`, user.token));
    expect(byModel.data.map((b) => [b.bucket, b.cost, b.requests])).toEqual([
      ['llama-3-70b', 400, 2],
      ['llama-3-8b', 45, 2],
      [null, 7, 1],
    ]);
    const byKey = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=key&${wholeRange()}`, user.token));
    expect(byKey.data.map((b) => [b.bucket, b.key_name, b.cost])).toEqual([
      [keyB.id, 'beta', 307],
      [keyA.id, 'alpha', 145],
    ]);
    const byDomain = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=domain&${wholeRange()}`, user.token));
    expect(byDomain.data.map((b) => [b.bucket, b.cost])).toEqual([
      [otherPublicName, 305],
      [publicName, 147],
    ]);
    expect(byDomain.data[1].domain_id).toBe(publicId);
    expect(byDomain.totals.cost).toBe(452);
  });

  it('filters by key and by model', async () => {
    const a = await json<UsageSummary>(await get(h, `/v1/usage/summary?key_id=${keyA.id}&${wholeRange()}`, user.token));
    expect(a.totals).toMatchObject({ requests: 3, cost: 145, input_tokens: 1310 });
    const m = await json<UsageSummary>(await get(h, `/v1/usage/summary?model=llama-3-8b&group_by=key`, user.token));
    expect(m.totals).toMatchObject({ requests: 2, cost: 45 });
    expect(m.data.map((b) => b.bucket)).toEqual([keyA.id]);
    const both = await json<UsageSummary>(
      await get(h, `/v1/usage/summary?model=llama-3-70b&key_id=${keyB.id}&${wholeRange()}`, user.token),
    );
    expect(both.totals).toMatchObject({ requests: 1, cost: 300, output_tokens: 900 });
  });

  it('counts a retried report once in the summary', async () => {
    const u = await developerAccount(h, 50, admin);
    const k = await createKey(h, u.token, { name: 'retry' });
    await verify(h, publicToken, { key: k.key });
    const body = { key_id: k.id, request_id: 'again', cost: 9, input_tokens: 3 };
    await Promise.all(Array.from({ length: 5 }, () => post(h, '/v1/usage', body, publicToken)));
    await post(h, '/v1/usage', body, publicToken);
    for (const q of ['', `&${wholeRange()}`]) {
      const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=hour${q}`, u.token));
      expect(s.totals).toMatchObject({ requests: 1, cost: 9, charged: 9, input_tokens: 3 });
    }
  });

  it('records shortfalls as uncharged and keeps deleted keys in the summary', async () => {
    const u = await developerAccount(h, 10, admin);
    const k = await createKey(h, u.token, { name: 'short' });
    await verify(h, publicToken, { key: k.key });
    await post(h, '/v1/usage', { key_id: k.id, request_id: 's1', cost: 25, model: 'm' }, publicToken);
    expect((await del(h, `/v1/keys/${k.id}`, u.token)).status).toBe(204);
    const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=key&${wholeRange()}`, u.token));
    expect(s.data).toEqual([
      { bucket: k.id, key_name: null, requests: 1, input_tokens: 0, output_tokens: 0, cost: 25, charged: 10, uncharged: 15 },
    ]);
    expect(s.totals).toMatchObject({ cost: 25, charged: 10, uncharged: 15 });
  });

  it("shows only the caller's own usage", async () => {
    const stranger = await signIn(h);
    const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?key_id=${keyA.id}&${wholeRange()}`, stranger.token));
    expect(s.totals).toMatchObject({ requests: 0, cost: 0 });
    const byKey = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=key`, stranger.token));
    expect(byKey.data).toEqual([]);
  });

  it('accepts a key with analytics:read and refuses keys without it or no credentials', async () => {
    const withScope = await get(h, `/v1/usage/summary?${wholeRange()}`, keyA.key);
    expect(withScope.status).toBe(200);
    expect((await json<UsageSummary>(withScope)).totals.cost).toBe(452);
    const without = await get(h, '/v1/usage/summary', keyB.key);
    expect(without.status).toBe(403);
    expect((await json<ErrorBody>(without)).error.code).toBe('insufficient_scope');
    expect((await get(h, '/v1/usage/summary')).status).toBe(401);
    expect((await get(h, '/v1/usage/summary', 'not-a-token')).status).toBe(401);
  });

  it('refuses bad ranges and groupings with 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z', 'from'],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['to=2026-01-02T00:00:00Z&from=2026-01-02T00:00:00Z', 'from'],
      ['from=yesterday', 'from'],
      ['to=2026-13-01T00:00:00Z', 'to'],
      ['group_by=week', 'group_by'],
      ['group_by=hour&from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00.000Z', 'from'],
    ];
    for (const [q, param] of cases) {
      const res = await get(h, `/v1/usage/summary?${q}`, user.token);
      expect(res.status, q).toBe(400);
      const b = await json<ErrorBody>(res);
      expect(b.error.code).toBe('invalid_request');
      expect(b.error.param, q).toBe(param);
    }
    // Exactly 366 days is allowed.
    expect((await get(h, '/v1/usage/summary?from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00Z', user.token)).status).toBe(200);
  });

  it('answers CSV (RFC 4180) with Accept: text/csv, neutralising formula-like cells', async () => {
    const u = await developerAccount(h, 100, admin);
    const k = await createKey(h, u.token, { name: 'csv' });
    await verify(h, publicToken, { key: k.key });
    await post(h, '/v1/usage', { key_id: k.id, request_id: 'c1', cost: 3, model: 'say "hi", ok' }, publicToken);
    await post(h, '/v1/usage', { key_id: k.id, request_id: 'c2', cost: 2, model: '=HYPERLINK("http://x")' }, publicToken);
    const res = await getAs(h, '/v1/usage/summary?group_by=model', u.token, 'text/csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('attachment; filename="usage-by-model.csv"');
    expect(await res.text()).toBe(
      'bucket,requests,input_tokens,output_tokens,cost,charged,uncharged\r\n' +
        '"say ""hi"", ok",1,0,0,3,3,0\r\n' +
        '"\'=HYPERLINK(""http://x"")",1,0,0,2,2,0\r\n',
    );
    const days = await (await getAs(h, '/v1/usage/summary', u.token, 'text/csv, application/json;q=0.5')).text();
    const lines = days.trimEnd().split('\r\n');
    expect(lines[0]).toBe('bucket,requests,input_tokens,output_tokens,cost,charged,uncharged');
    expect(lines.length).toBeGreaterThanOrEqual(31);
    expect(lines.slice(1).reduce((acc, l) => acc + Number(l.split(',')[4]), 0)).toBe(5);
    // JSON stays the default.
    expect((await getAs(h, '/v1/usage/summary', u.token, 'application/json')).headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe.each(targets())('domain and platform stats on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let domain: DomainWithToken;
  let user: SignedIn;
  let netKey: KeyWithSecret;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    domain = await createDomain(h, operator.token, uniqueDomainName('stats'));
    user = await signIn(h);
    netKey = await createKey(h, user.token, { name: 'n1' });
    const dev = await developerAccount(h, 500, admin);
    const devKey = await createKey(h, dev.token, { name: 'd1' });
    // 3 valid (two of them charged 4 + 6), 2 malformed, 1 not_found, 1 key_type_mismatch.
    const t = domain.token;
    const answers = [
      await verify(h, t, { key: netKey.key }),
      await verify(h, t, { key: netKey.key, cost: 4 }),
      await verify(h, t, { key: netKey.key, cost: 6 }),
      await verify(h, t, { key: 'sk_net_nope' }),
      await verify(h, t, { key: 'garbage' }),
      await verify(h, t, { key: `${netKey.key.slice(0, -8)}AAAAAAAA` }),
      await verify(h, t, { key: devKey.key }),
    ];
    expect(answers.map((a) => a.code)).toEqual([
      'valid',
      'valid',
      'valid',
      'malformed',
      'malformed',
      expect.stringMatching(/^(malformed|not_found)$/),
      'key_type_mismatch',
    ]);
    await post(h, '/v1/usage', { key_id: netKey.id, request_id: 'u1', cost: 11 }, t);
  });
  afterAll(async () => h.close());

  it("counts the domain's verifications by code with the credits charged on it", async () => {
    const res = await get(h, `/v1/domains/${domain.id}/stats`, operator.token);
    expect(res.status).toBe(200);
    const s = await json<DomainStats>(res);
    expect(s.group_by).toBe('day');
    expect(s.data.length).toBeGreaterThanOrEqual(30);
    const t = s.totals;
    expect(t.verifications).toBe(7);
    expect(t.valid).toBe(3);
    expect(t.refused.key_type_mismatch).toBe(1);
    expect(t.refused.malformed + t.refused.not_found).toBe(3);
    expect(t.refused.disabled).toBe(0);
    expect(t).toMatchObject({ charged_at_verify: 10, charged_by_usage: 11, credits_charged: 21, usage_reports: 1 });
    const busy = s.data.filter((b) => b.verifications > 0);
    expect(busy.reduce((a: number, b) => a + b.verifications, 0)).toBe(7);
    const hourly = await json<DomainStats>(
      await get(
        h,
        `/v1/domains/${domain.id}/stats?group_by=hour&from=${new Date(Date.now() - DAY).toISOString()}&to=${new Date(Date.now() + 2 * HOUR).toISOString()}`,
        operator.token,
      ),
    );
    expect(hourly.data[0].bucket).toMatch(/T\d{2}:00:00Z$/);
    expect(hourly.totals.verifications).toBe(7);
  });

  it("lets admins read any domain's stats, and answers 404 to anyone else", async () => {
    expect((await json<DomainStats>(await get(h, `/v1/domains/${domain.id}/stats`, admin.token))).totals.verifications).toBe(7);
    const res = await get(h, `/v1/domains/${domain.id}/stats`, user.token);
    expect(res.status).toBe(404);
    expect((await json<ErrorBody>(res)).error.code).toBe('not_found');
    expect((await get(h, '/v1/domains/dom_nope/stats', operator.token)).status).toBe(404);
    expect((await get(h, `/v1/domains/${domain.id}/stats`)).status).toBe(401);
  });

  it('answers domain stats as CSV with one column per refusal code', async () => {
    const res = await getAs(h, `/v1/domains/${domain.id}/stats`, operator.token, 'text/csv');
    expect(res.status).toBe(200);
    const lines = (await res.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'bucket,verifications,valid,malformed,not_found,disabled,expired,key_type_mismatch,scope_denied,model_not_allowed,rate_limited,api_key_quota_exceeded,billing_shortfall,credits_charged,charged_at_verify,charged_by_usage,usage_reports',
    );
    const total = lines.slice(1).reduce((a, l) => a + Number(l.split(',')[1]), 0);
    expect(total).toBe(7);
  });

  it('gives admins the platform overview and refuses everyone else', async () => {
    expect((await get(h, '/v1/admin/stats', user.token)).status).toBe(403);
    expect((await get(h, '/v1/admin/stats')).status).toBe(401);
    const res = await get(h, '/v1/admin/stats', admin.token);
    expect(res.status).toBe(200);
    const s = await json<AdminStats>(res);
    expect(s.accounts.total).toBe(s.accounts.developer + s.accounts.network);
    expect(s.accounts.developer).toBeGreaterThanOrEqual(1);
    expect(s.accounts.network).toBeGreaterThanOrEqual(3);
    expect(s.trial.approved).toBeGreaterThanOrEqual(1);
    expect(s.credits.granted).toBeGreaterThanOrEqual(500);
    expect(s.credits.charged).toBeGreaterThanOrEqual(21);
    expect(s.verifications.total).toBeGreaterThanOrEqual(7);
    expect(s.verifications.by_code.valid).toBeGreaterThanOrEqual(3);
    expect(s.verifications.by_code.key_type_mismatch).toBeGreaterThanOrEqual(1);
    expect(s.keys.active).toBeGreaterThanOrEqual(2);
    expect(s.data.reduce((a: number, b) => a + b.verifications, 0)).toBe(s.verifications.total);
    const csv = await (await getAs(h, '/v1/admin/stats', admin.token, 'text/csv')).text();
    expect(csv.split('\r\n')[0]).toBe('bucket,verifications,valid,refused,credits_charged,requests');
  });

  it('counts grants, disabled keys and rejected applications in the overview', async () => {
    const before = await json<AdminStats>(await get(h, '/v1/admin/stats', admin.token));
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'to-disable' });
    expect((await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, u.token)).status).toBe(200);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
    await post(h, `/v1/admin/trial/applications/${app.id}/reject`, { reason: 'no' }, admin.token);
    const d = await developerAccount(h, 300, admin);
    await post(h, `/v1/admin/accounts/${d.address}/credits`, { delta: 50, reason: 'gift' }, admin.token);
    await post(h, `/v1/admin/accounts/${d.address}/credits`, { delta: -20, reason: 'fix' }, admin.token);
    const after = await json<AdminStats>(await get(h, '/v1/admin/stats', admin.token));
    expect(after.keys.disabled - before.keys.disabled).toBe(1);
    expect(after.trial.rejected - before.trial.rejected).toBe(1);
    expect(after.trial.approved - before.trial.approved).toBe(1);
    expect(after.credits.granted - before.credits.granted).toBe(350);
  });

  it('filters the admin audit log by action and address, page by page', async () => {
    const u = await signIn(h);
    for (const name of ['f1', 'f2', 'f3']) await createKey(h, u.token, { name });
    const mine = await json<Page<AuditEventView>>(
      await get(h, `/v1/admin/audit?address=${u.address.toLowerCase()}&action=key.create&limit=2`, admin.token),
    );
    expect(mine.data).toHaveLength(2);
    expect(mine.has_more).toBe(true);
    expect(mine.data.every((e) => e.action === 'key.create' && e.account === u.address)).toBe(true);
    const rest = await json<Page<AuditEvent>>(
      await get(h, `/v1/admin/audit?address=${u.address}&action=key.create&limit=2&cursor=${mine.next_cursor}`, admin.token),
    );
    expect(rest.data).toHaveLength(1);
    expect(rest.has_more).toBe(false);
    const signIns = await json<Page<AuditEvent>>(await get(h, `/v1/admin/audit?address=${u.address}&action=auth.sign_in`, admin.token));
    expect(signIns.data).toHaveLength(1);
    const own = await json<Page<AuditEvent>>(await get(h, '/v1/audit?action=key.create', u.token));
    expect(own.data).toHaveLength(3);
    for (const bad of ['address=0x123', 'action=DROP%20TABLE']) {
      const res = await get(h, `/v1/admin/audit?${bad}`, admin.token);
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error.param).toBe(bad.split('=')[0]);
    }
    expect((await get(h, `/v1/admin/audit?address=${u.address}`, u.token)).status).toBe(403);
  });
});
