import type { OpenAPIHono } from '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isLoopback } from '../src/services/ops.js';
import { get, json, sqliteTarget, targets, type Harness } from './support/harness.js';
import { startRealServer } from './support/server.js';
import type { ErrorBody } from './support/responses.js';

describe.each(targets())('unauthenticated endpoints on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => h.close());

  it.each(['/healthz', '/openapi.json', '/docs', '/.well-known/jwks.json'])('%s carries nosniff and no-framing headers', async (path) => {
    const res = await get(h, path);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    await res.arrayBuffer();
  });

  it('keeps the JWKS cacheable', async () => {
    expect((await get(h, '/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('serves the same OpenAPI document on every request', async () => {
    const a = await (await get(h, '/openapi.json')).text();
    const b = await (await get(h, '/openapi.json')).text();
    expect(b).toBe(a);
    expect(JSON.parse(a).paths['/v1/verify']).toBeDefined();
    expect((await get(h, '/openapi.json')).headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('the OpenAPI document is built once', () => {
  it('builds it on first use and serves /openapi.json and /docs from memory afterwards', async () => {
    const h = await sqliteTarget.start();
    // An instance property (not on the prototype): watch the app the service serves.
    const spy = vi.spyOn(h.service!.app as OpenAPIHono, 'getOpenAPI31Document');
    try {
      for (let i = 0; i < 3; i++) {
        expect((await get(h, '/openapi.json')).status).toBe(200);
        expect((await get(h, '/docs')).status).toBe(200);
      }
      expect(spy).toHaveBeenCalledTimes(1);
      expect(await (await get(h, '/docs')).text()).toContain('/v1/verify');
    } finally {
      spy.mockRestore();
      await h.close();
    }
  });
});

describe('/metrics without METRICS_TOKEN answers loopback clients only', () => {
  it('recognises loopback addresses and nothing else', () => {
    for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(ip), ip).toBe(true);
    for (const ip of [null, '', '10.0.0.1', '128.0.0.1', '::2', '1127.0.0.1', '127.0.0.1.example.org', '203.0.113.7'])
      expect(isLoopback(ip), String(ip)).toBe(false);
  });

  it('refuses a request with no known client address (403 forbidden)', async () => {
    const h = await sqliteTarget.start();
    try {
      const res = await get(h, '/metrics');
      expect(res.status).toBe(403);
      expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    } finally {
      await h.close();
    }
  });

  describe('on the real Node server', () => {
    let srv: Awaited<ReturnType<typeof startRealServer>>;
    beforeAll(async () => {
      // The test talks from 127.0.0.1; trusting it as a proxy lets the test play a remote client.
      srv = await startRealServer({ TRUST_PROXY: '127.0.0.1' });
    });
    afterAll(async () => srv.close());

    it('answers a loopback client', async () => {
      const res = await get(srv.h, '/metrics');
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('siwe_keys_');
    });

    it('refuses a remote client, even through a trusted proxy', async () => {
      const res = await srv.h.request('/metrics', { headers: { 'x-forwarded-for': '203.0.113.7' } });
      expect(res.status).toBe(403);
      expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    });
  });

  describe('with METRICS_TOKEN set', () => {
    let srv: Awaited<ReturnType<typeof startRealServer>>;
    beforeAll(async () => {
      srv = await startRealServer({ METRICS_TOKEN: 'metrics-token-0123456789' });
    });
    afterAll(async () => srv.close());

    it('needs the bearer token even from loopback, and accepts only the exact token', async () => {
      expect((await get(srv.h, '/metrics')).status).toBe(401);
      expect((await get(srv.h, '/metrics', 'metrics-token-012345678')).status).toBe(401);
      expect((await get(srv.h, '/metrics', 'metrics-token-01234567890')).status).toBe(401);
      expect((await get(srv.h, '/metrics', 'metrics-token-0123456789')).status).toBe(200);
    });
  });
});
