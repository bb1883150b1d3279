/**
 * The service under test as the HTTP suites see it: the Harness and Target types, the test
 * origin and admin wallet every target is configured with, and the targets themselves (Node on
 * SQLite and PostgreSQL in process, the Worker under workerd: ./workerd.ts).
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Env } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createNodeService, type NodeService } from '../../src/node.js';
import { createPgTestDatabase } from './postgres.js';
import { sharedWorker, workerHarness } from './workerd.js';

export const TEST_ORIGIN = 'http://localhost:8787';
export const TEST_DOMAIN = 'localhost:8787';

/**
 * One running service under test. `request` goes through the whole HTTP stack. `clock` is present
 * when the target's time can be moved by the test (in-process targets); suites that need it skip
 * on targets without it (the Workers target has none: a `clock` passed to its start() is ignored).
 */
export interface Harness {
  name: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  clock?: ManualClock;
  service?: NodeService;
  logs: string[];
  close(): Promise<void>;
}

/** A Harness for a service some test started itself (a process, a cluster): plain HTTP to `url`. */
export function httpHarness(url: string, name = url): Harness {
  return { name, logs: [], request: (p, init) => fetch(new URL(p, url), init), close: async () => undefined };
}

export interface TargetOptions {
  env?: Env;
  clock?: ManualClock;
}

export interface Target {
  name: string;
  start(opts?: TargetOptions): Promise<Harness>;
}

/** The admin wallet: every target lists it in ADMIN_ADDRESSES (signInAdmin in ./auth.ts signs in with it). */
export const ADMIN_KEY = generatePrivateKey();
export const ADMIN_ACCOUNT = privateKeyToAccount(ADMIN_KEY);

/** The environment every target starts with; `extra` overrides it. */
export function baseEnv(extra?: Env): Env {
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

async function inProcess(
  name: string,
  databaseUrl: string | (() => Promise<{ url: string; drop(): Promise<void> }>),
  opts: TargetOptions = {},
): Promise<Harness> {
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

/** The real worker under workerd with a local D1 (npm run worker:dev), shared by the describes of a file. */
export const workersTarget: Target = {
  name: 'workers+d1',
  // The worker is shared by the file's describes; the file-level afterAll stops it.
  start: async (opts = {}) => workerHarness(await sharedWorker(baseEnv(opts.env)), async () => undefined),
};

/** The targets the HTTP suites run against: SQLite always; PostgreSQL and Workers when enabled. */
export function targets(): Target[] {
  const list: Target[] = [sqliteTarget];
  if (process.env.TEST_POSTGRES_URL) list.push(postgresTarget);
  if (process.env.TEST_WORKERS === '1') list.push(workersTarget);
  return list;
}

/**
 * The in-process targets (Node on SQLite and PostgreSQL). For suites that read the service's own
 * log lines or drive thousands of random requests: under workerd the logs arrive mixed with
 * wrangler's own output and random paths can address wrangler's dev proxy instead of the worker.
 */
export function nodeTargets(): Target[] {
  return targets().filter((t) => t !== workersTarget);
}
