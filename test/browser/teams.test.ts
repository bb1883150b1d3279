// Teams in the console, in headless Chromium against the real service, with two injected wallets in
// two browser contexts: A creates a team and invites B by address (a mistyped checksum is refused
// before any request), B accepts, A changes B's role (viewer: read only, also refused by the
// service; member: creates a team key), the views follow the switcher, and A's removal of B ends
// B's access at B's next action.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM_PATH,
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
import type { ErrorBody, Key, Team, TeamList, VerifyResult, Page as ApiPage } from '../support/responses.js';

if (!chromiumAvailable) {
  console.warn(`browser suite skipped: no Chromium at ${CHROMIUM_PATH}. Install it with: apt-get update && apt-get install -y chromium`);
}

interface Opened {
  context: BrowserContext;
  page: Page;
  problems: string[];
  /** POSTs the page sent to /v1/teams/{id}/members (invitations). */
  invites: string[];
}

/** The address with the case of one letter flipped: still mixed case, so its EIP-55 checksum is now wrong. */
function wrongChecksum(address: string): string {
  const hex = address.slice(2);
  for (let i = 0; i < hex.length; i++) {
    const c = hex[i];
    if (!/[a-fA-F]/.test(c)) continue;
    const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
    const out = `${hex.slice(0, i)}${flipped}${hex.slice(i + 1)}`;
    if (out !== out.toLowerCase() && out !== out.toUpperCase()) return `0x${out}`;
  }
  throw new Error(`no letter to flip in ${address}`);
}

