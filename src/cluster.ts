// Node only: `serve --workers N` and `gateway --workers N`, several processes on one port (node:cluster).
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

/** What one serving process runs: listen, and later drain. */
export interface Running {
  url: string;
  close(drainMs?: number): Promise<void>;
}

export interface ServeOptions {
  /** Processes to run; 1 serves in this process with no cluster. */
  workers: number;
  /** Once, in the primary, before any worker starts (migrations). Not run when workers is 1. */
  prepare?: () => Promise<void>;
  /** In each serving process: start listening. */
  start: () => Promise<Running>;
  /** Once the service answers on every worker (or on the only process). */
  onListening: (url: string) => void;
  drainMs: number;
  log?: (line: string) => void;
}

export class WorkersError extends Error {
  override name = 'WorkersError';
}

const MAX_WORKERS = 256;

/** `--workers` / its variable: a whole number from 1, or `auto` (one per core). Default 1. */
export function parseWorkers(value: string | undefined, name: string): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return availableParallelism();
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new WorkersError(`invalid configuration: ${name}: expected a whole number from 1 to ${MAX_WORKERS}, or "auto" (one per core)`);
  }
  return Number(value);
}

/**
 * Serves with `workers` processes. Returns once listening (the caller keeps the process alive).
 * SIGTERM/SIGINT drain: every process stops accepting, finishes what it holds (up to drainMs),
 * then exits; the primary exits after its workers.
 */
export async function serveWithWorkers(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  if (cluster.isWorker) return runWorker(opts);
  if (opts.workers <= 1) {
    const running = await opts.start();
    opts.onListening(running.url);
    onStopSignal((signal) => {
      log(`${signal}: draining in-flight requests`);
      running.close(opts.drainMs).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    return;
  }
  await opts.prepare?.();
  return runPrimary(opts, log);
}

function onStopSignal(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const once = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', () => once('SIGINT'));
  process.on('SIGTERM', () => once('SIGTERM'));
}

async function runWorker(opts: ServeOptions): Promise<void> {
  const running = await opts.start();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    running.close(opts.drainMs).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // From the primary (its SIGTERM), from a terminal's Ctrl-C (the whole process group), or when
  // the primary is gone (the IPC channel closes): never outlive the supervisor.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

function runPrimary(opts: ServeOptions, log: (line: string) => void): Promise<void> {
  const wanted = opts.workers;
  const listening = new Set<number>();
  let announced = false;
  let stopping = false;
  /** Quick successive crashes back off so a worker that cannot start does not spin the CPU. */
  let quickCrashes = 0;

  const fork = (): Worker => {
    const w = cluster.fork();
    const startedAt = Date.now();
    w.on('exit', (code, signal) => {
      listening.delete(w.id);
      if (stopping) return;
      if (!announced) {
        // It could not start (port taken, database unreachable...): restarting would fail the same
        // way, so stop the others and fail like a single process does (a supervisor retries).
        stopping = true;
        log(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}) before the service was up; stopping`);
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        process.exit(1);
      }
      const lived = Date.now() - startedAt;
      quickCrashes = lived < 5000 ? quickCrashes + 1 : 0;
      const delay = quickCrashes === 0 ? 0 : Math.min(100 * 2 ** (quickCrashes - 1), 10_000);
      log(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting a replacement${delay ? ` in ${delay} ms` : ''}`);
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
    return w;
  };

  return new Promise<void>((resolve) => {
    cluster.on('listening', (w, address) => {
      listening.add(w.id);
      log(`worker ${w.process.pid} listening (${listening.size}/${wanted})`);
      if (!announced && listening.size === wanted) {
        announced = true;
        const host =
          typeof address.address === 'string' && address.address.includes(':') ? `[${address.address}]` : (address.address ?? '127.0.0.1');
        opts.onListening(`http://${host}:${address.port}`);
        resolve();
      }
    });
    for (let i = 0; i < wanted; i++) fork();
    // The primary holds no timers of its own: the workers' IPC channels keep it alive.
    onStopSignal((signal) => {
      stopping = true;
      log(`${signal}: draining in-flight requests on ${Object.keys(cluster.workers ?? {}).length} workers`);
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      let failed = false;
      let left = workers.length;
      if (left === 0) process.exit(0);
      for (const w of workers) {
        w.once('exit', (code) => {
          if (code !== 0) failed = true;
          if (--left === 0) process.exit(failed ? 1 : 0);
        });
        w.process.kill('SIGTERM');
      }
      // A worker that does not finish within its drain time (plus its own close) is killed.
      setTimeout(() => {
        for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      }, opts.drainMs + 5000).unref();
    });
  });
}
