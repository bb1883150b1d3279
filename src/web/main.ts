import type { Ctx } from './context.js';
import { h, replace, type Child } from './dom.js';
import { adminPanel } from './panels/admin.js';
import { auditPanel } from './panels/audit.js';
import { domainsPanel } from './panels/domains.js';
import { keysPanel } from './panels/keys.js';
import { createTeamDialog, invitationsCard, teamPanel } from './panels/team.js';
import { trialPanel } from './panels/trial.js';
import { usagePanel } from './panels/usage.js';
import type { Account, ConsoleConfig, Session } from './types.js';
import { announce, badge, busy, field, fmtInt, shortAddress } from './ui.js';
import {
  ApiError,
  chainIdOf,
  chainName,
  clearSession,
  createApi,
  errorText,
  loadSession,
  saveSession,
  signInMessage,
  currentChainId,
  onWalletEvent,
  personalSign,
  requestAccounts,
  switchChain,
  walletErrorKind,
  walletErrorMessage,
  watchWallets,
  type Api,
  type Eip1193Provider,
  type Page,
  type StoredSession,
  type TeamMembershipView,
  type Wallet,
} from '../../packages/web/src/index.js';

const mainEl = document.getElementById('main') as HTMLElement;
const accountEl = document.getElementById('account') as HTMLElement;

let config: ConsoleConfig | null = null;
/** The console's own sessionStorage slot, apart from dApps on the same origin using @siwe-keys/web's default. */
const SESSION_KEY = 'siwe-keys.console.session';
let stored: StoredSession | null = loadSession(Date.now(), SESSION_KEY);
let account: Account | null = null;
/** A one-off message for the sign-in screen (session ended, signed out). */
let notice: string | null = null;

const api = createApi({
  token: () => stored?.token ?? null,
  onSessionLost: () => endSession('Your session has ended (expired or signed out elsewhere). Sign in again.'),
});

// ---------------------------------------------------------------- teams: the switcher's state

/** The caller's teams (GET /v1/teams): joined ones and invitations it has not answered. */
let teams: TeamMembershipView[] = [];
/** The chosen team's id, or null for the personal account. Kept per wallet in localStorage (an id, no secret). */
let scope: string | null = null;
/** A one-off message above the panels (e.g. the chosen team is gone). */
let teamNotice: string | null = null;

const scopeKey = (address: string): string => `siwe-keys.console.team.${address.toLowerCase()}`;
function loadScope(address: string): string | null {
  try {
    return localStorage.getItem(scopeKey(address));
  } catch {
    return null;
  }
}
function saveScope(address: string, id: string | null): void {
  try {
    if (id) localStorage.setItem(scopeKey(address), id);
    else localStorage.removeItem(scopeKey(address));
  } catch {
    // storage refused: the choice lasts until the page is reloaded
  }
}

const joinedTeams = (): TeamMembershipView[] => teams.filter((t) => t.status !== 'invited');
const invitedTeams = (): TeamMembershipView[] => teams.filter((t) => t.status === 'invited');
function currentTeam(): TeamMembershipView | null {
  return scope ? (joinedTeams().find((t) => t.id === scope) ?? null) : null;
}

/**
 * Re-reads the caller's teams. If the chosen team is no longer among them (removed, left, deleted),
 * the console falls back to the personal account and says so. Re-renders when anything changed.
 */
async function refreshTeams(opts: { quiet?: boolean; render?: boolean } = {}): Promise<void> {
  if (!account) return;
  const before = JSON.stringify(teams);
  try {
    teams = (await api.get<Page<TeamMembershipView>>('/v1/teams')).data;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid_session') return;
    // Not an answer about membership (network, server): keep what is known and say so.
    teamNotice = `Could not read your teams: ${errorText(err)}`;
    if (opts.render !== false) renderSignedIn();
    return;
  }
  const lost = scope !== null && currentTeam() === null;
  if (lost) {
    const name = (JSON.parse(before) as TeamMembershipView[]).find((t) => t.id === scope)?.name;
    if (!opts.quiet) {
      teamNotice = `You are no longer a member of ${name ? `the team “${name}”` : 'that team'}. Showing your personal account.`;
    }
    scope = null;
    saveScope(account.address, null);
  }
  if (opts.render !== false && (lost || JSON.stringify(teams) !== before)) renderSignedIn();
}

