import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SignJWT,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  calculateJwkThumbprint,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { getAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  ADMIN_ACCOUNT,
  TEST_ORIGIN,
  get,
  json,
  newWallet,
  post,
  signIn,
  signInAdmin,
  siweText,
  sqliteTarget,
  targets,
  type Harness,
} from './support/harness.js';
import type { Account, ErrorBody, Jwks, Nonce, Session } from './support/responses.js';

const b64url = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function parts(token: string): { header: Record<string, unknown>; payload: JWTPayload; signature: string } {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
    signature: s,
  };
}

async function me(h: Harness, token: string): Promise<Response> {
  return get(h, '/v1/me', token);
}

async function expectInvalidSession(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  const body = await json<ErrorBody>(res);
  expect(body.error.code).toBe('invalid_session');
  expect(body.error.type).toBe('auth_error');
  expect(res.headers.get('x-request-id')).toBe(body.error.request_id);
}

/** The service's own active private key, read from its database (as an insider with DB access could). */
async function activePrivateKey(h: Harness): Promise<{ kid: string; key: CryptoKey }> {
  const row = await h
    .service!.db.selectFrom('signing_keys')
    .selectAll()
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .executeTakeFirstOrThrow();
  return { kid: row.kid, key: (await importJWK(JSON.parse(row.private_jwk) as JWK, 'ES256')) as CryptoKey };
}

