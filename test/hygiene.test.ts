import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveClientIp } from '../src/client-ip.js';
import { get, json, post, signIn, sqliteTarget, type Harness } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName, verify } from './support/fixtures.js';
import { startRealServer } from './support/server.js';
import type { ErrorBody, Nonce } from './support/responses.js';

describe('HTTP hygiene', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await sqliteTarget.start({ env: { CORS_ORIGINS: 'https://dapp.example.org', METRICS_TOKEN: 'metrics-token-0123456789' } });
  });
  afterAll(async () => h.close());

  it('answers CORS only for configured origins on browser-facing routes', async () => {
    const pre = await h.request('/v1/keys', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://dapp.example.org',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://dapp.example.org');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const evil = await h.request('/v1/auth/nonce', { headers: { origin: 'https://evil.example.com' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const good = await h.request('/v1/auth/nonce', { headers: { origin: 'https://dapp.example.org' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('https://dapp.example.org');
    expect(good.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
    const op = await h.request('/v1/verify', {
      method: 'POST',
      headers: { origin: 'https://dapp.example.org', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(op.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends no CORS headers at all when no origins are configured', async () => {
    const plain = await sqliteTarget.start();
    try {
      const res = await plain.request('/v1/auth/nonce', { headers: { origin: 'https://dapp.example.org' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it('marks API responses no-store, nosniff and unframeable, errors included', async () => {
    const s = await signIn(h);
    for (const res of [
      await get(h, '/v1/me', s.token),
      await get(h, '/v1/keys/nope', s.token),
      await post(h, '/v1/keys', { name: 'x' }, s.token),
    ]) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('exposes Prometheus metrics behind METRICS_TOKEN', async () => {
    const s = await signIn(h);
    const domainToken = (await createDomain(h, s.token, uniqueDomainName('metrics'))).token;
    const k = await createKey(h, s.token, { name: 'metered' });
    await verify(h, domainToken, { key: k.key });
    await verify(h, domainToken, { key: 'sk_net_nope' });
    await post(h, '/v1/usage', { key_id: k.id, request_id: 'm-1', cost: 3 }, domainToken);
    await post(h, '/v1/auth/verify', { message: 'junk', signature: '0x00' });
    expect((await get(h, '/metrics')).status).toBe(401);
    expect((await get(h, '/metrics', 'wrong-token-0123456789')).status).toBe(401);
    const res = await get(h, '/metrics', 'metrics-token-0123456789');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const text = await res.text();
    expect(text).toContain('siwe_keys_verifications_total{code="valid",visibility="network"} 1');
    expect(text).toContain('siwe_keys_verifications_total{code="malformed",visibility="network"} 1');
    expect(text).toMatch(/siwe_keys_sign_ins_total\{result="ok"\} \d+/);
    expect(text).toContain('siwe_keys_sign_ins_total{result="invalid_siwe_message"} 1');
    expect(text).toContain('siwe_keys_credits_charged_total{source="usage"} 3');
    expect(text).toMatch(/siwe_keys_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/verify",status="2xx",le="\+Inf"\} 2/);
    // Ids never become labels.
    expect(text).not.toContain(k.id);
  });
});

describe('abuse limits', () => {
  it('limits nonce requests per client IP with 429 and Retry-After', async () => {
    const h = await sqliteTarget.start({ env: { NONCE_RATE_LIMIT: '3' } });
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await get(h, '/v1/auth/nonce')).status);
      expect(codes).toEqual([200, 200, 200, 429]);
      const res = await get(h, '/v1/auth/nonce');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
      h.clock!.advance(60_000);
      expect((await get(h, '/v1/auth/nonce')).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('limits sign-in attempts per client IP, counting failures too', async () => {
    const h = await sqliteTarget.start({ env: { SIGNIN_RATE_LIMIT: '2' } });
    try {
      expect((await post(h, '/v1/auth/verify', { message: 'x', signature: '0x00' })).status).toBe(400);
      expect((await post(h, '/v1/auth/verify', { message: 'x', signature: '0x00' })).status).toBe(400);
      const third = await post(h, '/v1/auth/verify', { message: 'x', signature: '0x00' });
      expect(third.status).toBe(429);
      await expect(signIn(h)).rejects.toThrow(/429/);
    } finally {
      await h.close();
    }
  });

  it('keeps per-IP windows apart on the real server behind a trusted proxy', async () => {
    const srv = await startRealServer({ NONCE_RATE_LIMIT: '2', TRUST_PROXY: '127.0.0.1' });
    try {
      const from = (ip: string) => srv.h.request('/v1/auth/nonce', { headers: { 'x-forwarded-for': ip } });
      expect((await from('198.51.100.1')).status).toBe(200);
      expect((await from('198.51.100.1')).status).toBe(200);
      expect((await from('198.51.100.1')).status).toBe(429);
      expect((await from('198.51.100.2')).status).toBe(200);
      // A client cannot escape by prepending a forged hop: the proxy appends the real address.
      expect((await from('203.0.113.9, 198.51.100.1')).status).toBe(429);
    } finally {
      await srv.close();
    }
  });

  it('ignores X-Forwarded-For from untrusted peers', async () => {
    const srv = await startRealServer({ NONCE_RATE_LIMIT: '1' });
    try {
      expect((await srv.h.request('/v1/auth/nonce', { headers: { 'x-forwarded-for': '198.51.100.7' } })).status).toBe(200);
      expect((await srv.h.request('/v1/auth/nonce', { headers: { 'x-forwarded-for': '198.51.100.8' } })).status).toBe(429);
    } finally {
      await srv.close();
    }
  });

  it('keeps issuing nonces however many are pending (stateless: no table to fill)', async () => {
    // The old global cap (MAX_PENDING_NONCES) could be filled to lock everyone out; it no longer applies.
    const h = await sqliteTarget.start({ env: { MAX_PENDING_NONCES: '3' } });
    try {
      for (let i = 0; i < 10; i++) expect((await get(h, '/v1/auth/nonce')).status).toBe(200);
      const nonce = (await json<Nonce>(await get(h, '/v1/auth/nonce'))).nonce as string;
      expect(nonce).toMatch(/^[0-9A-Za-z]{48}$/);
    } finally {
      await h.close();
    }
  });

  it('resolves the client IP from trusted proxies only', () => {
    expect(resolveClientIp('10.0.0.5', '198.51.100.1', [])).toBe('10.0.0.5');
    expect(resolveClientIp('10.0.0.5', '198.51.100.1', ['10.0.0.5'])).toBe('198.51.100.1');
    expect(resolveClientIp('10.0.0.5', 'forged, 198.51.100.1, 10.0.0.4', ['10.0.0.5', '10.0.0.4'])).toBe('198.51.100.1');
    expect(resolveClientIp('::ffff:10.0.0.5', '198.51.100.1', ['*'])).toBe('198.51.100.1');
    expect(resolveClientIp('192.0.2.1', '198.51.100.1', ['10.0.0.5'])).toBe('192.0.2.1');
    expect(resolveClientIp(null, '198.51.100.1', ['*'])).toBeNull();
    // Junk a client wrote into the header is never taken as its address.
    expect(resolveClientIp('10.0.0.5', `${'x'.repeat(200)}, 198.51.100.1`, ['*'])).toBe('198.51.100.1');
    expect(resolveClientIp('10.0.0.5', 'not-an-ip', ['10.0.0.5'])).toBe('10.0.0.5');
  });
});
