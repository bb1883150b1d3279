import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OWNERSHIP_CHECKS_PER_MINUTE } from '../src/services/domains.js';
import { createDomainChecker, isPrivateAddress, type DomainResolver } from '../src/services/domain-proof.js';
import { pinnedProofFetcher } from '../src/services/domain-proof-node.js';
import { startDohStub, startLocalServer, type DohStub, type LocalServer } from './support/domain-servers.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import { get, json, post, signIn, sqliteTarget, targets, workersTarget, type Harness, type SignedIn } from './support/harness.js';
import type { AuditEvent, Domain, DomainClaim, DomainWithToken, ErrorBody, OpenApiDoc, Page, UsageRecord } from './support/responses.js';

/**
 * Domains are proven (issue 12, item 7): a DNS TXT record at _siwe-keys.<name> or the file
 * /.well-known/siwe-keys.txt carrying the domain's challenge. The service's DNS is a stub DoH server
 * and the "domain" is a real local HTTP server.
 */

let doh: DohStub;
let web: LocalServer;
beforeAll(async () => {
  doh = await startDohStub();
  web = await startLocalServer();
});
afterAll(async () => {
  await web?.close();
  await doh?.close();
});

const proofEnv = (): Record<string, string> => ({
  DOMAIN_CHECK_DOH_URL: doh.endpoint,
  DOMAIN_CHECK_ALLOW_PRIVATE: '1',
  DOMAIN_CHECK_HTTP_SCHEME: 'http',
  DOMAIN_CHECK_HTTP_PORT: String(web.port),
  DOMAIN_CHECK_TIMEOUT_MS: '3000',
});

/** Serves `files` (by Host name) at /.well-known/siwe-keys.txt on the local "domain" server. */
const files = new Map<string, { status: number; body?: string; location?: string }>();
function serveFiles(): void {
  web.handle = (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const f = req.url === '/.well-known/siwe-keys.txt' ? files.get(host) : undefined;
    if (!f) return void res.writeHead(404).end('not here');
    res.writeHead(f.status, f.location ? { location: f.location } : { 'content-type': 'text/plain' });
    res.end(f.body ?? '');
  };
}

/** The refusals here say more: an ownership check lists what it tried, domain_taken whether the name can be claimed. */
type OwnershipError = ErrorBody & { error: { reasons?: string[]; claimable?: boolean } };

async function errorOf(res: Response): Promise<{ status: number; code: string; body: OwnershipError }> {
  const body = await json<OwnershipError>(res);
  return { status: res.status, code: body.error?.code, body };
}