function selectTeam(id: string | null, tab?: string): void {
  if (!account) return;
  scope = id && joinedTeams().some((t) => t.id === id) ? id : null;
  saveScope(account.address, scope);
  teamNotice = null;
  const next = tab ?? currentTab();
  const wanted = TABS.find((t) => t.id === next && tabVisible(t)) ? next : 'keys';
  if (location.hash !== `#${wanted}`) history.replaceState(null, '', `#${wanted}`);
  renderSignedIn();
  const team = currentTeam();
  announce(team ? `Now working in the team ${team.name} (${team.role}).` : 'Now working in your personal account.');
}

/**
 * The API the panels use: a 404 while a team is chosen may mean this wallet was just removed from
 * it, so the teams are re-read (and the switcher falls back to the personal account if so).
 */
const panelApi: Api = {
  ...api,
  get: <T>(path: string) => watch(api.get<T>(path)),
  post: <T>(path: string, body?: unknown) => watch(api.post<T>(path, body)),
  patch: <T>(path: string, body: unknown) => watch(api.patch<T>(path, body)),
  del: (path: string) => watch(api.del(path)),
  csv: (path: string) => watch(api.csv(path)),
};
function watch<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403) && scope) void refreshTeams();
    throw err;
  });
}

// ---------------------------------------------------------------- wallet state

type Problem = { kind: 'rejected' | 'pending' | 'unknown_chain' | 'other'; text: string } | null;

const wallet = {
  list: [] as Wallet[],
  searching: true,
  selected: null as Wallet | null,
  address: null as `0x${string}` | null,
  chainId: null as number | null,
  working: null as null | 'connecting' | 'switching' | 'signing',
  problem: null as Problem,
};
const subscribed = new WeakSet<Eip1193Provider>();

const listWallets = watchWallets((list) => {
  wallet.list = list;
  wallet.searching = false;
  if (!account) renderSignIn();
});
// Wallets announce synchronously in answer to the request; a short wait covers slow injections.
window.setTimeout(() => {
  wallet.list = listWallets();
  wallet.searching = false;
  if (!account && config) renderSignIn();
}, 400);

function chainAllowed(id: number | null): boolean {
  return id !== null && !!config && config.chain_ids.includes(id);
}

function problemFrom(err: unknown, action: 'connect' | 'switch' | 'sign'): Problem {
  if (err instanceof ApiError) return { kind: 'other', text: err.message };
  const kind = walletErrorKind(err);
  if (kind === 'rejected') {
    const what = action === 'connect' ? 'the connection request' : action === 'switch' ? 'the network switch' : 'the signature request';
    return { kind, text: `You rejected ${what} in your wallet. Nothing was signed.` };
  }
  if (kind === 'pending') return { kind, text: 'Your wallet already has a request waiting. Open the wallet and answer it first.' };
  if (kind === 'unknown_chain') return { kind, text: 'Your wallet does not know this network yet. Add it in the wallet, then try again.' };
  if (kind === 'unsupported')
    return { kind: 'other', text: 'Your wallet does not support this request. Switch the network in the wallet by hand.' };
  return { kind: 'other', text: walletErrorMessage(err) };
}

function subscribe(p: Eip1193Provider): void {
  if (subscribed.has(p)) return;
  subscribed.add(p);
  onWalletEvent(p, 'chainChanged', (v) => {
    if (wallet.selected?.provider !== p) return;
    wallet.chainId = chainIdOf(v);
    if (!account) renderSignIn();
  });
  onWalletEvent(p, 'accountsChanged', (v) => {
    if (wallet.selected?.provider !== p) return;
    const next = Array.isArray(v) && typeof v[0] === 'string' ? (v[0] as `0x${string}`) : null;
    wallet.address = next;
    if (!account) renderSignIn();
    else renderAccountMismatch();
  });
}

