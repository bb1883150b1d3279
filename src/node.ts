import { createHash } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Kysely } from 'kysely';
import { createApp } from './app.js';
import { resolveClientIp } from './client-ip.js';
import { createDeps } from './bootstrap.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { openSqlite } from './db/dialects/sqlite.js';
import { migrateToLatest } from './db/migrate.js';
import type { Database } from './db/schema.js';
import type { AppDeps } from './deps.js';
import { createDomainChecker, dohResolver, type DomainResolver } from './services/domain-proof.js';
import { nodeDnsResolver, pinnedProofFetcher } from './services/domain-proof-node.js';
import { changeCounter } from './db/hot-queries.js';
import { createLogger, type Logger } from './logger.js';
import { withVerifyFastPath } from './node-fast-path.js';
import { bufferedLines } from './node-log.js';
import { useSha256Hex } from './services/key-format.js';
import { RecordCache } from './services/record-cache.js';
import { RpmBlocks } from './services/rpm-blocks.js';

// node:crypto's SHA-256 is several times faster per call than the portable one; same digest.
useSha256Hex((s) => createHash('sha256').update(s).digest('hex'));

/** How long start-up waits for the PostgreSQL listener before serving with the cache bypassed. */
const LISTENER_START_WAIT_MS = 2_000;

const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);
import { WebhookWorker, type WebhookRuntime } from './services/webhook-delivery.js';
import { outboxHint } from './services/webhook-events.js';
import { setWebhookHostResolver } from './services/webhooks.js';
import { nodeSender, resolveAll } from './webhook-sender-node.js';

/** Opens the configured database (SQLite file or memory; PostgreSQL is added by its dialect). */
export async function openDatabase(config: Config): Promise<Kysely<Database>> {
  if (isPostgresUrl(config.databaseUrl)) {
    const { openPostgres } = await import('./db/dialects/postgres.js');
    return openPostgres(config.databaseUrl);
  }
  return openSqlite(config.databaseUrl).db;
}

export interface NodeService {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  db: Kysely<Database>;
  server?: ServerType;
  url?: string;
  /** The webhook delivery runtime; `serve` runs its worker loop, tests may drive runWebhooksOnce. */
  webhooks: { runtime: WebhookRuntime; worker: WebhookWorker };
  close(drainMs?: number): Promise<void>;
}

/** Database, migrations, dependencies and app, without listening (tests use app.request). */
export async function createNodeService(
  config: Config,
  opts: { clock?: Clock; logger?: Logger; db?: Kysely<Database>; domainResolver?: DomainResolver } = {},
): Promise<NodeService> {
  const db = opts.db ?? (await openDatabase(config));
  await migrateToLatest(db);
  // Without a logger of the caller's: JSON lines to stdout, batched per event-loop turn.
  const sink = opts.logger ? undefined : bufferedLines();
  const logger = opts.logger ?? createLogger(config.logLevel, sink?.write);
  if (sink) process.once('exit', sink.flush);
  const deps = await createDeps({
    db,
    config,
    clock: opts.clock,
    logger,
    domainChecker: createDomainChecker(
      opts.domainResolver ??
        (config.domainCheck.dohUrl
          ? dohResolver(config.domainCheck.dohUrl, config.domainCheck.timeoutMs)
          : nodeDnsResolver(config.domainCheck.timeoutMs)),
      pinnedProofFetcher,
      config.domainCheck,
    ),
    clientIp: (c) => {
      let peer: string | null = null;
      try {
        peer = getConnInfo(c).remote.address ?? null;
      } catch {
        peer = null; // app.request() in tests has no socket
      }
      return resolveClientIp(peer, c.req.header('x-forwarded-for'), config.trustProxy);
    },
  });
  // Key and domain-token records in memory, invalidated by this instance's writes, by other
  // processes' writes to a SQLite file (data_version) and by PostgreSQL NOTIFY (see the README).
  const records = new RecordCache({ changeCounter: changeCounter(db) });
  const detach = records.attach(db);
  const listener = isPostgresUrl(config.databaseUrl)
    ? (await import('./db/pg-listen.js')).listenForRecordChanges(config.databaseUrl, records, logger)
    : undefined;
  if (listener) {
    // Start with the cache on (it is bypassed until the LISTEN is in place); a database that does
    // not answer in time only means verifications read it until the listener connects.
    let waited: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([listener.ready, new Promise<void>((r) => (waited = setTimeout(r, LISTENER_START_WAIT_MS)))]);
    clearTimeout(waited);
  }
  deps.records = records;
  deps.rpm = new RpmBlocks(db);
  const app = createApp(deps);
  setWebhookHostResolver(resolveAll);
  const runtime: WebhookRuntime = { db, clock: deps.clock, config: config.webhooks, logger: deps.logger, send: nodeSender };
  const webhooks = { runtime, worker: new WebhookWorker(runtime, (wake) => outboxHint.subscribe(wake)) };
  const flushTimer = setInterval(() => {
    deps.lastUsed.flush().catch((err: unknown) => deps.logger.warn('last_used flush failed', { error: String(err) }));
  }, deps.lastUsed.intervalMs);
  flushTimer.unref();
  const statsTimer = setInterval(() => {
    deps.verifyStats.flush().catch((err: unknown) => deps.logger.warn('verification stats flush failed', { error: String(err) }));
  }, deps.verifyStats.intervalMs);
  statsTimer.unref();
  return {
    app,
    deps,
    db,
    webhooks,
    close: async () => {
      clearInterval(flushTimer);
      clearInterval(statsTimer);
      await webhooks.worker.stop();
      detach();
      await listener?.close();
      await deps.lastUsed.flush().catch(() => undefined);
      await deps.verifyStats.flush().catch((err: unknown) => deps.logger.warn('verification stats flush failed', { error: String(err) }));
      if (sink) {
        sink.flush();
        process.off('exit', sink.flush);
      }
      await db.destroy();
    },
  };
}

/** Starts listening; resolves once the port is bound. */
export async function startNodeServer(
  config: Config,
  opts: {
    clock?: Clock;
    logger?: Logger /** false: every request through Hono (the equivalence test's reference). */;
    fastPath?: boolean;
  } = {},
): Promise<NodeService> {
  const svc = await createNodeService(config, opts);
  svc.webhooks.worker.start();
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve(
      {
        fetch: svc.app.fetch,
        port: config.port,
        hostname: config.host,
        // POST /v1/verify is answered ahead of Hono (same answers, a fraction of the cost).
        createServer: ((options: object, listener: RequestListener) =>
          createServer(options, opts.fastPath === false ? listener : withVerifyFastPath(svc.deps, listener))) as typeof createServer,
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    ...svc,
    server,
    url: `http://${host}:${port}`,
    /**
     * Graceful: stop accepting, let in-flight requests finish (idle keep-alive sockets close at
     * once), force the rest after drainMs, then flush batched writes and close the database.
     */
    close: async (drainMs = 10_000) => {
      const http = server as import('node:http').Server;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      http.closeIdleConnections?.();
      const timer = setTimeout(() => http.closeAllConnections?.(), drainMs);
      timer.unref();
      await drained;
      clearTimeout(timer);
      await svc.close();
    },
  };
}
