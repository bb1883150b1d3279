import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { countNonces } from '../src/db/repositories/nonces.js';
import { rateLimitKey } from '../src/ip-prefix.js';
import { get, json, newWallet, post, siweText, targets, type Harness } from './support/harness.js';
import { createPgTestDatabase } from './support/postgres.js';
import { startRealServer } from './support/server.js';
import type { ErrorBody, Nonce } from './support/responses.js';

/**
 * Sign-in stays available under a nonce flood (issue 12, item 4): nonces are stateless until used,
 * so no table fills up, and per-IP limits count an IPv6 client per /64.
 */

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

async function signInFrom(h: Harness, headers: Record<string, string> = {}) {
  const wallet = newWallet();
  const nonceRes = await h.request('/v1/auth/nonce', { headers });
  expect(nonceRes.status).toBe(200);
  const { nonce } = await json<Nonce>(nonceRes);
  const message = siweText(wallet.address, nonce, new Date());
  const signature = await wallet.signMessage({ message });
  const res = await post(h, '/v1/auth/verify', { message, signature }, undefined, headers);
  return { res, message, signature };
}

describe('rate-limit keys', () => {
  it('groups IPv6 addresses by their /64 and keeps IPv4 addresses apart', () => {
    expect(rateLimitKey('2001:db8:1:2::1', 64)).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(rateLimitKey('2001:db8:1:2:ffff:eeee:dddd:cccc', 64)).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(rateLimitKey('2001:0DB8:0001:0002:0000:0000:0000:0009', 64)).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(rateLimitKey('2001:db8:1:3::1', 64)).not.toBe(rateLimitKey('2001:db8:1:2::1', 64));
    expect(rateLimitKey('2001:db8:1:2::1', 48)).toBe(rateLimitKey('2001:db8:1:3::1', 48));
    expect(rateLimitKey('2001:db8:1:2::1', 128)).not.toBe(rateLimitKey('2001:db8:1:2::2', 128));
    expect(rateLimitKey('2001:db8:1:2::1', 60)).toBe('2001:db8:1:0:0:0:0:0/60');
    expect(rateLimitKey('198.51.100.1', 64)).toBe('198.51.100.1');
    expect(rateLimitKey(null, 64)).toBeNull();
  });

  it('validates IPV6_RATE_LIMIT_PREFIX', () => {
    expect(loadConfig({ DATABASE_URL: ':memory:' }).ipv6RateLimitPrefix).toBe(64);
    expect(loadConfig({ DATABASE_URL: ':memory:', IPV6_RATE_LIMIT_PREFIX: '56' }).ipv6RateLimitPrefix).toBe(56);
    for (const bad of ['0', '129', 'x', '64.5']) {
      expect(() => loadConfig({ DATABASE_URL: ':memory:', IPV6_RATE_LIMIT_PREFIX: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ DATABASE_URL: ':memory:', IPV6_RATE_LIMIT_PREFIX: bad })).toThrow(/IPV6_RATE_LIMIT_PREFIX/);
    }
  });
});

for (const target of targets()) {
  describe(`nonce flood without per-IP limits (${target.name})`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await target.start();
    }, 180_000);
    afterAll(async () => h?.close());

    it('still signs a fresh client in after 600 unused nonces, and refuses replays after the flood', async () => {
      const before = h.service ? await countNonces(h.service.db) : 0;
      const issued: string[] = [];
      await inBatches([...Array(600).keys()], 25, async () => {
        const res = await get(h, '/v1/auth/nonce');
        expect(res.status).toBe(200);
        issued.push((await json<Nonce>(res)).nonce);
      });
      expect(new Set(issued).size).toBe(600);
      // Nothing was stored for them.
      if (h.service) expect(await countNonces(h.service.db)).toBe(before);

      const fresh = await signInFrom(h);
      expect(fresh.res.status).toBe(200);
      const replay = await post(h, '/v1/auth/verify', { message: fresh.message, signature: fresh.signature });
      expect(replay.status).toBe(401);
      expect((await json<ErrorBody>(replay)).error.code).toBe('siwe_nonce_invalid');

      // A nonce from the flood works exactly once too.
      const wallet = newWallet();
      const message = siweText(wallet.address, issued[123], new Date());
      const signature = await wallet.signMessage({ message });
      expect((await post(h, '/v1/auth/verify', { message, signature })).status).toBe(200);
      const again = await post(h, '/v1/auth/verify', { message, signature });
      expect((await json<ErrorBody>(again)).error.code).toBe('siwe_nonce_invalid');
    }, 120_000);
  });
}

