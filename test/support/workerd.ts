/**
 * The Worker under test: `npm run worker:dev` (wrangler and workerd with a fresh local D1) on a
 * free port, stopped with its whole process group, and a Harness over it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { Env } from '../../src/config.js';
import type { Harness } from './targets.js';

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

/** The file's worker for these vars, started on first use (see the afterAll above). */
export function sharedWorker(vars: Env): Promise<WorkerProcess> {
  const key = JSON.stringify(vars);
  let p = workers.get(key);
  if (!p) {
    p = startWorkerDev(vars);
    workers.set(key, p);
    p.catch(() => workers.delete(key));
  }
  return p;
}

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
