import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordUsageBatch } from '../src/services/usage-batch.js';
import { get, json, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import type {
  Account,
  ErrorBody,
  Key,
  OpenApiDoc,
  Page,
  UsageBatchResult,
  UsageRecord,
  UsageRecorded,
  UsageSummary,
} from './support/responses.js';
import type { UsageBatchRecorded } from './support/responses.js';

// POST /v1/usage/batch: what the gateway sends; each record behaves exactly as POST /v1/usage.
describe.each(targets())('batched usage reports on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let domainToken: string;
  let publicToken: string;
  let publicName: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    domainToken = (await createDomain(h, operator.token, uniqueDomainName('batch'))).token;
    publicName = uniqueDomainName('batchpub');
    publicToken = (await createDomain(h, admin.token, publicName, 'public')).token;
  });
  afterAll(async () => h.close());

  it('records every record in order, charges each once, and answers the same on a retry of the whole batch', async () => {
    const u = await developerAccount(h, 100, admin);
    const k = await createKey(h, u.token, { name: 'b1' });
    await verify(h, publicToken, { key: k.key });
    const records = [
      { key_id: k.id, request_id: 'b-1', cost: 30, model: 'llama-3-8b', input_tokens: 100, output_tokens: 20 },
      { key_id: k.id, request_id: 'b-2', cost: 50 },
      { key_id: k.id, request_id: 'b-3', cost: 40 }, // only 20 left: 20 charged, 20 uncharged
      { key_id: k.id, request_id: 'b-1', cost: 30 }, // the same request id again: stored once, same answer
    ];
    const res = await post(h, '/v1/usage/batch', { records }, publicToken);
    expect(res.status).toBe(200);
    const first = await json<UsageBatchResult>(res);
    expect(first.results.map((r) => r.request_id)).toEqual(['b-1', 'b-2', 'b-3', 'b-1']);
    expect(first.results[0]).toMatchObject({ recorded: true, charged: 30, uncharged: 0, credits_remaining: 70 });
    expect(first.results[1]).toMatchObject({ recorded: true, charged: 50, uncharged: 0, credits_remaining: 20 });
    expect(first.results[2]).toMatchObject({ recorded: true, charged: 20, uncharged: 20, credits_remaining: 0 });
    expect(first.results[3]).toEqual(first.results[0]);
    const again = await json<UsageBatchResult>(await post(h, '/v1/usage/batch', { records }, publicToken));
    expect(again).toEqual(first);
    // the single route sees the same records
    expect(await json<UsageRecorded>(await post(h, '/v1/usage', records[1], publicToken))).toEqual(
      (({ request_id: _r, ...rest }) => rest)(first.results[1]),
    );
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(0);
    const listed = await json<Page<UsageRecord>>(await get(h, '/v1/usage', u.token));
    expect(listed.data.map((r) => r.request_id).sort()).toEqual(['b-1', 'b-2', 'b-3']);
    expect(listed.data.find((r) => r.request_id === 'b-1')).toMatchObject({
      model: 'llama-3-8b',
      input_tokens: 100,
      output_tokens: 20,
    });
  });

  it('refuses, record by record, keys this domain did not verify or whose type it does not accept, and records the rest', async () => {
    const mine = await signIn(h);
    const served = await createKey(h, mine.token, { name: 'served' });
    await verify(h, domainToken, { key: served.key });
    const neverSeen = await createKey(h, mine.token, { name: 'never-seen' });
    const victim = await developerAccount(h, 500, admin);
    const dev = await createKey(h, victim.token, { name: 'victim' });
    expect((await verify(h, domainToken, { key: dev.key })).code).toBe('key_type_mismatch');
    const res = await post(
      h,
      '/v1/usage/batch',
      {
        records: [
          { key_id: dev.id, request_id: 'steal-1', cost: 500 },
          { key_id: served.id, request_id: 'ok-1', cost: 3 },
          { key_id: neverSeen.id, request_id: 'steal-2', cost: 5 },
          { key_id: 'key_nope', request_id: 'nope-1', cost: 1 },
        ],
      },
      domainToken,
    );
    expect(res.status).toBe(200);
    const { results } = await json<UsageBatchResult>(res);
    expect(results[0]).toMatchObject({ recorded: false, request_id: 'steal-1', error: { code: 'forbidden' } });
    expect(results[1]).toMatchObject({ recorded: true, request_id: 'ok-1', charged: 3 });
    expect(results[2]).toMatchObject({ recorded: false, request_id: 'steal-2', error: { code: 'forbidden' } });
    expect(results[3]).toMatchObject({ recorded: false, request_id: 'nope-1', error: { code: 'not_found' } });
    expect((await json<Account>(await get(h, '/v1/me', victim.token))).credits).toBe(500);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage', victim.token))).data).toHaveLength(0);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage', mine.token))).data.map((r) => r.request_id)).toEqual(['ok-1']);
  });

  it('refuses bad batches whole: empty, over 100 records, a bad record, unknown fields, a bad domain token', async () => {
    const k = { key_id: 'key_x', request_id: 'x' };
    const expect400 = async (body: unknown): Promise<ErrorBody['error']> => {
      const res = await post(h, '/v1/usage/batch', body, domainToken);
      expect(res.status).toBe(400);
      return (await json<ErrorBody>(res)).error;
    };
    expect((await expect400({ records: [] })).code).toBe('invalid_request');
    await expect400({ records: Array.from({ length: 101 }, (_, i) => ({ ...k, request_id: `x-${i}` })) });
    await expect400({ records: [k, { ...k, cost: -1 }] });
    await expect400({ records: [{ ...k, extra: 1 }] });
    await expect400({ records: [k], more: true });
    await expect400([k]);
    expect((await post(h, '/v1/usage/batch', { records: [k] }, 'sk_dom_nope')).status).toBe(401);
    expect((await post(h, '/v1/usage/batch', { records: [k] })).status).toBe(401);
  });

  const HOUR = 3_600_000;
  /** A range of whole hours around now: the summary reads it from the roll-ups kept in the write's batch. */
  const wholeHours = (): string => {
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    return `from=${new Date(hour - 2 * HOUR).toISOString()}&to=${new Date(hour + 2 * HOUR).toISOString()}`;
  };
  const batch = async (records: unknown[], token = publicToken): Promise<UsageBatchResult['results']> => {
    const res = await post(h, '/v1/usage/batch', { records }, token);
    expect(res.status).toBe(200);
    return (await json<UsageBatchResult>(res)).results;
  };

  it('charges records of one account across two keys in order when the balance and a key window run out midway', async () => {
    const u = await developerAccount(h, 100, admin);
    const a = await createKey(h, u.token, { name: 'a', limits: { daily_credits: 45 } });
    const b = await createKey(h, u.token, { name: 'b' });
    await verify(h, publicToken, { key: a.key });
    await verify(h, publicToken, { key: b.key });
    const results = await batch([
      { key_id: a.id, request_id: 'mid-1', cost: 30, model: 'm-1', input_tokens: 10, output_tokens: 1 },
      { key_id: b.id, request_id: 'mid-2', cost: 25, model: 'm-2' },
      { key_id: a.id, request_id: 'mid-3', cost: 20, model: 'm-1', input_tokens: 5 }, // a's day has 15 left: 15 charged
      { key_id: b.id, request_id: 'mid-4', cost: 40, model: 'm-2' }, // the balance has 30 left: 30 charged
      { key_id: a.id, request_id: 'mid-5', cost: 10, model: 'm-1' }, // a's day is spent and so is the balance
      { key_id: b.id, request_id: 'mid-6', cost: 0 },
    ]);
    // Every record here is recorded (the expected rows say so), so each result has the charge fields.
    expect((results as UsageBatchRecorded[]).map((r) => [r.request_id, r.charged, r.uncharged, r.credits_remaining])).toEqual([
      ['mid-1', 30, 0, 70],
      ['mid-2', 25, 0, 45],
      ['mid-3', 15, 5, 30],
      ['mid-4', 30, 10, 0],
      ['mid-5', 0, 10, 0],
      ['mid-6', 0, 0, 0],
    ]);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(0);
    expect((await json<Key>(await get(h, `/v1/keys/${a.id}`, u.token))).usage.today).toBe(45);
    expect((await json<Key>(await get(h, `/v1/keys/${b.id}`, u.token))).usage.today).toBe(55);
    // The grouped roll-ups (one row per key and model) equal the records.
    const fromRollups = await json<UsageSummary>(await get(h, `/v1/usage/summary?group_by=model&${wholeHours()}`, u.token));
    expect(fromRollups.data.map((m) => [m.bucket, m.requests, m.input_tokens, m.output_tokens, m.cost, m.charged, m.uncharged])).toEqual([
      ['m-2', 2, 0, 0, 65, 55, 10],
      ['m-1', 3, 15, 1, 60, 45, 15],
      [null, 1, 0, 0, 0, 0, 0],
    ]);
    const fromRecords = await json<UsageSummary>(await get(h, '/v1/usage/summary?group_by=model', u.token));
    expect(fromRollups.totals).toEqual(fromRecords.totals);
  });

  it('answers records stored by an earlier batch (or POST /v1/usage) as stored, and records only the new ones', async () => {
    const u = await developerAccount(h, 1000, admin);
    const k = await createKey(h, u.token, { name: 'across' });
    await verify(h, publicToken, { key: k.key });
    const single = await json<UsageRecorded>(await post(h, '/v1/usage', { key_id: k.id, request_id: 'x-0', cost: 1 }, publicToken));
    const first = await batch([
      { key_id: k.id, request_id: 'x-1', cost: 10 },
      { key_id: k.id, request_id: 'x-2', cost: 20 },
    ]);
    const second = await batch([
      { key_id: k.id, request_id: 'x-2', cost: 999 }, // already stored: its first answer, nothing charged again
      { key_id: k.id, request_id: 'x-3', cost: 30 },
      { key_id: k.id, request_id: 'x-0', cost: 999 },
      { key_id: k.id, request_id: 'x-3', cost: 5 }, // a duplicate inside the batch: the first one's answer
    ]);
    expect(second[0]).toEqual(first[1]);
    expect(second[1]).toMatchObject({ recorded: true, charged: 30, credits_remaining: 939 });
    expect(second[2]).toEqual({ request_id: 'x-0', ...single });
    expect(second[3]).toEqual(second[1]);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(939);
    const listed = (await json<Page<UsageRecord>>(await get(h, '/v1/usage', u.token))).data;
    expect(listed.map((r) => r.request_id).sort()).toEqual(['x-0', 'x-1', 'x-2', 'x-3']);
    const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?${wholeHours()}`, u.token));
    expect(s.totals).toMatchObject({ requests: 4, cost: 61, charged: 61 });
  });

  it('answers repeats of a request id as one-by-one reports would: a refused record stores nothing under its id', async () => {
    const u = await developerAccount(h, 50, admin);
    const k = await createKey(h, u.token, { name: 'mixed' });
    await verify(h, publicToken, { key: k.key });
    const results = await batch([
      { key_id: 'key_missing', request_id: 'm-1', cost: 5 },
      { key_id: k.id, request_id: 'm-2', cost: 20 },
      { key_id: k.id, request_id: 'm-1', cost: 5 }, // the refused id again, now with a good key: recorded
      { key_id: 'key_missing', request_id: 'm-1', cost: 9 }, // after it was recorded: its answer
      { key_id: k.id, request_id: 'm-3', cost: 20 },
    ]);
    expect(results[0]).toMatchObject({ recorded: false, request_id: 'm-1', error: { code: 'not_found' } });
    expect(results[1]).toMatchObject({ recorded: true, charged: 20, credits_remaining: 30 });
    expect(results[2]).toMatchObject({ recorded: true, request_id: 'm-1', charged: 5, credits_remaining: 25 });
    expect(results[3]).toEqual(results[2]);
    expect(results[4]).toMatchObject({ recorded: true, charged: 20, credits_remaining: 5 });
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(5);
    // The same records one by one through POST /v1/usage answer the same.
    expect((await post(h, '/v1/usage', { key_id: 'key_missing', request_id: 'm-1', cost: 9 }, publicToken)).status).toBe(201);
  });

  it('charges concurrent batches on one account exactly: never below zero, every record stored once', async () => {
    const u = await developerAccount(h, 500, admin);
    const keys = await Promise.all([createKey(h, u.token, { name: 'c1' }), createKey(h, u.token, { name: 'c2' })]);
    for (const k of keys) await verify(h, publicToken, { key: k.key });
    // 8 batches of 10 records of cost 7 (560 asked, 500 available), half of them twice at once.
    const batches = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => ({ key_id: keys[(b + i) % 2].id, request_id: `c-${b}-${i}`, cost: 7 })),
    );
    const sent = [...batches, ...batches.slice(0, 4)];
    const answers = await Promise.all(sent.map((records) => batch(records)));
    const byId = new Map<string, UsageBatchRecorded>();
    for (const results of answers)
      for (const r of results) {
        expect(r.recorded).toBe(true);
        const seen = byId.get(r.request_id);
        if (seen)
          expect(r).toEqual(seen); // a concurrent retry answers the same record
        else byId.set(r.request_id, r as UsageBatchRecorded); // recorded: asserted above
      }
    expect(byId.size).toBe(80);
    const all = [...byId.values()];
    const charged = all.reduce((n, r) => n + r.charged, 0);
    expect(charged).toBe(500);
    expect(all.reduce((n, r) => n + r.uncharged, 0)).toBe(60);
    expect(all.every((r) => r.charged + r.uncharged === 7 && (r.credits_remaining ?? 0) >= 0)).toBe(true);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(0);
    const listed = await json<Page<UsageRecord>>(await get(h, '/v1/usage?limit=100', u.token));
    expect(listed.data).toHaveLength(80);
    const s = await json<UsageSummary>(await get(h, `/v1/usage/summary?${wholeHours()}`, u.token));
    expect(s.totals).toMatchObject({ requests: 80, cost: 560, charged: 500, uncharged: 60 });
  });

  it('stores a record once when a batch races POST /v1/usage under the same request ids', async () => {
    const u = await developerAccount(h, 1000, admin);
    const k = await createKey(h, u.token, { name: 'race' });
    await verify(h, publicToken, { key: k.key });
    const records = Array.from({ length: 6 }, (_, i) => ({ key_id: k.id, request_id: `r-${i}`, cost: 3 }));
    const [batched, ...singles] = await Promise.all([
      batch(records),
      ...records.map(async (r) => json<UsageRecorded>(await post(h, '/v1/usage', r, publicToken))),
    ]);
    for (const [i, r] of batched.entries()) expect(r).toEqual({ request_id: `r-${i}`, ...singles[i] });
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(982);
    expect((await json<Page<UsageRecord>>(await get(h, '/v1/usage', u.token))).data).toHaveLength(6);
  });

  // The cost model, counted on the service itself (Node targets): one transaction per batch, reads
  // that do not grow with the batch, and per record only its insert and its two charging UPDATEs.
  it.runIf(target.name.startsWith('node'))('writes a batch in one transaction, reading once per batch whatever its size', async () => {
    const service = h.service as NonNullable<Harness['service']>;
    const u = await developerAccount(h, 10_000, admin);
    const k = await createKey(h, u.token, { name: 'count' });
    await verify(h, publicToken, { key: k.key });
    const domain = await service.db
      .selectFrom('domains')
      .select(['id', 'visibility'])
      .where('name', '=', publicName)
      .executeTakeFirstOrThrow();
    const count = async (n: number, tag: string): Promise<{ selects: number; statements: number; transactions: number }> => {
      const c = { selects: 0, statements: 0, transactions: 0 };
      // Counted as they run (transformResult sees every executed statement; transformQuery only the
      // ones kysely builds, and the per-record statements are compiled once per database). A read
      // answers rows without an affected-row count on both drivers.
      const plugin: KyselyPlugin = {
        transformQuery: (a) => a.node,
        transformResult: async (a) => {
          c.statements++;
          if (a.result.numAffectedRows === undefined) c.selects++;
          return a.result;
        },
      };
      const db = service.db.withPlugin(plugin);
      const begin = db.transaction.bind(db);
      db.transaction = () => {
        c.transactions++;
        return begin();
      };
      const records = Array.from({ length: n }, (_, i) => ({ key_id: k.id, request_id: `${tag}-${i}`, cost: 1 }));
      const results = await recordUsageBatch({ db, lastUsed: service.deps.lastUsed }, domain, records, h.clock?.now() ?? new Date());
      expect(results.every((r) => r.recorded && r.charged === 1)).toBe(true);
      return c;
    };
    const one = await count(1, 'n1');
    const many = await count(40, 'n40');
    expect(one.transactions).toBe(1);
    expect(many.transactions).toBe(1);
    expect(many.selects).toBe(one.selects);
    expect(many.statements - one.statements).toBe(39 * 3);
    expect((await json<Account>(await get(h, '/v1/me', u.token))).credits).toBe(10_000 - 41);
  });

  it('is documented in /openapi.json', async () => {
    const doc = await json<OpenApiDoc>(await get(h, '/openapi.json'));
    expect(doc.paths['/v1/usage/batch']?.post).toBeDefined();
  });
});