describe.each(targets())('session tokens on $name', (target) => {
  let h: Harness;

  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => h.close());

  it('issues an ES256 JWT with typ, kid, iss, aud, checksummed sub, sid, iat, exp and roles', async () => {
    const s = await signIn(h);
    const header = decodeProtectedHeader(s.token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(typeof header.kid).toBe('string');
    const claims = decodeJwt(s.token);
    // Without a movable clock (Workers) the service runs on real time: take its iat, checked to be now.
    const nowSec = h.clock ? Math.floor(h.clock.now().getTime() / 1000) : (claims.iat as number);
    if (!h.clock) expect(Math.abs(nowSec - Date.now() / 1000)).toBeLessThan(300);
    expect(claims.iss).toBe(TEST_ORIGIN);
    expect(claims.aud).toBe(TEST_ORIGIN);
    expect(claims.sub).toBe(getAddress(s.address));
    expect(claims.sub).toBe(s.address);
    expect(claims.sid).toMatch(/^ses_[A-Za-z0-9]+$/);
    expect(claims.iat).toBe(nowSec);
    expect(claims.exp).toBe(nowSec + 86400);
    expect(claims.roles).toEqual(['user']);
    expect(s.body.expires_at).toBe(new Date((nowSec + 86400) * 1000).toISOString());
  });

  it('gives role admin to ADMIN_ADDRESSES, in the token and in /v1/me', async () => {
    const s = await signInAdmin(h);
    expect(s.address).toBe(ADMIN_ACCOUNT.address);
    expect(decodeJwt(s.token).roles).toEqual(['user', 'admin']);
    expect((await json<Account>(await me(h, s.token))).roles).toEqual(['user', 'admin']);
    expect((await json<Account>(await me(h, (await signIn(h)).token))).roles).toEqual(['user']);
  });

  it('refuses a token whose claims were edited and re-encoded with the old signature', async () => {
    const s = await signIn(h);
    expect((await me(h, s.token)).status).toBe(200);
    const { header, payload, signature } = parts(s.token);
    const edits: JWTPayload[] = [
      { ...payload, roles: ['user', 'admin'] },
      { ...payload, sub: ADMIN_ACCOUNT.address },
      { ...payload, exp: (payload.exp as number) + 365 * 86400 },
    ];
    for (const edited of edits) {
      await expectInvalidSession(await me(h, `${b64url(header)}.${b64url(edited)}.${signature}`));
    }
  });

  it('refuses an alg none token', async () => {
    const s = await signIn(h);
    const { header, payload } = parts(s.token);
    for (const alg of ['none', 'None', 'NONE']) {
      await expectInvalidSession(await me(h, `${b64url({ ...header, alg })}.${b64url(payload)}.`));
    }
  });

  it('refuses an HS256 token keyed with the public key bytes (key confusion)', async () => {
    const s = await signIn(h);
    const { header, payload } = parts(s.token);
    const jwks = await json<{ keys: JWK[] }>(await get(h, '/.well-known/jwks.json'));
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    const pem = await exportSPKI((await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey);
    for (const secret of [pem, JSON.stringify(jwk), JSON.stringify(jwks)]) {
      const forged = await new SignJWT({ ...payload, roles: ['user', 'admin'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: header.kid as string })
        .sign(new TextEncoder().encode(secret));
      await expectInvalidSession(await me(h, forged));
    }
  });

  it('accepts a token it did not issue only if iss, aud and typ are its own (signed with the real key)', async ({ skip }) => {
    if (!h.service) skip(); // needs the private key from the database
    const s = await signIn(h);
    const { payload } = parts(s.token);
    const { kid, key } = await activePrivateKey(h);
    const make = (over: { iss?: string; aud?: string; typ?: string }) =>
      new SignJWT({ sid: payload.sid, roles: payload.roles })
        .setProtectedHeader({ alg: 'ES256', typ: over.typ ?? 'JWT', kid })
        .setIssuer(over.iss ?? TEST_ORIGIN)
        .setAudience(over.aud ?? TEST_ORIGIN)
        .setSubject(payload.sub as string)
        .setIssuedAt(payload.iat as number)
        .setExpirationTime(payload.exp as number)
        .sign(key);
    // Control: the same construction with the right claims works, so each refusal below is due to its one change.
    expect((await me(h, await make({}))).status).toBe(200);
    await expectInvalidSession(await me(h, await make({ iss: 'https://evil.example' })));
    await expectInvalidSession(await me(h, await make({ aud: 'https://other-service.example' })));
    await expectInvalidSession(await me(h, await make({ typ: 'at+jwt' })));
  });

  it('refuses a token whose sub does not own its sid', async ({ skip }) => {
    if (!h.service) skip(); // needs the private key from the database
    const victim = await signIn(h);
    const attacker = await signIn(h);
    const { kid, key } = await activePrivateKey(h);
    const { payload } = parts(attacker.token);
    const forged = await new SignJWT({ sid: payload.sid, roles: payload.roles })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
      .setIssuer(TEST_ORIGIN)
      .setAudience(TEST_ORIGIN)
      .setSubject(victim.address)
      .setIssuedAt(payload.iat as number)
      .setExpirationTime(payload.exp as number)
      .sign(key);
    await expectInvalidSession(await me(h, forged));
  });

  it('refuses a token signed by a key that is not in its JWKS', async () => {
    const s = await signIn(h);
    const { header, payload } = parts(s.token);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: header.kid as string }).sign(privateKey);
    await expectInvalidSession(await me(h, forged));
  });

  it('refuses missing, malformed and non-bearer authorization', async () => {
    const s = await signIn(h);
    await expectInvalidSession(await h.request('/v1/me'));
    await expectInvalidSession(await me(h, 'not.a.jwt'));
    await expectInvalidSession(await me(h, s.token.slice(0, -4)));
    await expectInvalidSession(await h.request('/v1/me', { headers: { authorization: `Basic ${s.token}` } }));
  });

  it('refuses an expired token once the clock passes its exp', async ({ skip }) => {
    if (!h.clock) skip();
    const s = await signIn(h);
    expect((await me(h, s.token)).status).toBe(200);
    h.clock!.advance(86400 * 1000 + 1000);
    await expectInvalidSession(await me(h, s.token));
  });

  it('caps the session at the message Expiration Time', async () => {
    const wallet = newWallet();
    const nonceRes = await json<Nonce>(await get(h, '/v1/auth/nonce'));
    const now = h.clock?.now() ?? new Date();
    const message = siweText(wallet.address, nonceRes.nonce, now, { expirationTime: new Date(now.getTime() + 600_000).toISOString() });
    const res = await post(h, '/v1/auth/verify', { message, signature: await wallet.signMessage({ message }) });
    expect(res.status).toBe(200);
    const { token } = await json<Session>(res);
    expect(decodeJwt(token).exp).toBe(Math.floor((now.getTime() + 600_000) / 1000));
    if (!h.clock) return; // the rest needs a movable clock
    h.clock.advance(601_000);
    await expectInvalidSession(await me(h, token));
  });

  it('revokes the session at once on logout', async () => {
    const s = await signIn(h);
    const other = await signIn(h, s.account);
    expect((await me(h, s.token)).status).toBe(200);
    const res = await post(h, '/v1/auth/logout', {}, s.token);
    expect(res.status).toBe(204);
    await expectInvalidSession(await me(h, s.token));
    await expectInvalidSession(await post(h, '/v1/auth/logout', {}, s.token));
    // Only that session: the same wallet's other session still works.
    expect((await me(h, other.token)).status).toBe(200);
  });

  it("revokes every session of the account on logout-all, and no other account's", async () => {
    const wallet = newWallet();
    const a1 = await signIn(h, wallet);
    const a2 = await signIn(h, wallet);
    const a3 = await signIn(h, wallet);
    const b = await signIn(h);
    expect((await post(h, '/v1/auth/logout-all', {}, a2.token)).status).toBe(204);
    for (const t of [a1.token, a2.token, a3.token]) await expectInvalidSession(await me(h, t));
    expect((await me(h, b.token)).status).toBe(200);
    // Signing in again afterwards gives a working session.
    expect((await me(h, (await signIn(h, wallet)).token)).status).toBe(200);
  });

  it('publishes a JWKS that verifies a token offline and holds no private material', async () => {
    const s = await signIn(h);
    const res = await get(h, '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    const jwks = await json<{ keys: JWK[] }>(res);
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(secret);
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(typeof k.kid).toBe('string');
    }
    const { payload, protectedHeader } = await jwtVerify(s.token, createLocalJWKSet(jwks), {
      issuer: TEST_ORIGIN,
      audience: TEST_ORIGIN,
      algorithms: ['ES256'],
      currentDate: h.clock?.now(),
    });
    expect(payload.sub).toBe(s.address);
    expect(protectedHeader.kid).toBe(jwks.keys[0].kid);
  });
});