async function connect(w: Wallet): Promise<void> {
  wallet.selected = w;
  wallet.problem = null;
  wallet.working = 'connecting';
  renderSignIn();
  try {
    wallet.address = await requestAccounts(w.provider);
    wallet.chainId = await currentChainId(w.provider);
    subscribe(w.provider);
  } catch (err) {
    wallet.address = null;
    wallet.problem = problemFrom(err, 'connect');
    return;
  } finally {
    wallet.working = null;
    renderSignIn();
  }
  if (chainAllowed(wallet.chainId)) await signIn();
}

async function switchTo(chainId: number): Promise<void> {
  const w = wallet.selected;
  if (!w) return;
  wallet.problem = null;
  wallet.working = 'switching';
  renderSignIn();
  try {
    await switchChain(w.provider, chainId);
    wallet.chainId = await currentChainId(w.provider);
  } catch (err) {
    wallet.problem = problemFrom(err, 'switch');
  } finally {
    wallet.working = null;
    renderSignIn();
  }
}

async function signIn(): Promise<void> {
  const w = wallet.selected;
  if (!w || !wallet.address || !config || wallet.chainId === null) return;
  wallet.problem = null;
  wallet.working = 'signing';
  renderSignIn();
  try {
    const { nonce } = await api.get<{ nonce: string }>('/v1/auth/nonce');
    const message = signInMessage({ address: wallet.address, chainId: wallet.chainId, nonce, statement: config.statement });
    const signature = await personalSign(w.provider, message, wallet.address);
    const session = await api.post<Session>('/v1/auth/verify', { message, signature });
    stored = saveSession(session, SESSION_KEY);
    account = session.account;
    notice = null;
    wallet.working = null;
    announce(`Signed in as ${shortAddress(session.account.address)}.`);
    scope = loadScope(session.account.address);
    await refreshTeams({ quiet: true, render: false });
    renderSignedIn();
    return;
  } catch (err) {
    wallet.problem = problemFrom(err, 'sign');
  }
  wallet.working = null;
  renderSignIn();
}

// ---------------------------------------------------------------- sign-in screen

function walletButton(w: Wallet): HTMLElement {
  const b = h(
    'button',
    { type: 'button', class: 'wallet', 'data-wallet': w.info.name },
    w.info.icon
      ? h('img', { src: w.info.icon, alt: '', width: 28, height: 28 })
      : h('span', { class: 'wallet-icon', 'aria-hidden': 'true' }, '◆'),
    h('span', null, w.legacy ? 'Browser wallet (window.ethereum)' : w.info.name),
  );
  b.addEventListener('click', () => void connect(w));
  return b;
}

