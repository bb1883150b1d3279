import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ACCOUNT, del, json, patch, post, type Harness, signIn } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import { within, startPgPair, type PgPair, type ServeProcess } from './support/pg-pair.js';
import type { DomainWithToken, KeyWithSecret } from './support/responses.js';

const pgUrl = process.env.TEST_POSTGRES_URL;

/**
 * Two `siwe-keys serve` processes on one PostgreSQL database, each with its record cache: a change
 * written through one reaches the other's cache by NOTIFY, and while an instance's listener is cut
 * it answers from the database. The revocation bound of the README, tested.
 */
describe.skipIf(!pgUrl)('record cache across two instances on PostgreSQL', () => {
  let pair: PgPair;
  let a: ServeProcess;
  let b: ServeProcess;
  let ha: Harness;
  let hb: Harness;
  let sql: pg.Client;
  let user: { token: string; address: string };
  let admin: { token: string };
  let domainToken: string;

  /** Resolves once the given instance LISTENs (its dedicated connection is up). */
  async function listening(pid: number): Promise<void> {
    for (;;) {
      const r = await sql.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'", [
        `siwe-keys-listener-${pid}`,
      ]);
      if (r.rows[0].n > 0) return;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  beforeAll(async () => {
    // Both start (and migrate) at the same time.
    pair = await startPgPair(pgUrl as string);
    ({ a, b } = pair);
    ({ ha, hb } = pair);
    sql = new pg.Client({ connectionString: pair.db.url });
    await sql.connect();
    await Promise.all([listening(a.child.pid as number), listening(b.child.pid as number)]);
    user = await signIn(ha);
    admin = await signIn(ha, ADMIN_ACCOUNT);
    domainToken = (await createDomain(hb, (await signIn(hb)).token, uniqueDomainName('inst'))).token;
  });
  afterAll(async () => {
    await sql?.end();
    await pair?.stop();
  });

  it('refuses on B, within the NOTIFY bound, a key rotated or deleted through A while B had it cached', async () => {
    const k = await createKey(ha, user.token, { name: 'i-rotate' });
    expect((await verify(hb, domainToken, { key: k.key })).valid).toBe(true);
    const r = await json<KeyWithSecret>(await post(ha, `/v1/keys/${k.id}/rotate`, {}, user.token));
    expect(
      (
        await within(
          () => verify(hb, domainToken, { key: k.key }),
          (v) => v.code === 'not_found',
        )
      ).code,
    ).toBe('not_found');
    expect((await verify(hb, domainToken, { key: r.key })).valid).toBe(true);
    expect((await del(ha, `/v1/keys/${k.id}`, user.token)).status).toBe(204);
    expect(
      (
        await within(
          () => verify(hb, domainToken, { key: r.key }),
          (v) => v.code === 'not_found',
        )
      ).code,
    ).toBe('not_found');
  });

  it('applies on B, within the NOTIFY bound, settings and a credit grant written through A', async () => {
    const u = await signIn(ha);
    const k = await createKey(ha, u.token, { name: 'i-settings' });
    expect(await verify(hb, domainToken, { key: k.key })).toMatchObject({ valid: true, credits_remaining: null });
    await patch(ha, `/v1/keys/${k.id}`, { scopes: ['inference:read'] }, u.token);
    expect(
      (
        await within(
          () => verify(hb, domainToken, { key: k.key }),
          (v) => v.code === 'scope_denied',
        )
      ).code,
    ).toBe('scope_denied');
    await patch(ha, `/v1/keys/${k.id}`, { scopes: ['inference:write'] }, u.token);
    expect((await post(ha, `/v1/admin/accounts/${u.address}/credits`, { delta: 9, reason: 'test' }, admin.token)).status).toBe(200);
    expect(
      await within(
        () => verify(hb, domainToken, { key: k.key }),
        (v) => v.credits_remaining === 9,
      ),
    ).toMatchObject({ valid: true, credits_remaining: 9 });
  });

  it('refuses on B, within the NOTIFY bound, a domain token rotated through A', async () => {
    const op = await signIn(ha);
    const d = await createDomain(ha, op.token, uniqueDomainName('i-dom'));
    const k = await createKey(ha, user.token, { name: 'i-dom-key' });
    expect((await verify(hb, d.token, { key: k.key })).valid).toBe(true);
    const rotated = await json<DomainWithToken>(await post(ha, `/v1/domains/${d.id}/token/rotate`, {}, op.token));
    expect(
      (
        await within(
          () => post(hb, '/v1/verify', { key: k.key }, d.token),
          (res) => res.status === 401,
        )
      ).status,
    ).toBe(401);
    expect((await verify(hb, rotated.token, { key: k.key })).valid).toBe(true);
  });

  it('answers from the database while its listener is cut, and caches again once it is back', async () => {
    const k = await createKey(ha, user.token, { name: 'i-cut' });
    expect((await verify(hb, domainToken, { key: k.key })).valid).toBe(true);
    // Cut B's listening connection (the server tells B; pg_terminate_backend waits for the backend to go).
    const cut = await sql.query('SELECT pg_terminate_backend(pid, 5000) AS ok FROM pg_stat_activity WHERE application_name = $1', [
      `siwe-keys-listener-${b.child.pid}`,
    ]);
    expect(cut.rows.length).toBe(1);
    // Written while nobody could tell B: B must not answer from what it had cached.
    await patch(ha, `/v1/keys/${k.id}`, { status: 'disabled' }, user.token);
    expect((await verify(hb, domainToken, { key: k.key })).code).toBe('disabled');
    await listening(b.child.pid as number);
    expect((await verify(hb, domainToken, { key: k.key })).code).toBe('disabled');
    await patch(ha, `/v1/keys/${k.id}`, { status: 'active' }, user.token);
    expect(
      (
        await within(
          () => verify(hb, domainToken, { key: k.key }),
          (v) => v.valid,
        )
      ).valid,
    ).toBe(true);
    await patch(ha, `/v1/keys/${k.id}`, { status: 'disabled' }, user.token);
    expect(
      (
        await within(
          () => verify(hb, domainToken, { key: k.key }),
          (v) => v.code === 'disabled',
        )
      ).code,
    ).toBe('disabled');
  });
});
