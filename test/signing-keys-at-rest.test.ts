import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../src/config.js';
import { createNodeService, type NodeService } from '../src/node.js';
import { ADMIN_ACCOUNT, TEST_ORIGIN, get, json, signIn, workersTarget, type Harness } from './support/harness.js';
import { createPgTestDatabase } from './support/postgres.js';
import type { Account, Jwks } from './support/responses.js';

const kek = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');

interface Db {
  url: string;
  drop(): Promise<void>;
}

const engines: [string, () => Promise<Db>][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-kek-'));
      return { url: `file:${join(dir, 'db.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
if (process.env.TEST_POSTGRES_URL) engines.push(['postgres', () => createPgTestDatabase(process.env.TEST_POSTGRES_URL as string)]);

async function start(url: string, env: Env = {}): Promise<{ svc: NodeService; h: Harness }> {
  const config = loadConfig({
    PUBLIC_URL: TEST_ORIGIN,
    DATABASE_URL: url,
    ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    LOG_LEVEL: 'silent',
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
    ...env,
  });
  const svc = await createNodeService(config);
  const h: Harness = {
    name: 'node',
    logs: [],
    request: async (p, init) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), init),
    close: () => svc.close(),
  };
  return { svc, h };
}

async function rows(svc: NodeService): Promise<{ kid: string; private_jwk: string; public_jwk: string; active: number | null }[]> {
  return svc.db.selectFrom('signing_keys').select(['kid', 'private_jwk', 'public_jwk', 'active']).execute();
}

describe.each(engines)('session signing keys at rest on %s', (_name, open) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => db.drop());

  it('stores no private key material when JWT_PRIVATE_KEY is given, and wipes a copy stored earlier', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const d = (await exportJWK(privateKey)).d as string;
    let { svc, h } = await start(db.url, { JWT_PRIVATE_KEY: pem });
    const s = await signIn(h);
    let all = await rows(svc);
    expect(all.filter((r) => r.active === 1)).toHaveLength(1);
    for (const r of all) {
      expect(r.private_jwk).toBe('');
      expect(r.public_jwk).not.toContain(d);
      expect(r.public_jwk).not.toContain('"d"');
    }
    // A row written by an older version held the private JWK: the next start removes it.
    const kid = all.find((r) => r.active === 1)!.kid;
    await svc.db
      .updateTable('signing_keys')
      .set({ private_jwk: JSON.stringify(await exportJWK(privateKey)) })
      .where('kid', '=', kid)
      .execute();
    await svc.close();
    ({ svc, h } = await start(db.url, { JWT_PRIVATE_KEY: pem }));
    all = await rows(svc);
    expect(all.every((r) => !r.private_jwk.includes(d))).toBe(true);
    expect((await get(h, '/v1/me', s.token)).status).toBe(200);
    expect((await get(h, '/v1/me', (await signIn(h)).token)).status).toBe(200);

    // Started without the supplied key, the service cannot sign with it (it is not stored): it
    // signs with a new generated key, and tokens of the supplied one still verify.
    await svc.close();
    ({ svc, h } = await start(db.url));
    expect((await get(h, '/v1/me', s.token)).status).toBe(200);
    const fresh = await signIn(h);
    expect((await get(h, '/v1/me', fresh.token)).status).toBe(200);
    all = await rows(svc);
    expect(all.find((r) => r.active === 1)!.kid).not.toBe(kid);
    expect(all.find((r) => r.kid === kid)!.private_jwk).toBe('');
    await svc.close();
  });
});

describe.each(engines)('generated signing keys with KEY_ENCRYPTION_KEY on %s', (_name, open) => {
  let db: Db;
  beforeEach(async () => {
    db = await open();
  });
  afterEach(async () => db.drop());

  it('stores the generated key as AES-GCM ciphertext and decrypts it after a restart', async () => {
    const k = kek();
    let { svc, h } = await start(db.url, { KEY_ENCRYPTION_KEY: k });
    const s = await signIn(h);
    const [row] = (await rows(svc)).filter((r) => r.active === 1);
    expect(row.private_jwk).toMatch(/^enc:v1:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(row.private_jwk).not.toContain('"d"');
    await svc.close();
    ({ svc, h } = await start(db.url, { KEY_ENCRYPTION_KEY: k }));
    expect((await get(h, '/v1/me', s.token)).status).toBe(200);
    const again = await signIn(h);
    expect((await get(h, '/v1/me', again.token)).status).toBe(200);
    expect((await rows(svc)).map((r) => r.kid)).toEqual([row.kid]); // the same key, not a new one
    // A rotation seals the new key too, and the retired one keeps no private half.
    await svc.deps.sessions.rotate();
    const after = await rows(svc);
    expect(after.find((r) => r.active === 1)!.private_jwk).toMatch(/^enc:v1:/);
    expect(after.find((r) => r.kid === row.kid)!.private_jwk).toBe('');
    await svc.close();
  });

  it('refuses to start with a wrong or missing KEY_ENCRYPTION_KEY, with one clear line', async () => {
    const { svc } = await start(db.url, { KEY_ENCRYPTION_KEY: kek() });
    await svc.close();
    const wrong = start(db.url, { KEY_ENCRYPTION_KEY: kek() });
    await expect(wrong).rejects.toBeInstanceOf(ConfigError);
    await expect(wrong).rejects.toThrow(
      /^invalid configuration: KEY_ENCRYPTION_KEY: cannot decrypt the stored session signing key \S+ \(wrong key\?\)$/,
    );
    await expect(start(db.url)).rejects.toThrow(
      /^invalid configuration: KEY_ENCRYPTION_KEY: the stored session signing key \S+ is encrypted/,
    );
  });

  it('reads a plaintext key stored before the KEK was set, then encrypts it in place', async () => {
    let { svc, h } = await start(db.url);
    const s = await signIn(h);
    const [plain] = (await rows(svc)).filter((r) => r.active === 1);
    expect(plain.private_jwk.startsWith('{')).toBe(true);
    await svc.close();
    ({ svc, h } = await start(db.url, { KEY_ENCRYPTION_KEY: kek() }));
    expect((await get(h, '/v1/me', s.token)).status).toBe(200);
    const [sealed] = (await rows(svc)).filter((r) => r.active === 1);
    expect(sealed.kid).toBe(plain.kid);
    expect(sealed.private_jwk).toMatch(/^enc:v1:/);
    await svc.close();
  });
});

describe('KEY_ENCRYPTION_KEY configuration', () => {
  it('accepts 32 bytes as standard or URL-safe base64', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    for (const v of [Buffer.from(bytes).toString('base64'), Buffer.from(bytes).toString('base64url')]) {
      expect(loadConfig({ KEY_ENCRYPTION_KEY: v }).keyEncryptionKey).toBe(v);
    }
  });

  it.each(['short', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), `${Buffer.alloc(32).toString('base64')}!`])(
    'refuses %s with one line naming the variable',
    (v) => {
      expect(() => loadConfig({ KEY_ENCRYPTION_KEY: v })).toThrow(
        /^invalid configuration: KEY_ENCRYPTION_KEY: expected 32 bytes as base64/,
      );
    },
  );
});

describe.skipIf(process.env.TEST_WORKERS !== '1')('KEY_ENCRYPTION_KEY on Workers+D1', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await workersTarget.start({ env: { KEY_ENCRYPTION_KEY: 'q0u8rYmX9b1m0Qx3xk2w8a6u3YV0o2Qn5n1c9yZ4tE8=' } });
  });
  afterAll(async () => h?.close());

  it('generates, seals and uses the signing key under workerd (Web Crypto AES-GCM)', async () => {
    const s = await signIn(h);
    expect((await json<Account>(await get(h, '/v1/me', s.token))).address).toBe(s.address);
    expect((await json<Jwks>(await get(h, '/.well-known/jwks.json'))).keys).toHaveLength(1);
  });
});
