/**
 * Browser-test support: the real service on a free port, Debian's headless Chromium through
 * playwright-core, and a test wallet injected into pages as an EIP-1193 provider.
 *
 * The wallet is the one thing outside the system that is simulated (a person's browser extension):
 * its keys live in this process as viem local accounts; the page talks to it through a Playwright
 * binding, and it announces itself through EIP-6963 like a real extension.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { hexToString, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { loadConfig, type Env } from '../../src/config.js';
import { startNodeServer, type NodeService } from '../../src/node.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/screenshots', import.meta.url));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface TestServer {
  origin: string;
  service: NodeService;
  close(): Promise<void>;
}

/**
 * The real Node server on a temporary SQLite file. PUBLIC_URL must equal the origin the browser
 * loads, and PORT 0 would only tell us the port after the config was fixed, so a free port is
 * picked first (retried if something grabs it in between).
 */
export async function startServer(env: Env = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'siwe-keys-browser-'));
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: origin,
      DATABASE_URL: `file:${join(dir, 'console.db')}`,
      LOG_LEVEL: 'silent',
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
      ...env,
    });
    try {
      const service = await startNodeServer(config);
      return {
        origin,
        service,
        close: async () => {
          await service.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

export async function launchChromium(): Promise<Browser> {
  // playwright-core gives every launch a fresh temporary user-data-dir and deletes it on close.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// ---------------------------------------------------------------- the test wallet

interface RpcAnswer {
  result?: unknown;
  error?: { code: number; message: string };
  events?: [string, unknown][];
}

export interface TestWalletOptions {
  name?: string;
  rdns?: string;
  chainId?: number;
  /** Chains the wallet knows; switching to another answers 4902. */
  chains?: number[];
  account?: PrivateKeyAccount;
}

export class TestWallet {
  readonly account: PrivateKeyAccount;
  readonly uuid = crypto.randomUUID();
  readonly name: string;
  readonly rdns: string;
  chainId: number;
  readonly chains: number[];
  /** Every method the page called, in order. */
  readonly calls: string[] = [];
  /** The exact texts the wallet signed. */
  readonly signed: string[] = [];
  private readonly rejections = new Map<string, number>();

  constructor(opts: TestWalletOptions = {}) {
    this.account = opts.account ?? privateKeyToAccount(generatePrivateKey());
    this.name = opts.name ?? 'Test Wallet';
    this.rdns = opts.rdns ?? 'org.example.testwallet';
    this.chainId = opts.chainId ?? 1;
    this.chains = opts.chains ?? [1, 10, 137, 8453, 11155111];
  }

  get address(): `0x${string}` {
    return this.account.address;
  }

  /** The next `times` calls of `method` answer as if the person clicked "Reject" (EIP-1193 4001). */
  rejectNext(method: string, times = 1): void {
    this.rejections.set(method, (this.rejections.get(method) ?? 0) + times);
  }

  async handle(method: string, params: unknown[]): Promise<RpcAnswer> {
    this.calls.push(method);
    const left = this.rejections.get(method) ?? 0;
    if (left > 0) {
      this.rejections.set(method, left - 1);
      return { error: { code: 4001, message: 'User rejected the request.' } };
    }
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        // Wallets commonly answer lower-case addresses; the page must not depend on checksums.
        return { result: [this.address.toLowerCase()] };
      case 'eth_chainId':
        return { result: `0x${this.chainId.toString(16)}` };
      case 'wallet_switchEthereumChain': {
        const target = Number.parseInt(String((params[0] as { chainId?: string } | undefined)?.chainId), 16);
        if (!this.chains.includes(target)) return { error: { code: 4902, message: `Unrecognized chain ID ${target}.` } };
        this.chainId = target;
        return { result: null, events: [['chainChanged', `0x${target.toString(16)}`]] };
      }
      case 'personal_sign': {
        const [data, from] = params as [Hex, string];
        if (String(from).toLowerCase() !== this.address.toLowerCase()) return { error: { code: 4100, message: 'Unknown account.' } };
        this.signed.push(hexToString(data));
        return { result: await this.account.signMessage({ message: { raw: data } }) };
      }
      default:
        return { error: { code: 4200, message: `Unsupported method ${method}.` } };
    }
  }
}

interface WalletSpec {
  index: number;
  info: { uuid: string; name: string; icon: string; rdns: string };
  announce: boolean;
  legacy: boolean;
}

const ICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#3949ab"/><path d="M8 16h16M16 8v16" stroke="#fff" stroke-width="4"/></svg>')}`;

/**
 * Injects wallets into every page of the context before any page script runs: each one answers
 * EIP-6963 discovery (`announce`) and/or sits at `window.ethereum` (`legacy`).
 */
export async function installWallets(
  context: BrowserContext,
  wallets: { wallet: TestWallet; announce?: boolean; legacy?: boolean }[],
): Promise<void> {
  await context.exposeBinding('__testWalletRequest', (_source, index: number, method: string, params: unknown[]) =>
    wallets[index].wallet.handle(method, params ?? []),
  );
  const specs: WalletSpec[] = wallets.map((w, index) => ({
    index,
    info: { uuid: w.wallet.uuid, name: w.wallet.name, icon: ICON, rdns: w.wallet.rdns },
    announce: w.announce ?? true,
    legacy: w.legacy ?? false,
  }));
  await context.addInitScript((list: WalletSpec[]) => {
    type Listener = (value: unknown) => void;
    const call = (window as unknown as { __testWalletRequest: (i: number, m: string, p: unknown[]) => Promise<RpcAnswer> })
      .__testWalletRequest;
    for (const spec of list) {
      const listeners: Record<string, Listener[]> = {};
      const provider = {
        async request(args: { method: string; params?: unknown[] }): Promise<unknown> {
          const answer = await call(spec.index, args.method, args.params ?? []);
          for (const [event, value] of answer.events ?? []) for (const fn of listeners[event] ?? []) fn(value);
          if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
          return answer.result;
        },
        on(event: string, fn: Listener) {
          (listeners[event] ??= []).push(fn);
          return provider;
        },
        removeListener(event: string, fn: Listener) {
          listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn);
          return provider;
        },
      };
      if (spec.announce) {
        const detail = Object.freeze({ info: Object.freeze({ ...spec.info }), provider });
        const announce = (): void => {
          window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }));
        };
        window.addEventListener('eip6963:requestProvider', announce);
        announce();
      }
      if (spec.legacy) (window as unknown as { ethereum: unknown }).ethereum = provider;
    }
  }, specs);
}