function walletView(): { state: string; body: Child[] } {
  const busyText =
    wallet.working === 'connecting'
      ? 'Waiting for your wallet to connect…'
      : wallet.working === 'switching'
        ? 'Waiting for your wallet to switch networks…'
        : wallet.working === 'signing'
          ? 'Check your wallet: sign the message to sign in.'
          : null;
  if (busyText) return { state: wallet.working as string, body: [h('p', { class: 'pending' }, busyText)] };
  if (wallet.searching && wallet.list.length === 0) return { state: 'searching', body: [h('p', null, 'Looking for wallets…')] };
  if (wallet.list.length === 0) {
    const reload = h('button', { type: 'button' }, 'Look again');
    reload.addEventListener('click', () => location.reload());
    return {
      state: 'no-wallet',
      body: [
        h('h3', null, 'No wallet found'),
        h('p', null, 'This browser has no Ethereum wallet. Install MetaMask or another wallet extension, unlock it, then look again.'),
        h(
          'p',
          null,
          h('a', { href: 'https://metamask.io/download/', rel: 'noopener noreferrer', target: '_blank' }, 'Get MetaMask'),
          ' ',
          reload,
        ),
      ],
    };
  }
  if (!wallet.selected || !wallet.address) {
    return {
      state: 'choose-wallet',
      body: [
        h('h3', { id: 'wallets-title' }, wallet.list.length > 1 ? 'Choose a wallet' : 'Connect your wallet'),
        h('ul', { class: 'wallets', 'aria-labelledby': 'wallets-title' }, ...wallet.list.map((w) => h('li', null, walletButton(w)))),
      ],
    };
  }
  const who = h(
    'p',
    null,
    'Wallet: ',
    h('strong', null, wallet.selected.info.name),
    ' · account ',
    h('code', { 'data-testid': 'wallet-address' }, wallet.address),
  );
  const other = h('button', { type: 'button', class: 'link' }, 'Use another wallet');
  other.addEventListener('click', () => {
    wallet.selected = null;
    wallet.address = null;
    wallet.problem = null;
    renderSignIn();
  });
  if (!chainAllowed(wallet.chainId)) {
    const allowed = config?.chain_ids ?? [];
    return {
      state: 'wrong-chain',
      body: [
        who,
        h('h3', null, 'Wrong network'),
        h(
          'p',
          null,
          'Your wallet is on ',
          h('strong', { 'data-testid': 'wallet-chain' }, wallet.chainId === null ? 'an unknown network' : chainName(wallet.chainId)),
          '. This service accepts sign-in on ',
          allowed.map(chainName).join(', '),
          '.',
        ),
        h(
          'div',
          { class: 'actions start' },
          ...allowed.map((id) => {
            const b = h('button', { type: 'button', class: 'primary', 'data-switch-chain': id }, `Switch to ${chainName(id)}`);
            b.addEventListener('click', () => void switchTo(id));
            return b;
          }),
        ),
        other,
      ],
    };
  }
  const sign = h('button', { type: 'button', class: 'primary', 'data-action': 'sign-in' }, 'Sign in with Ethereum');
  sign.addEventListener('click', () => void signIn());
  return {
    state: 'ready',
    body: [
      who,
      h('p', null, 'Network: ', wallet.chainId === null ? '' : chainName(wallet.chainId)),
      h('p', null, 'Signing a message proves you own this account. It costs nothing and sends no transaction.'),
      h('div', { class: 'actions start' }, sign),
      other,
    ],
  };
}

function renderSignIn(): void {
  if (!config) return;
  renderHeader();
  const view = walletView();
  const originNotice =
    config.origin !== location.origin
      ? h(
          'p',
          { class: 'notice', 'data-testid': 'origin-notice' },
          `This service accepts sign-in at ${config.origin}, but this page was opened at ${location.origin}; signing in here will be refused. `,
          h('a', { href: `${config.origin}/` }, `Open ${config.origin}`),
        )
      : null;
  const problem = wallet.problem
    ? h(
        'div',
        { class: 'error', role: 'alert', 'data-wallet-error': wallet.problem.kind },
        wallet.problem.text,
        wallet.problem.kind === 'rejected' && wallet.selected && wallet.address && chainAllowed(wallet.chainId)
          ? ' You can try again.'
          : '',
      )
    : null;
  replace(
    mainEl,
    h(
      'section',
      { class: 'card signin', 'aria-labelledby': 'signin-title', 'data-state': view.state },
      h('h2', { id: 'signin-title' }, 'Sign in with your wallet'),
      h('p', null, 'Create and manage API keys for the inference network. Your Ethereum account is your login: no password, no email.'),
      notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
      originNotice,
      problem,
      ...view.body,
    ),
  );
}

// ---------------------------------------------------------------- signed in

