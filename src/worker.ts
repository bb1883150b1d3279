// Cloudflare Workers entry. Imports nothing Node-only (no node.ts, no better-sqlite3, no pg):
// test/worker-bundle.test.ts bundles this file for workerd and fails if any of them sneak in.
import type { ExecutionContext } from 'hono';
import { createApp, type App } from './app.js';
import { createDeps } from './bootstrap.js';
import type { AppDeps } from './deps.js';
import { ConfigError, loadConfig, type Env } from './config.js';
import { openD1, type D1Database } from './db/dialects/d1.js';
import { AppError, errorBody } from './errors.js';
import { randomBase62 } from './ids.js';
import { fastPathEligible, handleVerify } from './routes/verify-http.js';
import { LastUsedTracker } from './services/last-used.js';
import { fetchSender, runWebhooksOnce, type WebhookRuntime } from './services/webhook-delivery.js';
import { outboxHint } from './services/webhook-events.js';

/** Bindings from wrangler.toml ([vars], [[d1_databases]]) and wrangler secrets (JWT_PRIVATE_KEY). */
export interface WorkerEnv {
  DB: D1Database;
  [name: string]: unknown;
}

/** String bindings become the configuration; D1 is the only database on Workers. */
function configEnv(env: WorkerEnv): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  out.DATABASE_URL = 'd1';
  return out;
}

/**
 * last_used_at writes are batched off the hot path; on Workers work left running after the
 * response is only guaranteed to finish when handed to ctx.waitUntil, so each request hands over
 * the flushes in flight when it ends.
 */
class WorkerLastUsed extends LastUsedTracker {
  private readonly inflight = new Set<Promise<void>>();

  override touch(keyId: string, at: number): Promise<void> | null {
    const flush = super.touch(keyId, at);
    if (flush) {
      const settled = flush.catch(() => undefined);
      this.inflight.add(settled);
      void settled.then(() => this.inflight.delete(settled));
    }
    return flush;
  }

  inFlight(): Promise<unknown> | null {
    return this.inflight.size > 0 ? Promise.all(this.inflight) : null;
  }
}

interface Built {
  app: App;
  deps: AppDeps;
  lastUsed: WorkerLastUsed;
  verifyStats: AppDeps['verifyStats'];
  webhooks: WebhookRuntime;
}

async function build(env: WorkerEnv): Promise<Built> {
  if (!env.DB) throw new ConfigError('invalid configuration: DB: the D1 binding is missing (see wrangler.toml)');
  const config = loadConfig(configEnv(env));
  const db = openD1(env.DB);
  const lastUsed = new WorkerLastUsed(db);
  // The schema comes from `wrangler d1 migrations apply` (schema/d1), not from kysely's migrator:
  // D1 keeps its own migration ledger, and the worker must not race it on cold start.
  const deps = await createDeps({
    db,
    config,
    lastUsed,
    // Cloudflare sets it on every request from the edge; it cannot be forged by the client.
    clientIp: (c) => c.req.header('cf-connecting-ip') ?? null,
  });
  // No record cache on Workers: isolates share no memory and no invalidation reaches them, so every
  // verification reads D1 (revocation at once, as on Node).
  const webhooks: WebhookRuntime = { db, clock: deps.clock, config: config.webhooks, logger: deps.logger, send: fetchSender };
  return { app: createApp(deps), deps, lastUsed, verifyStats: deps.verifyStats, webhooks };
}

/** "/v1/verify?x" from "https://host/v1/verify?x", without building a URL object. */
function pathAndQuery(url: string): string {
  const i = url.indexOf('/', url.indexOf('//') + 2);
  return i < 0 ? '/' : url.slice(i);
}

// Built once per isolate on the first request (bindings only exist inside fetch), then reused.
let built: Promise<Built> | undefined;

function ensureBuilt(env: WorkerEnv): Promise<Built> {
  if (!built) {
    built = build(env);
    // A failed start (bad config, D1 not migrated) is retried on the next request, not cached.
    built.catch(() => {
      built = undefined;
    });
  }
  return built;
}

/** Webhook sends never fail a request or a cron run; they are retried from the outbox. */
function drainWebhooks(b: Built, opts: { schedule?: boolean; maxAttempts?: number }): Promise<void> {
  return runWebhooksOnce(b.webhooks, opts).then(
    () => undefined,
    (err: unknown) => b.webhooks.logger.warn('webhook drain failed', { error: err instanceof Error ? err.message : String(err) }),
  );
}

/** Minimal shape of the Cron Trigger's controller (only what is used). */
interface ScheduledController {
  cron: string;
  scheduledTime: number;
}

export default {
  async fetch(req: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    const hintsBefore = outboxHint.count;
    let ready: Built;
    try {
      ready = await ensureBuilt(env);
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : `start-up failed: ${err instanceof Error ? err.message : String(err)}`;
      console.error(message);
      const rid = `req_${randomBase62(22)}`;
      return Response.json(errorBody(new AppError('service_unavailable', 'The service is not configured correctly.'), rid), {
        status: 503,
        headers: { 'x-request-id': rid },
      });
    }
    // Pre-router: POST /v1/verify with a declared length skips the Hono pipeline (same answers).
    const h = req.headers;
    const contentLength = h.get('content-length') ?? undefined;
    let res: Response;
    if (fastPathEligible(req.method, pathAndQuery(req.url), contentLength, h.get('transfer-encoding') ?? undefined)) {
      const out = await handleVerify(ready.deps, {
        authorization: h.get('authorization') ?? undefined,
        contentType: h.get('content-type') ?? undefined,
        contentLength: contentLength as string,
        requestId: h.get('x-request-id') ?? undefined,
        text: () => req.text(),
      });
      res = new Response(out.body, { status: out.status, headers: out.headers });
    } else {
      res = await ready.app.fetch(req, env, ctx);
    }
    const flushing = ready.lastUsed.inFlight();
    if (flushing) ctx.waitUntil(flushing);
    // Verification counts are flushed per request batching: a request that finds the last flush
    // 5 s old starts one, and it is handed to waitUntil here so it completes after the response.
    const statsFlush = ready.verifyStats.inFlight();
    if (statsFlush) ctx.waitUntil(statsFlush);
    // Events this request wrote go out now, after the response; the Cron Trigger catches the rest.
    if (outboxHint.count !== hintsBefore) ctx.waitUntil(drainWebhooks(ready, { maxAttempts: 50 }));
    return res;
  },

  /** Cron Trigger (wrangler.toml [triggers]): expiry notices, then everything due in the outbox. */
  async scheduled(_controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext): Promise<void> {
    const ready = await ensureBuilt(env);
    ctx.waitUntil(drainWebhooks(ready, { schedule: true }));
  },
};
