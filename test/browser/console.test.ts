import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM_PATH,
  TestWallet,
  chromiumAvailable,
  installWallets,
  launchChromium,
  openConsole,
  screenshot,
  startServer,
  storedToken,
  type TestServer,
} from './support.js';
import type { Application, Domain, ErrorBody, Key, KeyWithSecret, VerifyResult, Page as ApiPage } from '../support/responses.js';

if (!chromiumAvailable) {
  console.warn(`browser suite skipped: no Chromium at ${CHROMIUM_PATH}. Install it with: apt-get update && apt-get install -y chromium`);
}

interface Opened {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

describe.skipIf(!chromiumAvailable)('console in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const admin = new TestWallet({ name: 'Admin Wallet', rdns: 'org.example.admin' });
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startServer({ ADMIN_ADDRESSES: admin.address, SIWE_CHAIN_IDS: '1,11155111', TRIAL_CREDITS: '100000' });
    browser = await launchChromium();
  });
  afterEach(async () => {
    // Two cores are shared with other suites: free each test's pages as soon as it ends.
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(
    wallets: { wallet: TestWallet; announce?: boolean; legacy?: boolean }[],
    viewport = { width: 1280, height: 900 },
  ): Promise<Opened> {
    const opened = await openConsole(browser, server.origin, wallets, { viewport });
    contexts.push(opened.context);
    return opened;
  }

  const signInState = (page: Page, state: string) => page.locator(`section.signin[data-state="${state}"]`).waitFor();
  const signedIn = (page: Page) => page.locator('[data-action="sign-out"]').waitFor();

  async function signInWith(wallet: TestWallet, viewport?: { width: number; height: number }): Promise<Opened> {
    const o = await open([{ wallet }], viewport);
    await o.page.getByRole('button', { name: wallet.name }).click();
    await signedIn(o.page);
    return o;
  }

  async function call<T = unknown>(
    path: string,
    opts: { method?: string; token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${server.origin}${path}`, {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : (null as T) };
  }

  async function readSecretAndClose(page: Page): Promise<string> {
    const input = page.locator('dialog[open] [data-testid="secret"]');
    await input.waitFor();
    const secret = await input.inputValue();
    await page.getByRole('button', { name: "I've stored it safely" }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    return secret;
  }

  async function registerDomain(page: Page, name: string, visibility?: 'public' | 'network'): Promise<string> {
    await page.locator('[data-tab="domains"]').click();
    if (visibility) await page.getByLabel('Visibility').selectOption(visibility);
    await page.getByLabel('Domain name').fill(name);
    await page.getByRole('button', { name: 'Register domain' }).click();
    return readSecretAndClose(page);
  }

  const verify = (domainToken: string, key: string) => call<VerifyResult>('/v1/verify', { token: domainToken, body: { key } });
  const keyRow = (page: Page, name: string) => page.locator(`tr[data-key-name="${name}"]`);

  it('shows the no-wallet state when the browser has no wallet', async () => {
    const { page, problems } = await open([]);
    await signInState(page, 'no-wallet');
    expect(await page.getByRole('heading', { name: 'No wallet found' }).isVisible()).toBe(true);
    await screenshot(page, '01-no-wallet');
    expect(problems).toEqual([]);
  });

  it('lists every EIP-6963 wallet, signs in with the chosen one, keeps the session across a reload, and revokes it at sign-out', async () => {
    const alpha = new TestWallet({ name: 'Alpha Wallet', rdns: 'org.example.alpha' });
    const beta = new TestWallet({ name: 'Beta Wallet', rdns: 'org.example.beta' });
    const { page, problems } = await open([{ wallet: alpha }, { wallet: beta }]);
    await signInState(page, 'choose-wallet');
    expect(await page.locator('button.wallet').count()).toBe(2);
    expect(await page.getByRole('heading', { name: 'Choose a wallet' }).isVisible()).toBe(true);
    await screenshot(page, '02-choose-wallet');

    await page.getByRole('button', { name: 'Beta Wallet' }).click();
    await signedIn(page);
    expect(await page.getByTestId('account-address').getAttribute('title')).toBe(beta.address);
    expect(alpha.calls).toEqual([]);
    // The message is for this origin: domain = location.host, uri = location.origin.
    const host = new URL(server.origin).host;
    expect(beta.signed).toHaveLength(1);
    expect(beta.signed[0].startsWith(`${host} wants you to sign in with your Ethereum account:\n${beta.address}\n`)).toBe(true);
    expect(beta.signed[0]).toContain(`\nURI: ${server.origin}\n`);
    expect(beta.signed[0]).toContain('\nChain ID: 1\n');

    const token = await storedToken(page);
    expect(token).toBeTruthy();
    expect(page.url()).not.toContain(token as string);
    expect((await call('/v1/me', { token: token as string })).status).toBe(200);

    await page.reload();
    await signedIn(page);
    expect(beta.calls.filter((m) => m === 'personal_sign')).toHaveLength(1);
    await screenshot(page, '03-keys-empty');

    await page.locator('[data-action="sign-out"]').click();
    await signInState(page, 'choose-wallet');
    expect(await page.locator('section.signin').textContent()).toContain('You are signed out');
    expect(await storedToken(page)).toBeNull();
    const after = await call<ErrorBody>('/v1/me', { token: token as string });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_session');
    expect(problems).toEqual([]);
  });

  it('creates a key from the keyboard, shows the secret once with a copy button, and the key verifies through /v1/verify', async () => {
    const wallet = new TestWallet();
    const { context, page, problems } = await signInWith(wallet);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.origin });
    await page.locator('.panel[data-panel="keys"] p.empty').waitFor();

    // Keyboard only: Tab to "Create key", Enter opens the dialog with focus on the name field.
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(() => document.activeElement?.getAttribute('data-action'))) === 'create-key';
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('name');
    await page.keyboard.type('ci-key');
    await page.getByLabel('Credits per day').fill('1000');
    await page.getByLabel('Expires in days (optional)').fill('30');
    await screenshot(page, '04-create-key-dialog');
    await page.getByLabel('Name', { exact: true }).press('Enter');

    const input = page.locator('dialog[open] [data-testid="secret"]');
    await input.waitFor();
    const secret = await input.inputValue();
    expect(secret).toMatch(/^sk_net_[0-9A-Za-z]+$/);
    expect(await page.locator('dialog[open]').textContent()).toContain('Shown only once');
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await screenshot(page, '05-key-secret-once');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });

    const row = keyRow(page, 'ci-key');
    await row.waitFor();
    const rowText = (await row.textContent()) ?? '';
    expect(rowText).toContain('network');
    expect(rowText).toContain('1,000/day');
    expect(rowText).toContain(secret.slice(-4));
    // Once: the plaintext is gone from the page, and a reload does not bring it back.
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await keyRow(page, 'ci-key').waitFor();
    expect(await page.content()).not.toContain(secret);
    await screenshot(page, '06-keys-list');

    const domainToken = await registerDomain(page, 'node-1.console.test');
    await page.locator('tr[data-domain="node-1.console.test"]').waitFor();
    // A new domain shows as unproven, with the challenge to publish one click away.
    const domainRow = page.locator('tr[data-domain="node-1.console.test"]');
    expect(await domainRow.locator('.badge', { hasText: 'unverified' }).count()).toBe(1);
    const mine = (await call<ApiPage<Domain>>('/v1/domains', { token: (await storedToken(page)) ?? undefined })).body.data[0];
    await page.getByRole('button', { name: 'Prove ownership of node-1.console.test' }).click();
    await page.locator('dialog[open]', { hasText: `_siwe-keys.node-1.console.test` }).waitFor();
    expect(await page.locator('dialog[open]').textContent()).toContain(mine.ownership_challenge);
    await page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await screenshot(page, '07-domains');
    const res = await verify(domainToken, secret);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: true, code: 'valid', type: 'network', account: wallet.address });

    // The account's own activity lists what just happened.
    await page.locator('[data-tab="activity"]').click();
    await page.locator('tr[data-action-name="key.create"]').waitFor();
    expect(await page.locator('tr[data-action-name="domain.create"]').count()).toBe(1);
    await screenshot(page, '08-activity');
    expect(problems).toEqual([]);
  });

  it('rotates a key and a domain token (each old secret dies at once) and deletes the domain', async () => {
    const wallet = new TestWallet();
    const { page, problems } = await signInWith(wallet);
    const domainToken = await registerDomain(page, 'node-2.console.test');
    await page.locator('[data-tab="keys"]').click();
    const created = await call<KeyWithSecret>('/v1/keys', { token: (await storedToken(page)) as string, body: { name: 'rotate-me' } });
    expect(created.status).toBe(201);
    await page.getByRole('button', { name: 'Refresh' }).click();

    await page.getByRole('button', { name: 'Rotate key rotate-me' }).click();
    await page.getByLabel('Old secret stops working').selectOption('0');
    await page.getByRole('button', { name: 'Rotate key', exact: true }).click();
    const fresh = await readSecretAndClose(page);
    expect(fresh).not.toBe(created.body.key);
    expect((await verify(domainToken, created.body.key)).body.valid).toBe(false);
    expect((await verify(domainToken, fresh)).body).toMatchObject({ valid: true, key_id: created.body.id });

    // The domain's token rotates the same way: the old one dies at once.
    await page.locator('[data-tab="domains"]').click();
    await page.getByRole('button', { name: 'Rotate token of node-2.console.test' }).click();
    await page.getByRole('button', { name: 'Rotate token', exact: true }).click();
    const newToken = await readSecretAndClose(page);
    expect((await verify(domainToken, fresh)).status).toBe(401);
    expect((await verify(newToken, fresh)).body.valid).toBe(true);
    await page.getByRole('button', { name: 'Delete domain node-2.console.test' }).click();
    await page.getByRole('button', { name: 'Delete domain', exact: true }).click();
    await page.locator('tr[data-domain="node-2.console.test"]').waitFor({ state: 'detached' });
    expect((await verify(newToken, fresh)).status).toBe(401);
    expect(problems).toEqual([]);
  });

  it('disables and enables a key, and deletes it only after confirmation', async () => {
    const wallet = new TestWallet();
    const { page, problems } = await signInWith(wallet);
    const domainToken = await registerDomain(page, 'node-3.console.test');
    await page.locator('[data-tab="keys"]').click();
    const created = await call<KeyWithSecret>('/v1/keys', { token: (await storedToken(page)) as string, body: { name: 'short-lived' } });
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = keyRow(page, 'short-lived');

    // Errors read as the API's own message, inside the dialog that caused them.
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByLabel('Name', { exact: true }).fill('short-lived');
    await page.getByRole('button', { name: 'Create key', exact: true }).last().click();
    const alert = page.locator('dialog[open] [role="alert"]');
    await alert.waitFor();
    const again = await call<ErrorBody>('/v1/keys', { token: (await storedToken(page)) as string, body: { name: 'short-lived' } });
    expect(again.body.error.code).toBe('name_taken');
    expect(await alert.textContent()).toContain(again.body.error.message);
    await page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Disable key short-lived' }).click();
    await page.getByRole('button', { name: 'Enable key short-lived' }).waitFor();
    expect(await row.textContent()).toContain('disabled');
    expect((await verify(domainToken, created.body.key)).body.code).toBe('disabled');
    await page.getByRole('button', { name: 'Enable key short-lived' }).click();
    await page.getByRole('button', { name: 'Disable key short-lived' }).waitFor();
    expect((await verify(domainToken, created.body.key)).body.valid).toBe(true);

    await page.getByRole('button', { name: 'Delete key short-lived' }).click();
    await screenshot(page, '09-delete-confirmation');
    await page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    expect(await row.count()).toBe(1);
    await page.getByRole('button', { name: 'Delete key short-lived' }).click();
    await page.getByRole('button', { name: 'Delete key', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    expect((await verify(domainToken, created.body.key)).body.code).toBe('not_found');
    expect(problems).toEqual([]);
  });

  it("edits a key in a dialog (scopes, limits, models, description, expiry) and shows the API's refusal of an invalid limit", async () => {
    const wallet = new TestWallet();
    const { page, problems } = await signInWith(wallet);
    const token = (await storedToken(page)) as string;
    const created = await call<KeyWithSecret>('/v1/keys', {
      token,
      body: { name: 'edit-me', description: 'before', limits: { rpm: 60, monthly_credits: 9000 }, models: ['old-model'] },
    });
    expect(created.status).toBe(201);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await keyRow(page, 'edit-me').waitFor();

    // Keyboard only: focus the row's Edit button and press Enter.
    await page.getByRole('button', { name: 'Edit key edit-me' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    expect(await dialog.getByTestId('edit-key-name').textContent()).toBe('edit-me');
    expect(await dialog.locator('input[name="name"]').count()).toBe(0);
    expect(await dialog.getByLabel('Requests per minute').inputValue()).toBe('60');
    await dialog.getByLabel('Description (optional)').fill('after');
    await dialog.getByLabel('inference:write').uncheck();
    await dialog.getByLabel('analytics:read').check();
    await dialog.getByLabel('Models (optional)').fill('');
    await dialog.getByLabel('Requests per minute').fill('');
    await dialog.getByLabel('Credits per day').fill('500');
    await dialog.getByLabel('Never expires').uncheck();
    await dialog.getByLabel('Expires at the end of').fill('2099-06-30');
    await screenshot(page, '17-edit-key');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    // The list reloads after the save; the row shows the new limit once it has.
    await keyRow(page, 'edit-me').filter({ hasText: '500/day' }).waitFor();

    const after = await call<Key>(`/v1/keys/${created.body.id}`, { token });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({
      name: 'edit-me',
      description: 'after',
      scopes: ['inference:read', 'analytics:read'],
      models: null,
      limits: { daily_credits: 500, monthly_credits: 9000 },
    });
    expect(after.body.limits.rpm).toBeUndefined();
    expect(after.body.expires_at?.startsWith('2099-')).toBe(true);

    // The expiry can be removed again; an rpm of 0 is refused with the service's own message.
    await page.getByRole('button', { name: 'Edit key edit-me' }).click();
    await dialog.getByLabel('Never expires').check();
    await dialog.getByLabel('Requests per minute').fill('0');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    const alert = dialog.locator('[role="alert"]');
    await alert.waitFor();
    const refused = await call<ErrorBody>(`/v1/keys/${created.body.id}`, { method: 'PATCH', token, body: { limits: { rpm: 0 } } });
    expect(refused.status).toBe(400);
    expect(await alert.textContent()).toContain(refused.body.error.message);
    await dialog.getByLabel('Requests per minute').fill('');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await call<Key>(`/v1/keys/${created.body.id}`, { token })).body.expires_at).toBeNull();
    expect(problems).toEqual([]);
  });

  it('signs out everywhere: every session of the wallet, in every browser, stops working', async () => {
    const wallet = new TestWallet();
    const first = await signInWith(wallet);
    const second = await signInWith(wallet);
    const firstToken = (await storedToken(first.page)) as string;
    const secondToken = (await storedToken(second.page)) as string;
    expect(firstToken).not.toBe(secondToken);
    expect((await call('/v1/me', { token: secondToken })).status).toBe(200);

    await first.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    // The wallet stays connected in this tab, so the sign-in screen is ready to sign in again.
    await signInState(first.page, 'ready');
    expect(await first.page.locator('section.signin').textContent()).toContain('You are signed out everywhere');
    expect(await storedToken(first.page)).toBeNull();
    expect((await call('/v1/me', { token: firstToken })).status).toBe(401);
    const other = await call<ErrorBody>('/v1/me', { token: secondToken });
    expect(other.status).toBe(401);
    expect(other.body.error.code).toBe('invalid_session');

    // The other browser finds out on its next request and returns to the sign-in screen.
    await second.page.getByRole('button', { name: 'Refresh' }).click();
    await second.page.locator('section.signin').waitFor();
    expect(await second.page.locator('section.signin').textContent()).toContain('Your session has ended');
    expect(first.problems).toEqual([]);
    expect(second.problems).toEqual([]);
  });

  it('takes a trial application, lets an admin approve it in its own context, then the user creates a developer key', async () => {
    const user = new TestWallet();
    const u = await signInWith(user);
    await u.page.locator('[data-tab="trial"]').click();
    await u.page.getByLabel('What will you build?').fill('A wallet-native chat app that calls the network for summaries.');
    await u.page.getByLabel('Contact (optional)').fill('dev@example.org');
    await u.page.getByRole('button', { name: 'Apply for the free trial' }).click();
    await u.page.locator('[data-trial-status="pending"]').waitFor();
    await screenshot(u.page, '10-trial-pending');

    // The admin signs in from its own browser context (its own storage and wallet).
    const a = await signInWith(admin);
    expect(await a.page.locator('.who .badge.admin').count()).toBe(1);
    await a.page.locator('[data-tab="admin"]').click();
    const card = a.page.locator(`article[data-application="${user.address}"]`);
    await card.waitFor();
    expect(await card.textContent()).toContain('wallet-native chat app');
    await card.getByLabel('Credits to grant').fill('5000');
    await screenshot(a.page, '11-admin-applications');
    await card.getByRole('button', { name: `Approve application of ${user.address}` }).click();
    await card.waitFor({ state: 'detached' });
    await a.page.getByRole('button', { name: 'Refresh' }).nth(1).click();
    await a.page.locator('tr[data-action-name="trial.approve"]').first().waitFor();
    await screenshot(a.page, '12-admin-audit');

    await u.page.getByRole('button', { name: 'Refresh status' }).click();
    await u.page.locator('[data-trial-status="approved"]').waitFor();
    expect(await u.page.getByTestId('trial-credits').textContent()).toBe('5,000');
    expect(await u.page.getByTestId('header-credits').textContent()).toBe('5,000 credits');
    await screenshot(u.page, '13-trial-approved');

    await u.page.locator('[data-tab="keys"]').click();
    await u.page.getByRole('button', { name: 'Create key' }).click();
    expect(await u.page.locator('dialog[open]').textContent()).toContain('developer');
    await u.page.getByLabel('Name', { exact: true }).fill('dev-key');
    await u.page.getByRole('button', { name: 'Create key', exact: true }).last().click();
    const secret = await readSecretAndClose(u.page);
    expect(secret).toMatch(/^sk_dev_/);
    expect(await keyRow(u.page, 'dev-key').textContent()).toContain('developer');

    // Developer keys work on public domains, which only admins can register.
    const publicToken = await registerDomain(a.page, 'public.console.test', 'public');
    expect(await a.page.locator('tr[data-domain="public.console.test"]').textContent()).toContain('public');
    expect((await verify(publicToken, secret)).body).toMatchObject({ valid: true, type: 'developer', account: user.address });
    expect(u.problems).toEqual([]);
    expect(a.problems).toEqual([]);
  });

  it('shows why the approval turned a network key off, and that enabling it again does not let network domains take it', async () => {
    const user = new TestWallet();
    const u = await signInWith(user);
    const token = (await storedToken(u.page)) as string;
    const domainToken = await registerDomain(u.page, 'node-approved.console.test');
    const made = await call<KeyWithSecret>('/v1/keys', { token, body: { name: 'pre-approval' } });
    expect((await verify(domainToken, made.body.key)).body.valid).toBe(true);
    const application = await call<Application>('/v1/trial/applications', { token, body: { use_case: 'a chat app' } });
    const a = await signInWith(admin);
    const approved = await call(`/v1/admin/trial/applications/${application.body.id}/approve`, {
      token: (await storedToken(a.page)) as string,
      body: { credits: 100 },
    });
    expect(approved.status).toBe(200);

    await u.page.locator('[data-tab="keys"]').click();
    await u.page.getByRole('button', { name: 'Refresh' }).click();
    const row = keyRow(u.page, 'pre-approval');
    await row.locator('[data-disabled-reason="trial_approved"]').waitFor();
    expect(await row.textContent()).toMatch(/approved for free developer credits.*network domains/);
    await screenshot(u.page, '14-key-disabled-on-approval');
    await u.page.getByRole('button', { name: 'Enable key pre-approval' }).click();
    await u.page.getByRole('button', { name: 'Disable key pre-approval' }).waitFor();
    expect((await verify(domainToken, made.body.key)).body.code).toBe('key_type_mismatch');
    expect(u.problems).toEqual([]);
  });

  it('lets an admin reject an application with a reason the applicant reads, and grant credits by hand', async () => {
    const user = new TestWallet();
    const u = await signInWith(user);
    expect(
      (await call('/v1/trial/applications', { token: (await storedToken(u.page)) as string, body: { use_case: 'Spam bot.' } })).status,
    ).toBe(201);

    const a = await signInWith(admin);
    await a.page.locator('[data-tab="admin"]').click();
    const card = a.page.locator(`article[data-application="${user.address}"]`);
    await card.getByRole('button', { name: `Reject application of ${user.address}` }).click();
    await a.page.getByLabel('Reason (shown to the applicant)').fill('Automated traffic is not eligible.');
    await a.page.getByRole('button', { name: 'Reject application', exact: true }).click();
    await card.waitFor({ state: 'detached' });

    // Credits can be granted by hand too; the applicant's header shows the new balance.
    await a.page.getByLabel('Account address').fill(user.address);
    await a.page.getByLabel('Change (+/-)').fill('250');
    await a.page.getByLabel('Reason', { exact: true }).fill('Hackathon participant');
    await a.page.getByRole('button', { name: 'Change credits' }).click();
    await a.page.getByText(`${user.address} now has 250 credits.`).waitFor();

    await u.page.locator('[data-tab="trial"]').click();
    await u.page.locator('form[data-form="trial"]').waitFor();
    expect(await u.page.getByTestId('header-credits').textContent()).toBe('250 credits');
    expect(await u.page.locator('form[data-form="trial"]').textContent()).toContain(
      'Your previous application was declined: Automated traffic is not eligible.',
    );
    expect(u.problems).toEqual([]);
    expect(a.problems).toEqual([]);
  });

  it('warns when opened at another origin than PUBLIC_URL and shows the service refusing the sign-in', async () => {
    const wallet = new TestWallet();
    const context = await browser.newContext();
    contexts.push(context);
    await installWallets(context, [{ wallet }]);
    const page = await context.newPage();
    const other = server.origin.replace('127.0.0.1', 'localhost');
    await page.goto(`${other}/`);
    const warning = page.getByTestId('origin-notice');
    await warning.waitFor();
    expect(await warning.textContent()).toContain(`This service accepts sign-in at ${server.origin}`);
    await page.getByRole('button', { name: wallet.name }).click();
    const alert = page.locator('[data-wallet-error="other"]');
    await alert.waitFor();
    // The service's siwe_domain_mismatch message, as it wrote it.
    expect(await alert.textContent()).toMatch(new RegExp(`domain.*${new URL(other).host}`));
    expect(await storedToken(page)).toBeNull();
  });

  it('explains a wrong chain, offers a switch to an allowed chain, and signs in after it', async () => {
    const wallet = new TestWallet({ chainId: 137 });
    const { page, problems } = await open([{ wallet }]);
    await page.getByRole('button', { name: wallet.name }).click();
    await signInState(page, 'wrong-chain');
    expect(await page.getByTestId('wallet-chain').textContent()).toBe('Polygon (chain 137)');
    expect(await page.locator('[data-switch-chain]').count()).toBe(2);
    await screenshot(page, '14-wrong-chain');
    expect(wallet.calls).not.toContain('personal_sign');

    wallet.rejectNext('wallet_switchEthereumChain');
    await page.getByRole('button', { name: 'Switch to Sepolia (chain 11155111)' }).click();
    await page.locator('[data-wallet-error="rejected"]').waitFor();
    expect(await page.locator('[data-wallet-error="rejected"]').textContent()).toContain('You rejected the network switch');
    await signInState(page, 'wrong-chain');

    await page.getByRole('button', { name: 'Switch to Sepolia (chain 11155111)' }).click();
    await signInState(page, 'ready');
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
    await signedIn(page);
    expect(wallet.signed[0]).toContain('\nChain ID: 11155111\n');
    expect(problems).toEqual([]);
  });

  it('says so when the person rejects the signature, and signs in on the next try', async () => {
    const wallet = new TestWallet();
    wallet.rejectNext('personal_sign');
    const { page, problems } = await open([{ wallet }]);
    await page.getByRole('button', { name: wallet.name }).click();
    const alert = page.locator('[data-wallet-error="rejected"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('You rejected the signature request in your wallet. Nothing was signed.');
    await signInState(page, 'ready');
    expect(await storedToken(page)).toBeNull();
    await screenshot(page, '15-signature-rejected');

    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
    await signedIn(page);
    expect(wallet.calls.filter((m) => m === 'personal_sign')).toHaveLength(2);
    expect(problems).toEqual([]);
  });

  it('falls back to window.ethereum when no wallet announces itself', async () => {
    const wallet = new TestWallet();
    const { page, problems } = await open([{ wallet, announce: false, legacy: true }]);
    await page.getByRole('button', { name: 'Browser wallet (window.ethereum)' }).click();
    await signedIn(page);
    expect(await page.getByTestId('account-address').getAttribute('title')).toBe(wallet.address);
    expect(problems).toEqual([]);
  });

  it('fits a phone-width screen without sideways scrolling', async () => {
    const wallet = new TestWallet();
    const { page, problems } = await signInWith(wallet, { width: 390, height: 844 });
    await call('/v1/keys', { token: (await storedToken(page)) as string, body: { name: 'phone-key', limits: { rpm: 60 } } });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await keyRow(page, 'phone-key').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, '16-phone-keys');
    expect(problems).toEqual([]);
  });
});
