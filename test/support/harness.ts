import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateKeyToAccount, generatePrivateKey, type PrivateKeyAccount } from 'viem/accounts';
import { afterAll } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Env } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createNodeService, type NodeService } from '../../src/node.js';
import { buildSiweMessage } from './siwe-message.js';
import { createPgTestDatabase } from './postgres.js';

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

// ---- Workers target: the real worker under workerd with a local D1 (npm run worker:dev) ----

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  logs: string[];
  exited: Promise<void>;
}

const WORKER_START_TIMEOUT_MS = 150_000;

/** Kills the whole process group (worker-dev, wrangler, workerd, esbuild) that spawn() started. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export interface WorkerDevOptions {
  /** Another wrangler config (a probe worker in tests). */
  config?: string;
  /** Which /healthz status means "up" (default 200; a misconfigured worker answers 503). */
  readyStatus?: number;
  /** Keep the local D1 in this folder (default: a fresh temporary one per start). */
  persistTo?: string;
  /** More `wrangler dev` arguments (e.g. --test-scheduled, for the Cron Trigger route). */
  args?: string[];
}

/**
 * Starts `npm run worker:dev` (fresh local D1, migrations applied) on a free port and waits for
 * /healthz. Stop it with stopWorkerDev; it is also killed when the test process exits.
 */
export async function startWorkerDev(vars: Env, opts: WorkerDevOptions = {}): Promise<WorkerProcess> {
  hookExit();
  const w = await spawnWorker(vars, opts);
  liveChildren.add(w.child);
  void w.exited.then(() => liveChildren.delete(w.child));
  return w;
}

async function spawnWorker(
  vars: Env,
  { config, readyStatus = 200, persistTo, args: extra = [] }: WorkerDevOptions,
): Promise<WorkerProcess> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = ['scripts/worker-dev.mjs', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspectorPort)];
  if (config) args.push('--config', config);
  if (persistTo) args.push('--persist-to', persistTo);
  args.push(...extra);
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) args.push('--var', `${k}:${v}`);
  // detached: its own process group, so close() (and a crashed test run's exit hook) can end
  // wrangler and workerd too, not only the script.
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: 'true' },
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`worker:dev exited before answering /healthz:\n${logs.slice(-40).join('\n')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === readyStatus) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`worker:dev did not answer /healthz within ${WORKER_START_TIMEOUT_MS / 1000}s:\n${logs.slice(-40).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, base, logs, exited };
}

export async function stopWorkerDev(w: WorkerProcess): Promise<void> {
  killGroup(w.child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(w.child, 'SIGKILL'), 10_000);
  await w.exited;
  clearTimeout(timer);
  // wrangler and workerd are in the same group; make sure none outlives the script.
  killGroup(w.child, 'SIGKILL');
}

// One worker per test file and set of vars: starting workerd and wrangler takes seconds, so the
// describes of a file share it (and its D1 state). All are stopped after the file's last test,
// and killed on exit if the run dies first.
const workers = new Map<string, Promise<WorkerProcess>>();
if (process.env.VITEST) {
  afterAll(async () => {
    const all = [...workers.values()];
    workers.clear();
    await Promise.all(all.map(async (p) => stopWorkerDev(await p).catch(() => undefined)));
  });
}
const liveChildren = new Set<ChildProcess>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = (): void => {
    for (const c of liveChildren) killGroup(c, 'SIGKILL');
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

export const workersTarget: Target = {
  name: 'workers+d1',
  start: async (opts = {}) => {
    const vars = baseEnv(opts.env);
    const key = JSON.stringify(vars);
    let p = workers.get(key);
    if (!p) {
      p = startWorkerDev(vars);
      workers.set(key, p);
      p.catch(() => workers.delete(key));
    }
    // The worker is shared by the file's describes; the file-level afterAll stops it.
    return workerHarness(await p, async () => undefined);
  },
};

/** A Harness over a running worker:dev; close defaults to stopping it. */
export function workerHarness(w: WorkerProcess, close: () => Promise<void> = () => stopWorkerDev(w)): Harness {
  return {
    name: 'workers+d1',
    logs: w.logs,
    request: async (path, init) => {
      const send = (): Promise<Response> => fetch(new URL(path, w.base), { redirect: 'manual', ...init });
      const res = await send();
      // wrangler dev's local proxy (not our worker, not production): after the worker refuses a
      // chunked body without reading it (413), its pooled connection to the worker breaks and it
      // answers the next non-GET request itself with this 503, without passing it on. Send it again.
      if (
        res.status === 503 &&
        !(init?.body instanceof ReadableStream) &&
        (await res.clone().text()).startsWith('Your worker restarted mid-request')
      ) {
        return send();
      }
      return res;
    },
    close,
  };
}

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

// ---- client helpers ----

export function newWallet(): PrivateKeyAccount {
  return privateKeyToAccount(generatePrivateKey());
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function post(
  h: Harness,
  path: string,
  body: unknown,
  token?: string,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
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
export function siweText(
  address: string,
  nonce: string,
  now: Date,
  overrides: Partial<Parameters<typeof buildSiweMessage>[0]> = {},
): string {
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
