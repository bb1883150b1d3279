import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, json, signIn, targets, type Harness } from './support/harness.js';
import type { Account } from './support/responses.js';

describe.each(targets())('sign-in smoke on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => h.close());

  it('serves /healthz', async () => {
    const res = await get(h, '/healthz');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ ok: true });
  });

  it('signs in a viem account and returns it from /v1/me', async () => {
    const s = await signIn(h);
    const res = await get(h, '/v1/me', s.token);
    expect(res.status).toBe(200);
    const me = await json<Account>(res);
    expect(me.address).toBe(s.address);
    expect(me.plan).toBe('network');
    expect(me.roles).toEqual(['user']);
  });
});

describe.each(targets())('the console on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => h.close());

  it('serves the page and its script from the service itself, under a strict CSP', async () => {
    const { CONSOLE_JS_PATH } = await import('../src/web/assets.generated.js');
    const page = await get(h, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).toContain(CONSOLE_JS_PATH);
    const js = await get(h, CONSOLE_JS_PATH);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(10_000);
  });
});
