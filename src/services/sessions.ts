import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import {
  activateSigningKey,
  forgetRetiredPrivateKeys,
  insertFirstSigningKey,
  listSigningKeys,
  rewritePrivateJwk,
} from '../db/repositories/signing-keys.js';
import { EXTERNAL_KEY, importKek, isEncrypted, openJwk, sealJwk } from './key-encryption.js';
import { findSession } from '../db/repositories/sessions.js';
import { AppError } from '../errors.js';

/** Pinned: tokens with any other `alg` (including `none` and HS256 key confusion) are refused. */
export const SESSION_ALG = 'ES256';
const TOKEN_TYPE = 'JWT';
const RELOAD_INTERVAL_MS = 1_000;

export interface SessionClaims {
  address: `0x${string}`;
  sid: string;
  roles: string[];
  exp: number;
}

interface LoadedKey {
  kid: string;
  privateKey: CryptoKey | null;
  publicKey: CryptoKey;
  publicJwk: JWK;
  retiredAt: number | null;
}

export interface SessionSigner {
  /** `issuedAt`: the moment the expiry was computed from, so `exp - iat` is exactly the session's lifetime. */
  sign(claims: { address: string; sid: string; roles: string[]; expiresAt: Date; issuedAt?: Date }): Promise<string>;
  /** Verifies signature, alg, typ, iss, aud and exp, then that the session row is live. */
  verify(token: string): Promise<SessionClaims>;
  jwks(): { keys: JWK[] };
  /** Generates a new signing key; tokens signed by older keys verify until they expire. */
  rotate(): Promise<string>;
}

async function publicJwkOf(privateJwk: JWK): Promise<JWK> {
  const { d: _d, ...pub } = privateJwk;
  return { ...pub, alg: SESSION_ALG, use: 'sig' };
}

async function importConfiguredKey(material: string): Promise<JWK> {
  const trimmed = material.trim();
  const key = trimmed.startsWith('{')
    ? ((await importJWK(JSON.parse(trimmed) as JWK, SESSION_ALG, { extractable: true })) as CryptoKey)
    : await importPKCS8(trimmed, SESSION_ALG, { extractable: true });
  return exportJWK(key);
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SESSION_ALG, { extractable: true });
  return exportJWK(privateKey);
}

interface ConfiguredKey {
  kid: string;
  privateKey: CryptoKey;
}

async function toLoaded(
  row: { kid: string; private_jwk: string; public_jwk: string; retired_at: number | null; active: number | null },
  kek: CryptoKey | null,
  configured: ConfiguredKey | null,
): Promise<LoadedKey> {
  const publicJwk = JSON.parse(row.public_jwk) as JWK;
  let privateKey: CryptoKey | null = null;
  if (row.active === 1) {
    const jwk = await openJwk(row.private_jwk, kek, row.kid);
    // Not stored: the key is JWT_PRIVATE_KEY's, which only a process that was given it holds.
    if (jwk) privateKey = (await importJWK(jwk, SESSION_ALG)) as CryptoKey;
    else if (configured?.kid === row.kid) privateKey = configured.privateKey;
  }
  return {
    kid: row.kid,
    privateKey,
    publicKey: (await importJWK(publicJwk, SESSION_ALG)) as CryptoKey,
    publicJwk,
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  };
}

