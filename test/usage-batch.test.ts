import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, json, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';

// POST /v1/usage/batch: what the gateway sends; each record behaves exactly as POST /v1/usage.
describe.each(targets())('batched usage reports on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let operator: SignedIn;
  let domainToken: string;
  let publicToken: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    operator = await signIn(h);
    domainToken = (await createDomain(h, operator.token, uniqueDomainName('batch'))).token;
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('batchpub'), 'public')).token;
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
    const first = await json(res);
    expect(first.results.map((r: any) => r.request_id)).toEqual(['b-1', 'b-2', 'b-3', 'b-1']);
    expect(first.results[0]).toMatchObject({ recorded: true, charged: 30, uncharged: 0, credits_remaining: 70 });
    expect(first.results[1]).toMatchObject({ recorded: true, charged: 50, uncharged: 0, credits_remaining: 20 });
    expect(first.results[2]).toMatchObject({ recorded: true, charged: 20, uncharged: 20, credits_remaining: 0 });
    expect(first.results[3]).toEqual(first.results[0]);
    const again = await json(await post(h, '/v1/usage/batch', { records }, publicToken));
    expect(again).toEqual(first);
    // the single route sees the same records
    expect(await json(await post(h, '/v1/usage', records[1], publicToken))).toEqual(
      (({ request_id: _r, ...rest }) => rest)(first.results[1]),
    );
    expect((await json(await get(h, '/v1/me', u.token))).credits).toBe(0);
    const listed = await json(await get(h, '/v1/usage', u.token));
    expect(listed.data.map((r: any) => r.request_id).sort()).toEqual(['b-1', 'b-2', 'b-3']);
    expect(listed.data.find((r: any) => r.request_id === 'b-1')).toMatchObject({
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
    const { results } = await json(res);
    expect(results[0]).toMatchObject({ recorded: false, request_id: 'steal-1', error: { code: 'forbidden' } });
    expect(results[1]).toMatchObject({ recorded: true, request_id: 'ok-1', charged: 3 });
    expect(results[2]).toMatchObject({ recorded: false, request_id: 'steal-2', error: { code: 'forbidden' } });
    expect(results[3]).toMatchObject({ recorded: false, request_id: 'nope-1', error: { code: 'not_found' } });
    expect((await json(await get(h, '/v1/me', victim.token))).credits).toBe(500);
    expect((await json(await get(h, '/v1/usage', victim.token))).data).toHaveLength(0);
    expect((await json(await get(h, '/v1/usage', mine.token))).data.map((r: any) => r.request_id)).toEqual(['ok-1']);
  });

  it('refuses bad batches whole: empty, over 100 records, a bad record, unknown fields, a bad domain token', async () => {
    const k = { key_id: 'key_x', request_id: 'x' };
    const expect400 = async (body: unknown): Promise<any> => {
      const res = await post(h, '/v1/usage/batch', body, domainToken);
      expect(res.status).toBe(400);
      return (await json(res)).error;
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

  it('is documented in /openapi.json', async () => {
    const doc = await json(await get(h, '/openapi.json'));
    expect(doc.paths['/v1/usage/batch']?.post).toBeDefined();
  });
});
