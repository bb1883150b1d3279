import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  TestWallet,
  chromiumAvailable,
  launchChromium,
  openConsole,
  signInOnPage,
  screenshot,
  startServer,
  storedToken,
  type TestServer,
} from './support.js';
import type { Account, AdminStats, DomainWithToken, KeyWithSecret, VerifyResult } from '../support/responses.js';

/**
 * The analytics views with real data: verifications and usage reports go through the HTTP API,
 * then the console's charts and tables must show those numbers.
 */
describe.skipIf(!chromiumAvailable)('console analytics in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const admin = new TestWallet({ name: 'Admin Wallet', rdns: 'org.example.admin' });
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startServer({ ADMIN_ADDRESSES: admin.address, TRIAL_CREDITS: '100000' });
    browser = await launchChromium();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function signInWith(
    wallet: TestWallet,
    viewport = { width: 1280, height: 900 },
  ): Promise<{ page: Page; problems: string[]; token: string }> {
    const { context, page, problems } = await openConsole(browser, server.origin, [{ wallet }], { viewport, acceptDownloads: true });
    contexts.push(context);
    await signInOnPage(page, wallet);
    return { page, problems, token: (await storedToken(page)) as string };
  }

  async function call<T = unknown>(path: string, token: string, body?: unknown): Promise<T> {
    const res = await fetch(`${server.origin}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as T) : (null as T);
  }

  /** An operator's domain, a user's two keys, verifications (some refused) and usage reports. */
  async function traffic(userToken: string, operatorToken: string, domainName: string) {
    const domain = await call<DomainWithToken>('/v1/domains', operatorToken, { name: domainName });
    const k1 = await call<KeyWithSecret>('/v1/keys', userToken, { name: 'chat-app' });
    const k2 = await call<KeyWithSecret>('/v1/keys', userToken, { name: 'batch-jobs' });
    for (const k of [k1, k2]) expect((await call<VerifyResult>('/v1/verify', domain.token, { key: k.key })).code).toBe('valid');
    for (const bad of ['sk_net_bogus', 'nonsense'])
      expect((await call<VerifyResult>('/v1/verify', domain.token, { key: bad })).valid).toBe(false);
    await call('/v1/verify', domain.token, { key: k1.key, scope: 'admin' }); // scope_denied
    const reports = [
      { key_id: k1.id, request_id: 'r1', cost: 120, model: 'llama-3-70b', input_tokens: 1200, output_tokens: 400 },
      { key_id: k1.id, request_id: 'r2', cost: 30, model: 'llama-3-8b', input_tokens: 500, output_tokens: 100 },
      { key_id: k2.id, request_id: 'r3', cost: 50, model: 'llama-3-8b', input_tokens: 800, output_tokens: 300 },
    ];
    for (const r of reports) await call('/v1/usage', domain.token, r);
    return { domain, k1, k2 };
  }

  it('shows usage as charts and tables that match the reports, filters by key, and downloads CSV', async () => {
    const user = new TestWallet();
    const u = await signInWith(user);
    const operator = await signInWith(new TestWallet());
    await traffic(u.token, operator.token, 'node-usage.console.test');

    await u.page.locator('[data-tab="usage"]').click();
    const costChart = u.page.locator('figure[data-chart="usage-cost"]');
    await costChart.locator('rect').first().waitFor();
    expect(await u.page.getByTestId('usage-cost').textContent()).toBe('200');
    expect(await u.page.getByTestId('usage-requests').textContent()).toBe('3');
    expect(await u.page.getByTestId('usage-tokens').textContent()).toBe('3,300');
    expect(await costChart.getAttribute('data-total')).toBe('200');
    const today = new Date().toISOString().slice(0, 10);
    expect(await costChart.locator(`rect[data-bucket="${today}"][data-series="charged"]`).getAttribute('data-value')).toBe('200');
    expect(await u.page.locator('figure[data-chart="usage-requests"]').getAttribute('data-total')).toBe('3');
    // Tables by model (largest cost first) and by key.
    const models = await u.page.locator('tr[data-model]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model')));
    expect(models).toEqual(['llama-3-70b', 'llama-3-8b']);
    expect(await u.page.locator('tr[data-model="llama-3-8b"]').textContent()).toContain('80');
    const keyRows = u.page.locator('tr[data-key]');
    expect(await keyRows.count()).toBe(2);
    expect(await keyRows.first().textContent()).toContain('chat-app');
    // The fallback table carries the same numbers.
    await costChart.locator('summary').click();
    expect(await costChart.locator('tbody tr').count()).toBe(1);
    await screenshot(u.page, '20-usage');

    // Switch to one key: the charts follow.
    await u.page.getByLabel('Key', { exact: true }).selectOption({ label: 'batch-jobs' });
    await u.page.locator('figure[data-chart="usage-cost"][data-total="50"]').waitFor();
    expect(await u.page.getByTestId('usage-cost').textContent()).toBe('50');
    await u.page.getByLabel('Key', { exact: true }).selectOption({ label: 'All keys' });
    await u.page.getByLabel('Model', { exact: true }).selectOption('llama-3-70b');
    await u.page.locator('figure[data-chart="usage-cost"][data-total="120"]').waitFor();
    await u.page.getByLabel('Model', { exact: true }).selectOption('');
    await u.page.locator('figure[data-chart="usage-cost"][data-total="200"]').waitFor();
    await u.page.getByLabel('Buckets', { exact: true }).selectOption('hour');
    const hourly = u.page.locator('figure[data-chart="usage-cost"]', { has: u.page.locator('figcaption', { hasText: 'per hour' }) });
    await hourly.locator('rect').first().waitFor();
    expect(await hourly.getAttribute('data-total')).toBe('200');

    const [download] = await Promise.all([u.page.waitForEvent('download'), u.page.locator('[data-action="download-csv"]').click()]);
    const csv = await readFile((await download.path()) as string, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('bucket,requests,input_tokens,output_tokens,cost,charged,uncharged');
    expect(lines.slice(1).reduce((a, l) => a + Number(l.split(',')[4]), 0)).toBe(200);
    expect(u.problems).toEqual([]);
  });

  it('charts each domain’s verifications by outcome', async () => {
    const user = await signInWith(new TestWallet());
    const operator = await signInWith(new TestWallet());
    await traffic(user.token, operator.token, 'node-stats.console.test');
    const { page, problems } = operator;
    await page.locator('[data-tab="domains"]').click();
    const box = page.locator('article[data-domain-stats="node-stats.console.test"]');
    await box.locator('rect').first().waitFor();
    expect(await box.getByTestId('domain-totals').textContent()).toBe('5 verifications: 2 valid, 3 refused; 200 credits charged.');
    const chart = box.locator('figure');
    expect(await chart.getAttribute('data-total')).toBe('5');
    const series = await chart
      .locator('rect')
      .evaluateAll((rs) => rs.map((r) => `${r.getAttribute('data-series')}=${r.getAttribute('data-value')}`).sort());
    expect(series).toEqual(['malformed=2', 'scope_denied=1', 'valid=2']);
    expect(await chart.locator('.legend').textContent()).toContain('malformed (2)');
    await screenshot(page, '21-domain-stats');
    expect(problems).toEqual([]);
  });

  it('opens the admin tab on the platform overview, then pages and filters the audit log', async () => {
    const user = await signInWith(new TestWallet());
    const operator = await signInWith(new TestWallet());
    await traffic(user.token, operator.token, 'node-admin.console.test');
    // Enough events for more than one page of the audit log.
    for (let i = 0; i < 12; i++) await call('/v1/keys', user.token, { name: `extra-${i}` });
    const a = await signInWith(admin);
    const before = await call<AdminStats>('/v1/admin/stats', a.token);
    await a.page.locator('[data-tab="admin"]').click();
    const first = a.page.locator('.panel[data-panel="admin"] section').first();
    expect(await first.locator('h2').textContent()).toBe('Platform overview');
    await a.page.locator('figure[data-chart="admin-verifications"] rect').first().waitFor();
    expect(await a.page.getByTestId('stat-accounts').textContent()).toBe(String(before.accounts.total));
    expect(await a.page.getByTestId('stat-verifications').textContent()).toBe(String(before.verifications.total));
    expect(Number(await a.page.getByTestId('stat-verifications').textContent())).toBeGreaterThanOrEqual(5);
    expect(await a.page.getByTestId('stat-charged').textContent()).toBe(String(before.credits.charged));
    expect(await a.page.locator('figure[data-chart="admin-credits"]').getAttribute('data-total')).toBe(String(before.credits.charged));
    await screenshot(a.page, '22-admin-overview');

    // The audit log: one page at a time, filtered by action and by address.
    const audit = a.page.locator('form[data-form="audit-filter"]');
    await a.page.locator('tr[data-action-name]').first().waitFor();
    expect(await a.page.locator('tr[data-action-name]').count()).toBe(25);
    expect(await a.page.getByTestId('audit-page').textContent()).toBe('Page 1');
    await a.page.locator('[data-action="audit-older"]').click();
    await a.page.getByTestId('audit-page').getByText('Page 2').waitFor();
    await a.page.locator('[data-action="audit-newer"]').click();
    await a.page.getByTestId('audit-page').getByText('Page 1').waitFor();
    await audit.getByLabel('Action').selectOption('key.create');
    await audit.getByLabel('Address (actor or account)').fill((await call<Account>('/v1/me', user.token)).address.toLowerCase());
    await audit.getByRole('button', { name: 'Filter' }).click();
    await a.page.waitForFunction(() => document.querySelectorAll('tr[data-action-name]').length === 14);
    const actions = await a.page.locator('tr[data-action-name]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-action-name')));
    expect(new Set(actions)).toEqual(new Set(['key.create']));
    expect(await a.page.locator('[data-action="audit-older"]').isDisabled()).toBe(true);
    await screenshot(a.page, '23-admin-audit-filtered');
    expect(a.problems).toEqual([]);
  });

  it('fits the usage charts on a phone-width screen', async () => {
    const user = await signInWith(new TestWallet(), { width: 390, height: 844 });
    const operator = await signInWith(new TestWallet());
    await traffic(user.token, operator.token, 'node-phone.console.test');
    await user.page.locator('[data-tab="usage"]').click();
    await user.page.locator('figure[data-chart="usage-cost"] rect').first().waitFor();
    const overflow = await user.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(user.page, '24-phone-usage');
    expect(user.problems).toEqual([]);
  });
});