for (const target of targets()) {
  const onWorkers = target === workersTarget;
  describe(`domain ownership (${target.name})`, () => {
    let h: Harness;
    let owner: SignedIn;
    let squatter: SignedIn;
    beforeAll(async () => {
      serveFiles();
      h = await target.start({ env: proofEnv() });
    }, 180_000);
    afterAll(async () => h?.close());
    // Fresh accounts per test: ownership checks are rate-limited per account.
    beforeEach(async () => {
      [owner, squatter] = await Promise.all([signIn(h), signIn(h)]);
    });

    const check = (id: string, token: string) => post(h, `/v1/domains/${id}/ownership/check`, {}, token);

    it('registers a domain unverified, with its own challenge', async () => {
      const a = await createDomain(h, owner.token, uniqueDomainName('own'));
      const b = await createDomain(h, owner.token, uniqueDomainName('own'));
      expect(a).toMatchObject({ ownership: 'unverified', verified_at: null });
      expect(a.ownership_challenge).toMatch(/^siwe-keys-[0-9A-Za-z]{32}$/);
      expect(b.ownership_challenge).not.toBe(a.ownership_challenge);
      const listed = await json<Domain>(await get(h, `/v1/domains/${a.id}`, owner.token));
      expect(listed).toMatchObject({ ownership: 'unverified', ownership_challenge: a.ownership_challenge, verified_at: null });
    });

    it('refuses the check when nothing carries the challenge (422 ownership_not_proven)', async () => {
      const d = await createDomain(h, owner.token, uniqueDomainName('bare'));
      const e = await errorOf(await check(d.id, owner.token));
      expect(e).toMatchObject({ status: 422, code: 'ownership_not_proven' });
      expect(Array.isArray(e.body.error.reasons)).toBe(true);
      expect((await json<Domain>(await get(h, `/v1/domains/${d.id}`, owner.token))).ownership).toBe('unverified');
    });

    it("refuses a TXT record carrying a wrong challenge (another domain's)", async () => {
      const d = await createDomain(h, owner.token, uniqueDomainName('wrong'));
      const other = await createDomain(h, owner.token, uniqueDomainName('other'));
      doh.records.set(`_siwe-keys.${d.name}`, { TXT: [other.ownership_challenge, `${d.ownership_challenge}x`] });
      expect(await errorOf(await check(d.id, owner.token))).toMatchObject({ status: 422, code: 'ownership_not_proven' });
    });

    it('proves a domain by its DNS TXT record', async () => {
      const d = await createDomain(h, owner.token, uniqueDomainName('dns'));
      doh.records.set(`_siwe-keys.${d.name}`, { TXT: ['unrelated=1', d.ownership_challenge] });
      const res = await check(d.id, owner.token);
      const body = await json<Domain>(res);
      // The whole body on failure: it lists what the check tried.
      expect({ status: res.status, body }).toMatchObject({ status: 200, body: { id: d.id, ownership: 'verified' } });
      expect(typeof body.verified_at).toBe('string');
      expect((await json<Domain>(await get(h, `/v1/domains/${d.id}`, owner.token))).ownership).toBe('verified');
    });

    it("answers 404 for a check of another account's domain", async () => {
      const d = await createDomain(h, owner.token, uniqueDomainName('mine'));
      doh.records.set(`_siwe-keys.${d.name}`, { TXT: [d.ownership_challenge] });
      expect(await errorOf(await check(d.id, squatter.token))).toMatchObject({ status: 404, code: 'not_found' });
      expect(await errorOf(await check('dom_doesnotexist', squatter.token))).toMatchObject({ status: 404, code: 'not_found' });
      // The foreign attempt did not verify it either.
      expect((await json<Domain>(await get(h, `/v1/domains/${d.id}`, owner.token))).ownership).toBe('unverified');
    });

    it('refuses to let anyone register or claim a proven name', async () => {
      const name = uniqueDomainName('proven');
      const d = await createDomain(h, owner.token, name);
      doh.records.set(`_siwe-keys.${name}`, { TXT: [d.ownership_challenge] });
      expect((await check(d.id, owner.token)).status).toBe(200);
      const reg = await errorOf(await post(h, '/v1/domains', { name }, squatter.token));
      expect(reg).toMatchObject({ status: 409, code: 'domain_taken' });
      expect(reg.body.error.claimable).toBe(false);
      const claim = await errorOf(await post(h, '/v1/domains/claim', { name }, squatter.token));
      expect(claim).toMatchObject({ status: 409, code: 'domain_taken' });
    });

    it("lets the real owner claim a name from an unproven squatter; the squatter's domain and token die", async () => {
      const name = uniqueDomainName('squat');
      const squat = await createDomain(h, squatter.token, name);
      // The squatter's token works until the claim succeeds.
      expect((await post(h, '/v1/verify', { key: 'sk_net_x' }, squat.token)).status).toBe(200);

      const reg = await errorOf(await post(h, '/v1/domains', { name }, owner.token));
      expect(reg).toMatchObject({ status: 409, code: 'domain_taken' });
      expect(reg.body.error.claimable).toBe(true);
      expect(reg.body.error.message).toContain('/v1/domains/claim');

      const claimRes = await post(h, '/v1/domains/claim', { name }, owner.token);
      expect(claimRes.status).toBe(201);
      const claim = await json<DomainClaim>(claimRes);
      expect(claim).toMatchObject({ name, status: 'pending' });
      expect(claim.ownership_challenge).not.toBe(squat.ownership_challenge);
      // Asking again returns the same pending claim.
      const again = await post(h, '/v1/domains/claim', { name }, owner.token);
      expect(again.status).toBe(200);
      expect((await json<DomainClaim>(again)).id).toBe(claim.id);

      // Nothing published yet: refused. The squatter's challenge does not prove the claim either.
      expect(await errorOf(await post(h, `/v1/domains/claims/${claim.id}/check`, {}, owner.token))).toMatchObject({
        status: 422,
        code: 'ownership_not_proven',
      });
      doh.records.set(`_siwe-keys.${name}`, { TXT: [squat.ownership_challenge] });
      expect(await errorOf(await post(h, `/v1/domains/claims/${claim.id}/check`, {}, owner.token))).toMatchObject({
        status: 422,
        code: 'ownership_not_proven',
      });
      // Another account cannot check (or even see) the claim.
      expect(await errorOf(await post(h, `/v1/domains/claims/${claim.id}/check`, {}, squatter.token))).toMatchObject({
        status: 404,
        code: 'not_found',
      });
      // The squatter proving its own challenge now would keep the name; here it has not.

      doh.records.set(`_siwe-keys.${name}`, { TXT: [claim.ownership_challenge] });
      const won = await post(h, `/v1/domains/claims/${claim.id}/check`, {}, owner.token);
      expect(won.status).toBe(201);
      const domain = await json<DomainWithToken>(won);
      expect(domain).toMatchObject({ name, owner: owner.address, ownership: 'verified', ownership_challenge: claim.ownership_challenge });
      expect(domain.token).toBeTruthy();

      // The squatter's domain and token are gone; the new token works.
      expect(await errorOf(await post(h, '/v1/verify', { key: 'sk_net_x' }, squat.token))).toMatchObject({
        status: 401,
        code: 'invalid_domain_token',
      });
      expect((await get(h, `/v1/domains/${squat.id}`, squatter.token)).status).toBe(404);
      expect((await post(h, '/v1/verify', { key: 'sk_net_x' }, domain.token)).status).toBe(200);
      // The claim is closed.
      expect((await post(h, `/v1/domains/claims/${claim.id}/check`, {}, owner.token)).status).toBe(404);
      // The squatter sees why in its audit trail.
      const audit = await json<Page<AuditEvent>>(await get(h, '/v1/audit', squatter.token));
      expect(audit.data.some((e) => e.action === 'domain.claimed_away' && e.target === squat.id)).toBe(true);
    });

    it('closes a claim when the holder proves the name first', async () => {
      const name = uniqueDomainName('race');
      const held = await createDomain(h, owner.token, name);
      const claim = await json<DomainClaim>(await post(h, '/v1/domains/claim', { name }, squatter.token));
      doh.records.set(`_siwe-keys.${name}`, { TXT: [held.ownership_challenge, claim.ownership_challenge] });
      expect((await check(held.id, owner.token)).status).toBe(200);
      expect(await errorOf(await post(h, `/v1/domains/claims/${claim.id}/check`, {}, squatter.token))).toMatchObject({
        status: 404,
        code: 'not_found',
      });
      expect((await json<Domain>(await get(h, `/v1/domains/${held.id}`, owner.token))).owner).toBe(owner.address);
    });

    it("refuses claims of free names and of one's own name", async () => {
      const free = await errorOf(await post(h, '/v1/domains/claim', { name: uniqueDomainName('free') }, owner.token));
      expect(free).toMatchObject({ status: 409, code: 'not_claimable' });
      const mine = await createDomain(h, owner.token, uniqueDomainName('mine'));
      expect(await errorOf(await post(h, '/v1/domains/claim', { name: mine.name }, owner.token))).toMatchObject({
        status: 409,
        code: 'not_claimable',
      });
    });

    it('shows in usage records whether the domain is proven', async () => {
      const user = await signIn(h);
      const key = await createKey(h, user.token, { name: 'usage-proof' });
      const proven = await createDomain(h, owner.token, uniqueDomainName('uproven'));
      doh.records.set(`_siwe-keys.${proven.name}`, { TXT: [proven.ownership_challenge] });
      expect((await check(proven.id, owner.token)).status).toBe(200);
      const unproven = await createDomain(h, squatter.token, uniqueDomainName('uunproven'));
      for (const [d, rid] of [
        [proven, 'r-proven'],
        [unproven, 'r-unproven'],
      ] as const) {
        expect((await verify(h, d.token, { key: key.key })).valid).toBe(true);
        expect((await post(h, '/v1/usage', { key_id: key.id, request_id: rid }, d.token)).status).toBe(201);
      }
      const records = (await json<Page<UsageRecord>>(await get(h, '/v1/usage', user.token))).data;
      const by = (rid: string) => records.find((r) => r.request_id === rid);
      expect(by('r-proven')).toMatchObject({ domain: proven.name, domain_verified: true });
      expect(by('r-unproven')).toMatchObject({ domain: unproven.name, domain_verified: false });
    });

    it('limits ownership checks per account (each one sends DNS and HTTP requests)', async () => {
      const d = await createDomain(h, owner.token, uniqueDomainName('busy'));
      const codes: number[] = [];
      for (let i = 0; i <= OWNERSHIP_CHECKS_PER_MINUTE; i++) codes.push((await check(d.id, owner.token)).status);
      expect(codes.slice(0, OWNERSHIP_CHECKS_PER_MINUTE).every((c) => c === 422)).toBe(true);
      expect(codes[OWNERSHIP_CHECKS_PER_MINUTE]).toBe(429);
      // Another account is not affected.
      const other = await createDomain(h, squatter.token, uniqueDomainName('calm'));
      expect((await check(other.id, squatter.token)).status).toBe(422);
    });

    it('documents the new routes and fields in /openapi.json', async () => {
      const doc = await json<OpenApiDoc>(await get(h, '/openapi.json'));
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/v1/domains/{id}/ownership/check', '/v1/domains/claim', '/v1/domains/claims/{id}/check']),
      );
      expect(Object.keys(doc.components.schemas.Domain.properties ?? {})).toEqual(
        expect.arrayContaining(['ownership', 'ownership_challenge', 'verified_at']),
      );
    });

    describe('HTTP file proof', () => {
      it('proves a domain by its /.well-known/siwe-keys.txt', async ({ skip }) => {
        // workerd resolves host names with the system's DNS, not the test's stub, so it cannot reach
        // the test's local "domain" by name: the HTTP proof is covered on the Node targets.
        if (onWorkers) skip("the worker cannot reach the test's local HTTP server by a stub DNS name");
        const d = await createDomain(h, owner.token, uniqueDomainName('http'));
        doh.records.set(d.name, { A: ['127.0.0.1'] });
        files.set(d.name, { status: 200, body: `${d.ownership_challenge}\n` });
        const res = await check(d.id, owner.token);
        expect(res.status).toBe(200);
        expect((await json<Domain>(res)).ownership).toBe('verified');
        expect(web.hits).toContain(`${d.name}:${web.port}/.well-known/siwe-keys.txt`);
      });

      it('does not follow a redirect, even to a server that carries the challenge', async ({ skip }) => {
        if (onWorkers) skip("the worker cannot reach the test's local HTTP server by a stub DNS name");
        const inner = await startLocalServer();
        try {
          const d = await createDomain(h, owner.token, uniqueDomainName('redir'));
          inner.handle = (_q, r) => r.writeHead(200, { 'content-type': 'text/plain' }).end(d.ownership_challenge);
          doh.records.set(d.name, { A: ['127.0.0.1'] });
          files.set(d.name, { status: 302, location: `http://127.0.0.1:${inner.port}/.well-known/siwe-keys.txt` });
          const e = await errorOf(await check(d.id, owner.token));
          expect(e).toMatchObject({ status: 422, code: 'ownership_not_proven' });
          expect(e.body.error.reasons?.join(' ')).toContain('redirect');
          expect(inner.hits).toEqual([]);
        } finally {
          await inner.close();
        }
      });
    });
  });
}