type Tab = 'keys' | 'usage' | 'trial' | 'domains' | 'team' | 'activity' | 'admin';
/** `team`: only while a team is chosen; `personal`: only for the personal account (the free trial stays personal). */
const TABS: { id: Tab; label: string; admin?: boolean; team?: boolean; personal?: boolean }[] = [
  { id: 'keys', label: 'API keys' },
  { id: 'usage', label: 'Usage' },
  { id: 'trial', label: 'Free trial', personal: true },
  { id: 'domains', label: 'Domains' },
  { id: 'team', label: 'Team', team: true },
  { id: 'activity', label: 'Activity' },
  { id: 'admin', label: 'Admin', admin: true },
];

function isAdmin(): boolean {
  return !!account?.roles.includes('admin');
}

function tabVisible(t: (typeof TABS)[number]): boolean {
  const inTeam = currentTeam() !== null;
  return (!t.admin || isAdmin()) && (!t.team || inTeam) && (!t.personal || !inTeam);
}

function currentTab(): Tab {
  const t = location.hash.slice(1) as Tab;
  const known = TABS.find((x) => x.id === t && tabVisible(x));
  return known ? known.id : 'keys';
}

const mismatchEl = h('div');

function renderAccountMismatch(): void {
  if (!account || !wallet.address || wallet.address.toLowerCase() === account.address.toLowerCase()) {
    replace(mismatchEl);
    return;
  }
  replace(
    mismatchEl,
    h(
      'p',
      { class: 'notice', role: 'status' },
      `Your wallet switched to ${shortAddress(wallet.address)}; this console is still signed in as ${shortAddress(account.address)}. Sign out and sign in again to use the other account.`,
    ),
  );
}

function ctx(): Ctx {
  return {
    api: panelApi,
    config: config as ConsoleConfig,
    account: () => account as Account,
    refreshAccount: async () => {
      account = await api.get<Account>('/v1/me');
      renderHeader();
      return account;
    },
    team: currentTeam,
    refreshTeams: () => refreshTeams(),
    selectTeam,
  };
}

function renderSignedIn(): void {
  if (!account || !config) return;
  renderHeader();
  const tab = currentTab();
  const c = ctx();
  const nav = h(
    'nav',
    { 'aria-label': 'Console sections', class: 'tabs' },
    ...TABS.filter(tabVisible).map((t) => {
      const b = h('button', { type: 'button', 'data-tab': t.id, 'aria-current': t.id === tab ? 'page' : null }, t.label);
      b.addEventListener('click', () => {
        if (location.hash !== `#${t.id}`) history.replaceState(null, '', `#${t.id}`);
        teamNotice = null;
        renderSignedIn();
        (document.querySelector(`[data-tab="${t.id}"]`) as HTMLElement | null)?.focus();
        // Roles and memberships change from other wallets: re-read them on every move.
        void refreshTeams();
      });
      return b;
    }),
  );
  const team = currentTeam();
  let panel: HTMLElement;
  switch (tab) {
    case 'team':
      panel = team ? teamPanel(c, team) : keysPanel(c);
      break;
    case 'trial':
      panel = trialPanel(c, renderHeader);
      break;
    case 'domains':
      panel = domainsPanel(c);
      break;
    case 'usage':
      panel = usagePanel(c);
      break;
    case 'activity':
      panel = auditPanel(c, { title: 'Your activity', path: '/v1/audit', showActor: false });
      break;
    case 'admin':
      panel = adminPanel(c, renderHeader);
      break;
    default:
      panel = keysPanel(c);
  }
  renderAccountMismatch();
  replace(
    mainEl,
    nav,
    mismatchEl,
    teamNotice ? h('p', { class: 'notice', role: 'status', 'data-testid': 'team-notice' }, teamNotice) : null,
    invitationsCard(c, invitedTeams()),
    h('div', { class: 'panel', 'data-panel': tab, 'data-scope': team ? `team:${team.id}` : 'personal' }, panel),
  );
}

