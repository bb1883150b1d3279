import { privateKeyToAccount, generatePrivateKey, type PrivateKeyAccount } from 'viem/accounts';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Env } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createNodeService, type NodeService } from '../../src/node.js';
import { buildSiweMessage } from '../../src/services/siwe.js';
import { createPgTestDatabase } from './postgres.js';

export const TEST_ORIGIN = 'http://localhost:8787';
export const TEST_DOMAIN = 'localhost:8787';

/**
 * One running service under test. `request` goes through the whole HTTP stack. `clock` is present
 * when the target's time can be moved by the test (in-process targets); suites that need it skip
 * on targets without it.
 */
export interface Harness {
  name: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  clock?: ManualClock;
  service?: NodeService;
  logs: string[];
  close(): Promise<void>;
}

export interface TargetOptions {
  env?: Env;
  clock?: ManualClock;
}

export interface Target {
  name: string;
  start(opts?: TargetOptions): Promise<Harness>;
}

export const ADMIN_KEY = generatePrivateKey();
export const ADMIN_ACCOUNT = privateKeyToAccount(ADMIN_KEY);

function baseEnv(extra?: Env): Env {
  return {
    PUBLIC_URL: TEST_ORIGIN,
    ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    LOG_LEVEL: 'debug',
    // Suites sign in hundreds of wallets from one address; the abuse suite turns these back on.
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
    ...extra,
  };
}

async function inProcess(name: string, databaseUrl: string | (() => Promise<{ url: string; drop(): Promise<void> }>), opts: TargetOptions = {}): Promise<Harness> {
  const clock = opts.clock ?? new ManualClock(new Date());
  const logs: string[] = [];
  let drop: (() => Promise<void>) | undefined;
  let url: string;
  if (typeof databaseUrl === 'string') url = databaseUrl;
  else ({ url, drop } = await databaseUrl());
  const config = loadConfig(baseEnv({ DATABASE_URL: url, ...opts.env }));
  const service = await createNodeService(config, { clock, logger: createLogger('debug', (l) => logs.push(l)) });
  return {
    name,
    clock,
    service,
    logs,
    request: async (path, init) => service.app.request(new URL(path, TEST_ORIGIN).toString(), init),
    close: async () => {
      await service.close();
      await drop?.();
    },
  };
}

export const sqliteTarget: Target = { name: 'node+sqlite', start: (opts) => inProcess('node+sqlite', ':memory:', opts) };

export const postgresTarget: Target = {
  name: 'node+postgres',
  start: (opts) => inProcess('node+postgres', () => createPgTestDatabase(process.env.TEST_POSTGRES_URL as string), opts),
};

/** The targets the HTTP suites run against: SQLite always; PostgreSQL and Workers when enabled. */
export function targets(): Target[] {
  const list: Target[] = [sqliteTarget];
  if (process.env.TEST_POSTGRES_URL) list.push(postgresTarget);
  return list;
}

// ---- client helpers ----

export function newWallet(): PrivateKeyAccount {
  return privateKeyToAccount(generatePrivateKey());
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function post(h: Harness, path: string, body: unknown, token?: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  return h.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extraHeaders },
    body: JSON.stringify(body),
  });
}

export function patch(h: Harness, path: string, body: unknown, token?: string): Promise<Response> {
  return h.request(path, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

export function get(h: Harness, path: string, token?: string): Promise<Response> {
  return h.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

export function del(h: Harness, path: string, token?: string): Promise<Response> {
  return h.request(path, { method: 'DELETE', headers: token ? { authorization: `Bearer ${token}` } : {} });
}

export async function getNonce(h: Harness): Promise<string> {
  const res = await get(h, '/v1/auth/nonce');
  if (res.status !== 200) throw new Error(`nonce: ${res.status}`);
  return (await json<{ nonce: string }>(res)).nonce;
}

/** The message a well-behaved client builds for this origin, with overrides for attacks. */
export function siweText(address: string, nonce: string, now: Date, overrides: Partial<Parameters<typeof buildSiweMessage>[0]> = {}): string {
  return buildSiweMessage({
    domain: TEST_DOMAIN,
    address,
    statement: 'Sign in to siwe-keys.',
    uri: TEST_ORIGIN,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: now.toISOString(),
    ...overrides,
  });
}

export interface SignedIn {
  token: string;
  address: `0x${string}`;
  account: PrivateKeyAccount;
  body: any;
}

/** Signs in with a viem local account exactly as a client would. */
export async function signIn(h: Harness, account: PrivateKeyAccount = newWallet()): Promise<SignedIn> {
  const nonce = await getNonce(h);
  const now = h.clock ? h.clock.now() : new Date();
  const message = siweText(account.address, nonce, now);
  const signature = await account.signMessage({ message });
  const res = await post(h, '/v1/auth/verify', { message, signature });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(body)}`);
  return { token: body.token, address: account.address, account, body };
}

export async function signInAdmin(h: Harness): Promise<SignedIn> {
  return signIn(h, ADMIN_ACCOUNT);
}