describe('session signing key persistence (SQLite file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-sessions-'));
  let n = 0;
  // One database file per test, shared only by that test's two service instances.
  const fileEnv = () => ({ DATABASE_URL: `file:${join(dir, `keys-${++n}.db`)}` });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the signing key across a restart, so old tokens stay valid', async () => {
    const env = fileEnv();
    const clock = new ManualClock(new Date());
    const first = await sqliteTarget.start({ env, clock });
    const s = await signIn(first);
    const jwks1 = await json<Jwks>(await get(first, '/.well-known/jwks.json'));
    await first.close();

    const second = await sqliteTarget.start({ env, clock });
    try {
      expect(second.service).not.toBe(first.service);
      expect(await json<Jwks>(await get(second, '/.well-known/jwks.json'))).toEqual(jwks1);
      const res = await me(second, s.token);
      expect(res.status).toBe(200);
      expect((await json<Account>(res)).address).toBe(s.address);
    } finally {
      await second.close();
    }
  });

  it('switches to a configured JWT_PRIVATE_KEY on restart while tokens of the old key stay valid', async () => {
    const env = fileEnv();
    const clock = new ManualClock(new Date());
    const first = await sqliteTarget.start({ env, clock });
    const before = await signIn(first);
    await first.close();

    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const second = await sqliteTarget.start({ env: { ...env, JWT_PRIVATE_KEY: pem }, clock });
    try {
      const after = await signIn(second);
      const configuredKid = await calculateJwkThumbprint(await exportJWK(publicKey));
      expect(decodeProtectedHeader(after.token).kid).toBe(configuredKid);
      // The new token is signed by the configured key, verifiable with nothing but its public half.
      await jwtVerify(after.token, publicKey, { issuer: TEST_ORIGIN, audience: TEST_ORIGIN, currentDate: clock.now() });
      const kids = (await json<{ keys: JWK[] }>(await get(second, '/.well-known/jwks.json'))).keys.map((k) => k.kid);
      expect(kids).toContain(configuredKid);
      expect(kids).toContain(decodeProtectedHeader(before.token).kid);
      expect((await me(second, before.token)).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('keeps revocations across a restart', async () => {
    const env = fileEnv();
    const clock = new ManualClock(new Date());
    const first = await sqliteTarget.start({ env, clock });
    const s = await signIn(first);
    expect((await post(first, '/v1/auth/logout', {}, s.token)).status).toBe(204);
    await first.close();
    const second = await sqliteTarget.start({ env, clock });
    try {
      await expectInvalidSession(await me(second, s.token));
    } finally {
      await second.close();
    }
  });
});