// ---------------------------------------------------------------- page helpers

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  // The status toast would cover content in a full-page capture; an empty toast is hidden. (The
  // screenshot `style` option would inject an inline style, which the page's CSP rightly refuses.)
  await page.evaluate(() => {
    const toast = document.getElementById('status');
    if (toast) toast.textContent = '';
  });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Collects CSP violations and page errors so a test can assert there were none. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`csp: ${msg.text()}`);
  });
  return problems;
}

export const SESSION_STORAGE_KEY = 'siwe-keys.console.session';

export async function storedToken(page: Page): Promise<string | null> {
  const raw = await page.evaluate((k) => sessionStorage.getItem(k), SESSION_STORAGE_KEY);
  return raw ? (JSON.parse(raw) as { token: string }).token : null;
}

/** A console page in a fresh browser context with the given wallets injected and its problems watched. */
export interface OpenedConsole {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

export async function openConsole(
  browser: Browser,
  origin: string,
  wallets: { wallet: TestWallet; announce?: boolean; legacy?: boolean }[],
  opts: { viewport?: { width: number; height: number }; acceptDownloads?: boolean; onPage?: (page: Page) => void } = {},
): Promise<OpenedConsole> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 900 },
    acceptDownloads: opts.acceptDownloads,
  });
  context.setDefaultTimeout(15_000);
  if (wallets.length) await installWallets(context, wallets);
  const page = await context.newPage();
  const problems = watchProblems(page);
  opts.onPage?.(page);
  await page.goto(`${origin}/`);
  return { context, page, problems };
}

/** Picks the wallet on the sign-in screen and waits until the console is signed in. */
export async function signInOnPage(page: Page, wallet: TestWallet): Promise<void> {
  await page.getByRole('button', { name: wallet.name }).click();
  await page.locator('[data-action="sign-out"]').waitFor();
}