describe.skipIf(!chromiumAvailable)('teams in the console (two wallets, headless Chromium)', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const alice = new TestWallet({ name: 'Alice Wallet', rdns: 'org.example.alice' });
  const bob = new TestWallet({ name: 'Bob Wallet', rdns: 'org.example.bob' });

  beforeAll(async () => {
    server = await startServer({ SIWE_CHAIN_IDS: '1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await server?.close();
  });

  async function signInWith(wallet: TestWallet): Promise<Opened> {
    const invites: string[] = [];
    const { context, page, problems } = await openConsole(browser, server.origin, [{ wallet }], {
      onPage: (p) =>
        p.on('request', (req) => {
          if (req.method() === 'POST' && /\/v1\/teams\/[^/]+\/members$/.test(new URL(req.url()).pathname))
            invites.push(req.postData() ?? '');
        }),
    });
    contexts.push(context);
    await signInOnPage(page, wallet);
    return { context, page, problems, invites };
  }

  async function call<T = unknown>(
    path: string,
    token: string,
    opts: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${server.origin}${path}`, {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
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

  const switcher = (page: Page) => page.getByTestId('team-switcher');
  const panel = (page: Page, tab: string, scope: string) => page.locator(`[data-panel="${tab}"][data-scope="${scope}"]`);
  const keyRow = (page: Page, name: string) => page.locator(`tr[data-key-name="${name}"]`);
  const memberRow = (page: Page, address: string) => page.locator(`tr[data-member="${address.toLowerCase()}"]`);

  it('A creates a team and invites B; B accepts; roles, team keys, the switcher and removal work end to end', async () => {
    const a = await signInWith(alice);
    const b = await signInWith(bob);
    const bToken = (await storedToken(b.page)) as string;
    // B has a personal key of its own: the team scope must never show it (and the personal scope must).
    expect((await call('/v1/keys', bToken, { body: { name: 'bob-personal' } })).status).toBe(201);

    // ---- A creates the team: it is chosen in the switcher, with A's role, and the Team tab opens.
    await a.page.getByRole('button', { name: 'New team' }).click();
    await a.page.getByLabel('Team name').fill('Node Ops');
    await a.page.locator('dialog[open]').getByRole('button', { name: 'Create team' }).click();
    const teamPanel = a.page.locator('[data-panel="team"]');
    await teamPanel.waitFor();
    const teamId = (await teamPanel.getAttribute('data-scope'))?.replace('team:', '') as string;
    expect(teamId).toBeTruthy();
    const teamScope = `team:${teamId}`;
    expect(await switcher(a.page).locator('option:checked').textContent()).toBe('Node Ops (owner)');
    await expect.poll(() => a.page.getByTestId('team-role').textContent()).toBe('owner');
    await memberRow(a.page, alice.address).waitFor();

    // The last owner cannot leave: the service's 409 last_owner is shown in words, and A stays.
    await a.page.locator('[data-action="leave-team"]').click();
    await a.page.locator('dialog[open]').getByRole('button', { name: 'Leave team' }).click();
    await expect.poll(() => a.page.locator('dialog[open] [role="alert"]').textContent()).toContain('must keep at least one owner');
    await a.page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();

    // ---- A invites B. A mistyped (wrong-checksum) address is refused before any request.
    const bad = wrongChecksum(bob.address);
    await a.page.getByLabel('Wallet address').fill(bad);
    await a.page.getByRole('button', { name: 'Invite', exact: true }).click();
    const refusal = a.page.locator('[data-error-code="bad_checksum"]');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('EIP-55 checksum');
    expect(await a.page.getByLabel('Wallet address').getAttribute('aria-invalid')).toBe('true');
    expect(a.invites).toEqual([]);
    await screenshot(a.page, 'teams-01-bad-checksum');

    await a.page.getByLabel('Wallet address').fill(bob.address);
    await a.page.getByLabel('Role', { exact: true }).selectOption('member');
    await a.page.getByRole('button', { name: 'Invite', exact: true }).click();
    await memberRow(a.page, bob.address).and(a.page.locator('[data-status="invited"]')).waitFor();
    expect(a.invites.map((body) => JSON.parse(body))).toEqual([{ address: bob.address, role: 'member' }]);
    expect(await a.page.locator('[role="alert"]:visible').count()).toBe(0);

    // A creates a team key in the team scope, so B has something to read.
    await a.page.locator('[data-tab="keys"]').click();
    await panel(a.page, 'keys', teamScope).waitFor();
    await a.page.getByRole('button', { name: 'Create key' }).click();
    await a.page.getByLabel('Name', { exact: true }).fill('ops-shared');
    await a.page.locator('dialog[open]').getByRole('button', { name: 'Create key' }).click();
    const opsSecret = await readSecretAndClose(a.page);
    expect(opsSecret).toMatch(/^sk_net_/);
    await keyRow(a.page, 'ops-shared').waitFor();
    // and registers a node domain for the team (owners and admins may).
    await a.page.locator('[data-tab="domains"]').click();
    await panel(a.page, 'domains', teamScope).waitFor();
    await a.page.getByLabel('Domain name').fill('node-1.teams.test');
    await a.page.getByRole('button', { name: 'Register domain' }).click();
    const domainToken = await readSecretAndClose(a.page);
    await a.page.locator('tr[data-domain="node-1.teams.test"]').waitFor();
    // The team's node verifies the team key and reports one request: usage of the team, not of A.
    const verified = await call<VerifyResult>('/v1/verify', domainToken, { body: { key: opsSecret } });
    expect(verified.body).toMatchObject({ valid: true, code: 'valid' });
    const usage = { key_id: verified.body.key_id, request_id: 'req-1', cost: 7, model: 'llama-3-8b', input_tokens: 10, output_tokens: 20 };
    expect((await call('/v1/usage', domainToken, { body: usage })).status).toBe(201);

    // ---- B: an invitation gives no access until B accepts it with its own session.
    expect((await call(`/v1/keys?team_id=${teamId}`, bToken)).status).toBe(404);
    await b.page.reload();
    const invitation = b.page.locator(`[data-invitation="${teamId}"]`);
    await invitation.waitFor();
    expect(await invitation.textContent()).toContain('Node Ops');
    expect(await switcher(b.page).locator('option').allTextContents()).toEqual(['Personal']);
    await screenshot(b.page, 'teams-02-invitation');
    await b.page.getByRole('button', { name: 'Accept invitation to Node Ops' }).click();
    await panel(b.page, 'keys', teamScope).waitFor();
    await invitation.waitFor({ state: 'detached' });
    expect(await switcher(b.page).locator('option:checked').textContent()).toBe('Node Ops (member)');
    await keyRow(b.page, 'ops-shared').waitFor();
    expect(await keyRow(b.page, 'bob-personal').count()).toBe(0);

    // ---- A makes B a viewer.
    await a.page.locator('[data-tab="team"]').click();
    await memberRow(a.page, bob.address).and(a.page.locator('[data-status="active"]')).waitFor();
    await a.page.getByLabel(`Role of ${bob.address}`, { exact: true }).selectOption('viewer');
    await a.page.getByRole('button', { name: `Change role of ${bob.address}` }).click();
    await memberRow(a.page, bob.address).and(a.page.locator('[data-role="viewer"]')).waitFor();

    // B (after a reload: the chosen team persists) reads the team's keys but has no control to create one,
    await b.page.reload();
    await panel(b.page, 'keys', teamScope).waitFor();
    await keyRow(b.page, 'ops-shared').waitFor();
    expect(await switcher(b.page).locator('option:checked').textContent()).toBe('Node Ops (viewer)');
    expect(await b.page.locator('[data-action="create-key"]').count()).toBe(0);
    expect(await keyRow(b.page, 'ops-shared').locator('[data-action]').count()).toBe(0);
    expect(await b.page.getByTestId('team-key-note').textContent()).toContain('As a viewer');
    await screenshot(b.page, 'teams-03-viewer');
    // and the service refuses it when forced.
    const forced = await call<ErrorBody>('/v1/keys', bToken, { body: { name: 'forced', team_id: teamId } });
    expect(forced.status).toBe(403);
    expect(forced.body.error.code).toBe('forbidden');
    // A viewer sees the members but cannot change them.
    await b.page.locator('[data-tab="team"]').click();
    await memberRow(b.page, alice.address).waitFor();
    expect(await b.page.locator('[data-form="invite"]').count()).toBe(0);
    expect(await b.page.locator('[data-action="change-role"], [data-action="remove-member"]').count()).toBe(0);

    // ---- A makes B a member: B creates a team key and sees its secret once.
    await a.page.getByLabel(`Role of ${bob.address}`, { exact: true }).selectOption('member');
    await a.page.getByRole('button', { name: `Change role of ${bob.address}` }).click();
    await memberRow(a.page, bob.address).and(a.page.locator('[data-role="member"]')).waitFor();

    await b.page.locator('[data-tab="keys"]').click();
    await b.page.locator('[data-action="create-key"]').waitFor();
    expect(await switcher(b.page).locator('option:checked').textContent()).toBe('Node Ops (member)');
    await b.page.locator('[data-action="create-key"]').click();
    await b.page.getByLabel('Name', { exact: true }).fill('bob-team-key');
    await b.page.locator('dialog[open]').getByRole('button', { name: 'Create key' }).click();
    const bobSecret = await readSecretAndClose(b.page);
    expect(bobSecret).toMatch(/^sk_net_/);
    await keyRow(b.page, 'bob-team-key').waitFor();
    expect(await b.page.content()).not.toContain(bobSecret);
    // The key belongs to the team: A sees it, and it is not among B's personal keys.
    const teamKeys = await call<ApiPage<Key>>(`/v1/keys?team_id=${teamId}`, bToken);
    expect(teamKeys.body.data.map((k) => k.name).sort()).toEqual(['bob-team-key', 'ops-shared']);
    const personal = await call<ApiPage<Key>>('/v1/keys', bToken);
    expect(personal.body.data.map((k) => k.name)).toEqual(['bob-personal']);
    // A member manages the team keys it created, not the others': no controls on A's key, and the service agrees.
    expect(await keyRow(b.page, 'bob-team-key').locator('[data-action="rotate"]').count()).toBe(1);
    expect(await keyRow(b.page, 'ops-shared').locator('[data-action]').count()).toBe(0);
    const opsKey = teamKeys.body.data.find((k) => k.name === 'ops-shared');
    const meddle = await call(`/v1/keys/${opsKey!.id}`, bToken, { method: 'PATCH', body: { status: 'disabled' } });
    expect(meddle.status).toBe(403);

    // ---- The switcher scopes the views: Personal shows B's own key only, the team its keys only.
    await switcher(b.page).selectOption({ label: 'Personal' });
    await panel(b.page, 'keys', 'personal').waitFor();
    await keyRow(b.page, 'bob-personal').waitFor();
    expect(await keyRow(b.page, 'ops-shared').count()).toBe(0);
    expect(await keyRow(b.page, 'bob-team-key').count()).toBe(0);
    expect(await b.page.locator('[data-tab="team"]').count()).toBe(0);
    await switcher(b.page).selectOption({ label: 'Node Ops (member)' });
    await panel(b.page, 'keys', teamScope).waitFor();
    await keyRow(b.page, 'bob-team-key').waitFor();
    await keyRow(b.page, 'ops-shared').waitFor();
    expect(await keyRow(b.page, 'bob-personal').count()).toBe(0);
    // The team's domains and usage follow the switcher too (B, a member, cannot register a domain).
    await b.page.locator('[data-tab="domains"]').click();
    await panel(b.page, 'domains', teamScope).waitFor();
    await b.page.getByTestId('domains-read-only').waitFor();
    await b.page.locator('tr[data-domain="node-1.teams.test"]').waitFor();
    expect(await b.page.locator('tr[data-domain="node-1.teams.test"] [data-action]').count()).toBe(0);
    await switcher(b.page).selectOption({ label: 'Personal' });
    await panel(b.page, 'domains', 'personal').waitFor();
    await b.page.getByText('No domains registered yet.').waitFor();
    await switcher(b.page).selectOption({ label: 'Node Ops (member)' });
    await panel(b.page, 'domains', teamScope).waitFor();
    const teamSummary = b.page.waitForRequest((r) => r.url().includes('/v1/usage/summary') && r.url().includes(`team_id=${teamId}`));
    await b.page.locator('[data-tab="usage"]').click();
    await panel(b.page, 'usage', teamScope).waitFor();
    await teamSummary;
    await expect.poll(() => b.page.getByTestId('usage-requests').textContent()).toBe('1');
    await b.page.locator('tr[data-model="llama-3-8b"]').waitFor();
    await switcher(b.page).selectOption({ label: 'Personal' });
    await panel(b.page, 'usage', 'personal').waitFor();
    await expect.poll(() => b.page.getByTestId('usage-requests').textContent()).toBe('0');
    await switcher(b.page).selectOption({ label: 'Node Ops (member)' });
    await panel(b.page, 'usage', teamScope).waitFor();
    await b.page.locator('[data-tab="keys"]').click();
    await panel(b.page, 'keys', teamScope).waitFor();

    // ---- A removes B: B's next action on the team fails and the team leaves B's switcher.
    await a.page.getByRole('button', { name: `Remove ${bob.address}` }).click();
    await a.page.locator('dialog[open]').getByRole('button', { name: 'Remove member' }).click();
    await memberRow(a.page, bob.address).waitFor({ state: 'detached' });
    await screenshot(a.page, 'teams-04-owner-team-tab');

    expect((await call(`/v1/keys?team_id=${teamId}`, bToken)).status).toBe(404);
    // B's next action on the team (its page still shows the team) is refused, in words, ...
    await b.page.locator('[data-action="create-key"]').click();
    await b.page.getByLabel('Name', { exact: true }).fill('after-removal');
    await b.page.locator('dialog[open]').getByRole('button', { name: 'Create key' }).click();
    const refused = b.page.locator('dialog[open] [data-error-code="not_found"]');
    await refused.waitFor();
    expect(await refused.textContent()).toContain('no longer a member of this team');
    await b.page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();
    // ... and the team leaves B's switcher: B is back in its personal account.
    const gone = b.page.getByTestId('team-notice');
    await gone.waitFor();
    expect(await gone.textContent()).toContain('no longer a member of the team “Node Ops”');
    await panel(b.page, 'keys', 'personal').waitFor();
    expect(await switcher(b.page).locator('option').allTextContents()).toEqual(['Personal']);
    await keyRow(b.page, 'bob-personal').waitFor();
    await screenshot(b.page, 'teams-05-removed');

    // B's team key stays the team's: A still sees it.
    await a.page.locator('[data-tab="keys"]').click();
    await keyRow(a.page, 'bob-team-key').waitFor();

    // The switcher and the Team tab fit a phone-width screen without sideways scrolling.
    await a.page.setViewportSize({ width: 390, height: 844 });
    await a.page.locator('[data-tab="team"]').click();
    await memberRow(a.page, alice.address).waitFor();
    expect(await a.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await screenshot(a.page, 'teams-06-phone-team-tab');
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  }, 180_000);

  it('B declines an invitation: it disappears and gives no access', async () => {
    const a = await signInWith(alice);
    const carol = new TestWallet({ name: 'Carol Wallet', rdns: 'org.example.carol' });
    const aToken = (await storedToken(a.page)) as string;
    const created = await call<Team>('/v1/teams', aToken, { body: { name: 'Declined Co' } });
    expect(created.status).toBe(201);
    // An all-lower-case address carries no checksum and is accepted as is.
    expect(
      (await call(`/v1/teams/${created.body.id}/members`, aToken, { body: { address: carol.address.toLowerCase(), role: 'viewer' } }))
        .status,
    ).toBe(201);
    const c = await signInWith(carol);
    const invitation = c.page.locator(`[data-invitation="${created.body.id}"]`);
    await invitation.waitFor();
    await c.page.getByRole('button', { name: 'Decline invitation to Declined Co' }).click();
    await invitation.waitFor({ state: 'detached' });
    expect(await switcher(c.page).locator('option').allTextContents()).toEqual(['Personal']);
    const cToken = (await storedToken(c.page)) as string;
    expect((await call<TeamList>('/v1/teams', cToken)).body.data).toEqual([]);
    expect((await call(`/v1/teams/${created.body.id}`, cToken)).status).toBe(404);
    expect(c.problems).toEqual([]);
  }, 120_000);
});
