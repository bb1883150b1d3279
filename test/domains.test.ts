import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, get, json, post, signIn, signInAdmin, targets, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import type { AuditEvent, Domain, DomainWithToken, ErrorBody, Page } from './support/responses.js';

describe.each(targets())('domains on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let op: SignedIn;
  let other: SignedIn;
  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    op = await signIn(h);
    other = await signIn(h);
  });
  afterAll(async () => h.close());

  it('registers a network domain and shows its token once', async () => {
    const name = uniqueDomainName();
    const d = await createDomain(h, op.token, name.toUpperCase());
    expect(d).toMatchObject({ name, visibility: 'network', owner: op.address });
    expect(d.token).toMatch(/^sk_dom_[0-9A-Za-z]{34}$/);
    const got = await json<Domain>(await get(h, `/v1/domains/${d.id}`, op.token));
    // The token is not part of a listed domain: read it as the wider type to check it is absent.
    expect((got as Partial<DomainWithToken>).token).toBeUndefined();
    expect(JSON.stringify(await json<Page<Domain>>(await get(h, '/v1/domains', op.token)))).not.toContain(d.token);
  });

  it('refuses public domains to non-admins and duplicate names to everyone', async () => {
    const res = await post(h, '/v1/domains', { name: uniqueDomainName(), visibility: 'public' }, op.token);
    expect(res.status).toBe(403);
    expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    const name = uniqueDomainName();
    await createDomain(h, op.token, name);
    const dup = await post(h, '/v1/domains', { name }, admin.token);
    expect(dup.status).toBe(409);
    expect((await json<ErrorBody>(dup)).error.code).toBe('domain_taken');
  });

  it.each(['not a domain', 'localhost', '-bad.example.org', 'a..b.org', `${'x'.repeat(64)}.org`, 'under_score.org'])(
    'refuses the name %j',
    async (name) => {
      const res = await post(h, '/v1/domains', { name }, op.token);
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error.param).toBe('name');
    },
  );

  it("hides other operators' domains and lets admins see all", async () => {
    const d = await createDomain(h, op.token, uniqueDomainName());
    expect((await get(h, `/v1/domains/${d.id}`, other.token)).status).toBe(404);
    expect((await del(h, `/v1/domains/${d.id}`, other.token)).status).toBe(404);
    expect((await post(h, `/v1/domains/${d.id}/token/rotate`, {}, other.token)).status).toBe(404);
    expect((await json<Page<Domain>>(await get(h, '/v1/domains', other.token))).data.map((x) => x.id)).not.toContain(d.id);
    expect((await json<Page<Domain>>(await get(h, '/v1/domains?limit=100', admin.token))).data.map((x) => x.id)).toContain(d.id);
  });

  it('rotates the token: the old one dies at once', async () => {
    const d = await createDomain(h, op.token, uniqueDomainName());
    const k = await createKey(h, other.token, { name: 'for-rotate' });
    expect((await verify(h, d.token, { key: k.key })).valid).toBe(true);
    const r = await json<DomainWithToken>(await post(h, `/v1/domains/${d.id}/token/rotate`, {}, op.token));
    expect(r.token).not.toBe(d.token);
    expect((await post(h, '/v1/verify', { key: k.key }, d.token)).status).toBe(401);
    expect((await verify(h, r.token, { key: k.key })).valid).toBe(true);
  });

  it('deletes a domain and its token with it', async () => {
    const d = await createDomain(h, op.token, uniqueDomainName());
    expect((await del(h, `/v1/domains/${d.id}`, op.token)).status).toBe(204);
    expect((await get(h, `/v1/domains/${d.id}`, op.token)).status).toBe(404);
    expect((await post(h, '/v1/verify', { key: 'sk_net_x' }, d.token)).status).toBe(401);
    const audit = (await json<Page<AuditEvent>>(await get(h, '/v1/audit?limit=100', op.token))).data.map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['domain.create', 'domain.delete', 'domain.token_rotate']));
  });

  it('caps domains per account', async () => {
    const h2 = await target.start({ env: { MAX_DOMAINS_PER_ACCOUNT: '1' } });
    try {
      const s = await signIn(h2);
      await createDomain(h2, s.token, uniqueDomainName());
      const res = await post(h2, '/v1/domains', { name: uniqueDomainName() }, s.token);
      expect(res.status).toBe(409);
      expect((await json<ErrorBody>(res)).error.code).toBe('limit_reached');
    } finally {
      await h2.close();
    }
  });
});
