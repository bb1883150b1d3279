import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ACCOUNT, get, json, newWallet, patch, post, siweText, type Harness } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import { startPgPair, type PgPair } from './support/pg-pair.js';
import type { Account, ErrorBody, Nonce, Session } from './support/responses.js';

const pgUrl = process.env.TEST_POSTGRES_URL;

/** Two real `siwe-keys serve` processes on one PostgreSQL database behave as one service. */
describe.skipIf(!pgUrl)('two Node instances on one PostgreSQL database', () => {
  let pair: PgPair;
  let ha: Harness;
  let hb: Harness;

  beforeAll(async () => {
    // Both start (and migrate) at the same time.
    pair = await startPgPair(pgUrl as string);
    ({ ha, hb } = pair);
  });
  afterAll(async () => {
    await pair?.stop();
  });

  async function signInVia(issuer: Harness, verifier: Harness) {
    const wallet = newWallet();
    const { nonce } = await json<Nonce>(await get(issuer, '/v1/auth/nonce'));
    const message = siweText(wallet.address, nonce, new Date());
    const signature = await wallet.signMessage({ message });
    return { wallet, message, signature, first: await post(verifier, '/v1/auth/verify', { message, signature }) };
  }

  it('accepts a nonce issued by one instance exactly once on the other', async () => {
    const s = await signInVia(ha, hb);
    expect(s.first.status).toBe(200);
    const replayA = await post(ha, '/v1/auth/verify', { message: s.message, signature: s.signature });
    const replayB = await post(hb, '/v1/auth/verify', { message: s.message, signature: s.signature });
    expect([replayA.status, replayB.status]).toEqual([401, 401]);
    expect((await json<ErrorBody>(replayA)).error.code).toBe('siwe_nonce_invalid');
  });

  it('honours a session from either instance, and a logout on one at once on the other', async () => {
    const s = await signInVia(ha, ha);
    const { token } = await json<Session>(s.first);
    expect((await get(hb, '/v1/me', token)).status).toBe(200);
    expect((await post(hb, '/v1/auth/logout', {}, token)).status).toBe(204);
    expect((await get(ha, '/v1/me', token)).status).toBe(401);
  });

  it('refuses on one instance a key disabled through the other, at once', async () => {
    const { token } = await json<Session>((await signInVia(ha, ha)).first);
    const op = await json<Session>((await signInVia(hb, hb)).first);
    const domainToken = (await createDomain(hb, op.token, uniqueDomainName('multi'))).token;
    const k = await createKey(ha, token, { name: 'shared' });
    expect((await verify(hb, domainToken, { key: k.key })).valid).toBe(true);
    await patch(ha, `/v1/keys/${k.id}`, { status: 'disabled' }, token);
    expect((await verify(hb, domainToken, { key: k.key })).code).toBe('disabled');
  });

  it('shares one rpm window between instances', async () => {
    const { token } = await json<Session>((await signInVia(ha, ha)).first);
    const domainToken = (await createDomain(ha, token, uniqueDomainName('rpm'))).token;
    const k = await createKey(ha, token, { name: 'rpm-shared', limits: { rpm: 10 } });
    // These processes run on the real clock: keep the burst clear of a minute boundary.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 200));
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => verify(i % 2 ? ha : hb, domainToken, { key: k.key })));
    expect(answers.filter((x) => x.valid)).toHaveLength(10);
    expect(answers.filter((x) => !x.valid).every((x) => x.code === 'rate_limited')).toBe(true);
  });

  it('never overspends across instances: 50 parallel charges of 10 against 200 give exactly 20 valid', async () => {
    const adminRes = await (async () => {
      const { nonce } = await json<Nonce>(await get(ha, '/v1/auth/nonce'));
      const message = siweText(ADMIN_ACCOUNT.address, nonce, new Date());
      return json<Session>(await post(ha, '/v1/auth/verify', { message, signature: await ADMIN_ACCOUNT.signMessage({ message }) }));
    })();
    const admin = { token: adminRes.token, address: ADMIN_ACCOUNT.address, account: ADMIN_ACCOUNT, body: adminRes };
    const pub = (await createDomain(ha, admin.token, uniqueDomainName('pub'), 'public')).token;
    const dev = await developerAccount(hb, 200, admin as never);
    const k = await createKey(hb, dev.token, { name: 'race' });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => verify(i % 2 ? ha : hb, pub, { key: k.key, cost: 10 })));
    expect(answers.filter((x) => x.valid)).toHaveLength(20);
    const me = await json<Account>(await get(ha, '/v1/me', dev.token));
    expect(me).toMatchObject({ plan: 'developer', credits: 0 });
  });
});
