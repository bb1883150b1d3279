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
import type { Logger } from './logger.js';
import { WebhookWorker, type WebhookRuntime } from './services/webhook-delivery.js';
import { outboxHint } from './services/webhook-events.js';
import { setWebhookHostResolver } from './services/webhooks.js';
import { nodeSender, resolveAll } from './webhook-sender-node.js';

/** Opens the configured database (SQLite file or memory; PostgreSQL is added by its dialect). */
export async function openDatabase(config: Config): Promise<Kysely<Database>> {
  if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
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
export async function createNodeService(config: Config, opts: { clock?: Clock; logger?: Logger; db?: Kysely<Database> } = {}): Promise<NodeService> {
  const db = opts.db ?? (await openDatabase(config));
  await migrateToLatest(db);
  const deps = await createDeps({
    db,
    config,
    clock: opts.clock,
    logger: opts.logger,
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
  const app = createApp(deps);
  setWebhookHostResolver(resolveAll);
  const runtime: WebhookRuntime = { db, clock: deps.clock, config: config.webhooks, logger: deps.logger, send: nodeSender };
  const webhooks = { runtime, worker: new WebhookWorker(runtime, (wake) => outboxHint.subscribe(wake)) };
  const flushTimer = setInterval(() => {
    deps.lastUsed.flush().catch((err: unknown) => deps.logger.warn('last_used flush failed', { error: String(err) }));
  }, deps.lastUsed.intervalMs);
  flushTimer.unref();
  return {
    app,
    deps,
    db,
    webhooks,
    close: async () => {
      clearInterval(flushTimer);
      await webhooks.worker.stop();
      await deps.lastUsed.flush().catch(() => undefined);
      await db.destroy();
    },
  };
}

/** Starts listening; resolves once the port is bound. */
export async function startNodeServer(config: Config, opts: { clock?: Clock; logger?: Logger } = {}): Promise<NodeService> {
  const svc = await createNodeService(config, opts);
  svc.webhooks.worker.start();
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: svc.app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
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
