import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_PATH, renderConsoleModule } from '../scripts/build-console.js';
import { CONSOLE_CSS_PATH, CONSOLE_JS_PATH } from '../src/web/assets.generated.js';
import { TEST_ORIGIN, get, json, sqliteTarget, type Harness } from './support/harness.js';

describe('console routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await sqliteTarget.start({ env: { SIWE_CHAIN_IDS: '1,8453', TRIAL_CREDITS: '2500' } });
  });
  afterAll(async () => h.close());

  it('serves the console page under a strict Content-Security-Policy with no inline script', async () => {
    const res = await get(h, '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    // Every <script> has a src on this origin; no inline handlers or styles.
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).toEqual([`<script type="module" src="${CONSOLE_JS_PATH}">`]);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/<style|style=/i);
  });

  it('serves content-hashed assets with their types and a long cache', async () => {
    const js = await get(h, CONSOLE_JS_PATH);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await get(h, CONSOLE_CSS_PATH);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await get(h, '/assets/console-000000000000.js')).status).toBe(404);
  });

  it('tells the console the origin, SIWE domains and chain ids it must sign in with', async () => {
    const res = await get(h, '/console/config.json');
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      origin: TEST_ORIGIN,
      domains: ['localhost:8787'],
      chain_ids: [1, 8453],
      trial_credits: 2500,
      key_prefix: 'sk',
    });
  });

  it('leaves the API responses without the console headers', async () => {
    const res = await get(h, '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBeNull();
  });

  it('has a generated assets module that matches src/web (run `npm run build` when this fails)', async () => {
    // Compared as a boolean: the module is one long line and a diff of it helps nobody.
    const fresh = (await readFile(GENERATED_PATH, 'utf8')) === (await renderConsoleModule());
    expect(fresh, 'src/web/assets.generated.ts is stale: run `npm run build`').toBe(true);
  });
});