export async function createSessionSigner(opts: {
  db: Kysely<Database>;
  clock: Clock;
  issuer: string;
  audience: string;
  sessionTtlSeconds: number;
  configuredPrivateKey?: string;
  /** KEY_ENCRYPTION_KEY (base64 of 32 bytes): generated keys are stored encrypted with it. */
  keyEncryptionKey?: string;
}): Promise<SessionSigner> {
  const { db, clock, issuer, audience } = opts;
  let keys: LoadedKey[] = [];
  let lastReload = 0;
  const kek = opts.keyEncryptionKey ? await importKek(opts.keyEncryptionKey) : null;
  let configured: ConfiguredKey | null = null;

  /** The row for a key; a supplied key (JWT_PRIVATE_KEY) is never written, a generated one sealed if a KEK is set. */
  async function keyRow(
    privateJwk: JWK,
    source: 'supplied' | 'generated',
  ): Promise<{ kid: string; alg: string; private_jwk: string; public_jwk: string; created_at: number }> {
    const publicJwk = await publicJwkOf(privateJwk);
    const kid = await calculateJwkThumbprint(publicJwk);
    const stored = source === 'supplied' ? EXTERNAL_KEY : kek ? await sealJwk(privateJwk, kek, kid) : JSON.stringify(privateJwk);
    return {
      kid,
      alg: SESSION_ALG,
      private_jwk: stored,
      public_jwk: JSON.stringify({ ...publicJwk, kid }),
      created_at: clock.now().getTime(),
    };
  }

  async function reload(): Promise<void> {
    const rows = await listSigningKeys(db);
    // Retired keys stay published for one session lifetime so tokens they signed still verify.
    const horizon = clock.now().getTime() - opts.sessionTtlSeconds * 1000;
    const live = rows.filter((r) => r.retired_at === null || Number(r.retired_at) > horizon);
    // The active key first: it signs; the rest only verify.
    live.sort((a, b) => (b.active ?? 0) - (a.active ?? 0));
    keys = await Promise.all(live.map((r) => toLoaded(r, kek, configured)));
    lastReload = clock.now().getTime();
  }

  if (opts.configuredPrivateKey) {
    const jwk = await importConfiguredKey(opts.configuredPrivateKey);
    const row = await keyRow(jwk, 'supplied');
    configured = { kid: row.kid, privateKey: (await importJWK(jwk, SESSION_ALG)) as CryptoKey };
    await activateSigningKey(db, row, clock.now().getTime());
  }
  await forgetRetiredPrivateKeys(db);
  await reload();
  if (!keys.some((k) => k.privateKey)) {
    const row = await keyRow(await newPrivateJwk(), 'generated');
    const rows = await listSigningKeys(db);
    // The active key was JWT_PRIVATE_KEY's and this process was not given it: sign with a new one
    // (the old one keeps verifying its tokens); on an empty database, the first instance's key wins.
    if (rows.some((r) => r.active === 1 && r.private_jwk === EXTERNAL_KEY)) await activateSigningKey(db, row, clock.now().getTime());
    else await insertFirstSigningKey(db, row);
    await reload();
  }
  if (kek) {
    // Rows written before the KEK was set are encrypted now (the plaintext one is replaced).
    for (const r of await listSigningKeys(db)) {
      if (r.active === 1 && r.private_jwk !== EXTERNAL_KEY && !isEncrypted(r.private_jwk)) {
        await rewritePrivateJwk(db, r.kid, r.private_jwk, await sealJwk(JSON.parse(r.private_jwk) as JWK, kek, r.kid));
      }
    }
  }

  function activeKey(): LoadedKey {
    const k = keys.find((x) => x.privateKey !== null);
    if (!k) throw new AppError('internal_error', 'No active session signing key.');
    return k;
  }

  return {
    async sign({ address, sid, roles, expiresAt, issuedAt }) {
      // Pick up a rotation done by another instance within a minute.
      if (clock.now().getTime() - lastReload > 60_000) await reload();
      const key = activeKey();
      const now = issuedAt ?? clock.now();
      return new SignJWT({ sid, roles })
        .setProtectedHeader({ alg: SESSION_ALG, kid: key.kid, typ: TOKEN_TYPE })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(address)
        .setIssuedAt(Math.floor(now.getTime() / 1000))
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(key.privateKey as CryptoKey);
    },

    async verify(token) {
      let payload: JWTPayload;
      try {
        const res = await jwtVerify(
          token,
          async (header) => {
            let k = keys.find((x) => x.kid === header.kid);
            // Another instance may have rotated the signing key: reload, at most every few seconds.
            if (!k && clock.now().getTime() - lastReload > RELOAD_INTERVAL_MS) {
              await reload();
              k = keys.find((x) => x.kid === header.kid);
            }
            if (!k) throw new Error('unknown kid');
            return k.publicKey;
          },
          {
            algorithms: [SESSION_ALG],
            issuer,
            audience,
            typ: TOKEN_TYPE,
            currentDate: clock.now(),
            requiredClaims: ['sub', 'sid', 'exp', 'iat'],
          },
        );
        payload = res.payload;
      } catch {
        throw new AppError('invalid_session');
      }
      const sid = payload.sid;
      const sub = payload.sub;
      const roles = payload.roles;
      if (typeof sid !== 'string' || typeof sub !== 'string' || !Array.isArray(roles)) {
        throw new AppError('invalid_session');
      }
      // Why: JWTs are otherwise valid until exp; the session row makes logout take effect at once.
      const row = await findSession(db, sid);
      const now = clock.now().getTime();
      if (!row || row.revoked_at !== null || Number(row.expires_at) <= now || row.address !== sub) {
        throw new AppError('invalid_session');
      }
      return { address: sub as `0x${string}`, sid, roles: roles.map(String), exp: payload.exp as number };
    },

    jwks() {
      return { keys: keys.map((k) => k.publicJwk) };
    },

    async rotate() {
      const row = await keyRow(await newPrivateJwk(), 'generated');
      await activateSigningKey(db, row, clock.now().getTime());
      await reload();
      return row.kid;
    },
  };
}