/** "Personal" or one of the caller's teams (with its role): the choice scopes keys, domains and usage. */
function teamSwitcher(): HTMLElement {
  const select = h(
    'select',
    { 'data-testid': 'team-switcher', name: 'team' },
    h('option', { value: '' }, 'Personal'),
    ...joinedTeams().map((t) => h('option', { value: t.id, selected: t.id === scope }, `${t.name} (${t.role})`)),
  );
  select.value = currentTeam()?.id ?? '';
  select.addEventListener('change', () => selectTeam(select.value || null));
  const create = h('button', { type: 'button', 'data-action': 'create-team' }, 'New team');
  create.addEventListener('click', () => {
    void createTeamDialog(ctx()).then(async (created) => {
      if (!created) return;
      announce(`Team ${created.name} created. You are its owner.`);
      await refreshTeams();
      selectTeam(created.id, 'team');
    });
  });
  return h('div', { class: 'switcher' }, field({ label: 'Working in', control: select }), create);
}

function renderHeader(): void {
  if (!account) {
    replace(accountEl);
    return;
  }
  const out = h('button', { type: 'button', 'data-action': 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => void busy(out, null, signOut));
  const all = h(
    'button',
    { type: 'button', 'data-action': 'sign-out-all', title: 'Revoke every session of this account, in every browser' },
    'Sign out everywhere',
  );
  all.addEventListener('click', () => void busy(all, null, signOutEverywhere));
  replace(
    accountEl,
    teamSwitcher(),
    h(
      'div',
      { class: 'who' },
      h('code', { title: account.address, 'data-testid': 'account-address' }, shortAddress(account.address)),
      badge(account.plan, 'plan'),
      account.credits !== null
        ? h('span', { class: 'credits', 'data-testid': 'header-credits' }, `${fmtInt(account.credits)} credits`)
        : null,
      isAdmin() ? badge('admin', 'admin') : null,
    ),
    out,
    all,
  );
}

function endSession(message: string | null): void {
  clearSession(SESSION_KEY);
  stored = null;
  account = null;
  teams = [];
  scope = null;
  teamNotice = null;
  notice = message;
  wallet.problem = null;
  if (location.hash) history.replaceState(null, '', location.pathname);
  renderSignIn();
}

async function signOut(): Promise<void> {
  try {
    await api.post('/v1/auth/logout');
    endSession('You are signed out. The session was revoked.');
  } catch (err) {
    // The token stays valid on the server until it expires; say so rather than pretend.
    endSession(
      err instanceof ApiError && err.code === 'invalid_session'
        ? 'You are signed out.'
        : `Signed out in this tab, but the service could not revoke the session: ${errorText(err)}`,
    );
  }
  announce('Signed out.');
}

async function signOutEverywhere(): Promise<void> {
  try {
    await api.post('/v1/auth/logout-all');
  } catch (err) {
    // A lost session already ended this tab (onSessionLost). Anything else: the other sessions may
    // still be alive, so stay signed in and say so; the person can try again.
    if (err instanceof ApiError && err.code === 'invalid_session') return;
    announce(`Could not sign out everywhere: ${errorText(err)}`);
    return;
  }
  endSession('You are signed out everywhere: every session of this account was revoked.');
  announce('Signed out everywhere.');
}

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  try {
    config = await api.get<ConsoleConfig>('/console/config.json');
  } catch (err) {
    const retry = h('button', { type: 'button' }, 'Try again');
    retry.addEventListener('click', () => location.reload());
    replace(mainEl, h('div', { class: 'error', role: 'alert' }, `The console could not load its settings: ${errorText(err)}`), retry);
    return;
  }
  if (stored) {
    try {
      account = await api.get<Account>('/v1/me');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'invalid_session')) notice = `Could not restore your session: ${errorText(err)}`;
      clearSession(SESSION_KEY);
      stored = null;
      account = null;
    }
  }
  if (account) {
    // The chosen team is restored once the teams are read (it must still be one of them).
    scope = loadScope(account.address);
    await refreshTeams({ quiet: true, render: false });
    renderSignedIn();
  } else renderSignIn();
  window.addEventListener('hashchange', () => {
    if (account) renderSignedIn();
  });
}

void start();
