import { baseEnv, type Harness, httpHarness } from './harness.js';
import { createPgTestDatabase } from './postgres.js';
import { freePort, startServeProcess } from './process.js';

export type ServeProcess = Awaited<ReturnType<typeof startServeProcess>>;

/** Two real `siwe-keys serve` processes on one fresh PostgreSQL database, started (and migrating) at the same time. */
export interface PgPair {
  db: { url: string; drop(): Promise<void> };
  a: ServeProcess;
  b: ServeProcess;
  ha: Harness;
  hb: Harness;
  stop(): Promise<void>;
}

export async function startPgPair(pgUrl: string): Promise<PgPair> {
  const db = await createPgTestDatabase(pgUrl);
  const env = baseEnv({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', HOST: '127.0.0.1' });
  const [a, b] = await Promise.all([
    startServeProcess({ ...env, PORT: String(await freePort()) }),
    startServeProcess({ ...env, PORT: String(await freePort()) }),
  ]);
  return {
    db,
    a,
    b,
    ha: httpHarness(a.url),
    hb: httpHarness(b.url),
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await db.drop();
    },
  };
}

/**
 * The revocation bound across instances on PostgreSQL (README): a change reaches the other instances
 * when its NOTIFY is delivered, milliseconds after the commit. The writer's answer can reach the client
 * before the other instance has read the notification, so "at once" is held to this bound, polled every
 * 5 ms, rather than to the very next request.
 */
export const NOTIFY_BOUND_MS = 2000;

/** Reads until `ok` holds or the NOTIFY bound has passed (polled every 5 ms); returns the last value read. */
export async function within<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const until = Date.now() + NOTIFY_BOUND_MS;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}