describe('domain checks refuse private addresses unless allowed', () => {
  let h: Harness;
  let owner: SignedIn;
  beforeAll(async () => {
    serveFiles();
    const env = proofEnv();
    delete env.DOMAIN_CHECK_ALLOW_PRIVATE;
    h = await sqliteTarget.start({ env });
    owner = await signIn(h);
  });
  afterAll(async () => h?.close());

  it('does not fetch the file from a name that resolves to a loopback or private address', async () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', '::ffff:127.0.0.1']) {
      const d = await createDomain(h, owner.token, uniqueDomainName('ssrf'));
      doh.records.set(d.name, address.includes(':') ? { AAAA: [address] } : { A: [address] });
      files.set(d.name, { status: 200, body: d.ownership_challenge });
      const before = web.hits.length;
      const e = await errorOf(await post(h, `/v1/domains/${d.id}/ownership/check`, {}, owner.token));
      expect(e).toMatchObject({ status: 422, code: 'ownership_not_proven' });
      expect(e.body.error.reasons?.join(' ')).toContain('private or loopback');
      expect(web.hits.length).toBe(before);
    }
  });

  it('classifies addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      'garbage',
    ]) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
    for (const ip of ['93.184.216.34', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(ip), ip).toBe(false);
    }
  });
});

describe('the checker with an injected resolver', () => {
  it('pins the HTTP request to the checked address, whatever the name resolves to later', async () => {
    const server = await startLocalServer((_q, r) => r.writeHead(200).end('siwe-keys-abc'));
    try {
      let calls = 0;
      const resolver: DomainResolver = {
        txt: async () => [],
        // First answer checked and used; a rebinding second answer would never be asked for.
        addresses: async () => (calls++ === 0 ? ['127.0.0.1'] : ['10.0.0.1']),
      };
      const checker = createDomainChecker(resolver, pinnedProofFetcher, {
        allowPrivate: true,
        httpScheme: 'http',
        httpPort: server.port,
        timeoutMs: 2000,
      });
      expect(await checker.check('pinned.example.org', 'siwe-keys-abc')).toEqual({ ok: true, method: 'http' });
      expect(calls).toBe(1);
      expect(server.hits).toEqual([`pinned.example.org:${server.port}/.well-known/siwe-keys.txt`]);
      const wrong = await checker.check('pinned.example.org', 'siwe-keys-other');
      expect(wrong.ok).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('gives up on a server that never answers, within its timeout', async () => {
    const server = await startLocalServer(() => undefined);
    try {
      const resolver: DomainResolver = { txt: () => new Promise(() => undefined), addresses: async () => ['127.0.0.1'] };
      const checker = createDomainChecker(resolver, pinnedProofFetcher, {
        allowPrivate: true,
        httpScheme: 'http',
        httpPort: server.port,
        timeoutMs: 300,
      });
      const res = await checker.check('slow.example.org', 'siwe-keys-abc');
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.reasons.join(' ')).toMatch(/timed out/);
    } finally {
      await server.close();
    }
  });
});