const pgUrl = process.env.TEST_POSTGRES_URL;
const realServers: { name: string; database: () => Promise<{ url?: string; drop(): Promise<void> }> }[] = [
  { name: 'node+sqlite over HTTP', database: async () => ({ drop: async () => undefined }) },
];
if (pgUrl) realServers.push({ name: 'node+postgres over HTTP', database: () => createPgTestDatabase(pgUrl) });

for (const server of realServers) {
  describe(`nonce flood from many addresses behind a trusted proxy (${server.name})`, () => {
    let srv: Awaited<ReturnType<typeof startRealServer>>;
    let db: { url?: string; drop(): Promise<void> };
    beforeAll(async () => {
      db = await server.database();
      srv = await startRealServer({
        NONCE_RATE_LIMIT: '3',
        SIGNIN_RATE_LIMIT: '3',
        TRUST_PROXY: '127.0.0.1',
        // The old global cap, set tiny: the flood would have filled it many times over.
        MAX_PENDING_NONCES: '50',
        ...(db.url ? { DATABASE_URL: db.url } : {}),
      });
    });
    afterAll(async () => {
      await srv?.close();
      await db?.drop();
    });

    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const nonceFrom = (ip: string) => srv.h.request('/v1/auth/nonce', { headers: from(ip) });

    it('limits each address and each IPv6 /64, and a fresh client still gets a nonce and signs in', async () => {
      const statuses = new Map<string, number[]>();
      const hit = async (ip: string): Promise<void> => {
        const res = await nonceFrom(ip);
        await res.arrayBuffer();
        statuses.set(ip, [...(statuses.get(ip) ?? []), res.status]);
      };
      // 150 IPv4 addresses, four requests each: the limits bite on the fourth.
      const v4 = [...Array(150).keys()].map((i) => `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`);
      for (let round = 0; round < 4; round++) await inBatches(v4, 25, hit);
      for (const ip of v4) expect(statuses.get(ip)).toEqual([200, 200, 200, 429]);

      // 200 different addresses of one IPv6 /64 share one limit: three nonces in all, not 600.
      const v6 = [...Array(200).keys()].map((i) => `2001:db8:dead:beef:${(i + 1).toString(16)}:${(i * 7).toString(16)}:0:1`);
      let ok = 0;
      await inBatches(v6, 25, async (ip) => {
        const res = await nonceFrom(ip);
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else expect(res.status).toBe(429);
      });
      expect(ok).toBe(3);
      // The neighbouring /64 is another subscriber and is not affected.
      expect((await nonceFrom('2001:db8:dead:bef0::1')).status).toBe(200);

      // Fresh clients, IPv4 and IPv6, still get a nonce and sign in.
      for (const ip of ['203.0.113.77', '2001:db8:cafe::5']) {
        const fresh = await signInFrom(srv.h, from(ip));
        expect(fresh.res.status).toBe(200);
        // Replaying the message after the flood is refused, from anywhere.
        const replay = await post(
          srv.h,
          '/v1/auth/verify',
          { message: fresh.message, signature: fresh.signature },
          undefined,
          from('203.0.113.78'),
        );
        expect(replay.status).toBe(401);
        expect((await json<ErrorBody>(replay)).error.code).toBe('siwe_nonce_invalid');
      }
    }, 120_000);

    it('counts sign-in attempts per /64 too', async () => {
      const wallet = newWallet();
      const nonce = (await json<Nonce>(await nonceFrom('192.0.2.200'))).nonce;
      const message = siweText(wallet.address, nonce, new Date());
      const signature = await wallet.signMessage({ message });
      const codes: number[] = [];
      for (let i = 1; i <= 5; i++) {
        const res = await post(srv.h, '/v1/auth/verify', { message, signature }, undefined, from(`2001:db8:aaaa:bbbb::${i}`));
        await res.arrayBuffer();
        codes.push(res.status);
      }
      // One success, two replays refused by the nonce, then the /64's limit.
      expect(codes).toEqual([200, 401, 401, 429, 429]);
    });
  });
}
