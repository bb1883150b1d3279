// Cloudflare Workers entry. Imports nothing Node-only (no node.ts, no better-sqlite3, no pg):
// test/worker-bundle.test.ts bundles this file for workerd and fails if any of them sneak in.
import type { ExecutionContext } from 'hono';
import { createApp, type App } from './app.js';
import { createDeps } from './bootstrap.js';
import { ConfigError, loadConfig, type Env } from './config.js';
import { openD1, type D1Database } from './db/dialects/d1.js';
import { AppError, errorBody } from './errors.js';
import { randomBase62 } from './ids.js';

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

async function build(env: WorkerEnv): Promise<App> {
  if (!env.DB) throw new ConfigError('invalid configuration: DB: the D1 binding is missing (see wrangler.toml)');
  const config = loadConfig(configEnv(env));
  // The schema comes from `wrangler d1 migrations apply` (schema/d1), not from kysely's migrator:
  // D1 keeps its own migration ledger, and the worker must not race it on cold start.
  const deps = await createDeps({
    db: openD1(env.DB),
    config,
    // Cloudflare sets it on every request from the edge; it cannot be forged by the client.
    clientIp: (c) => c.req.header('cf-connecting-ip') ?? null,
  });
  return createApp(deps);
}

// Built once per isolate on the first request (bindings only exist inside fetch), then reused.
let app: Promise<App> | undefined;

export default {
  async fetch(req: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    if (!app) {
      app = build(env);
      // A failed start (bad config, D1 not migrated) is retried on the next request, not cached.
      app.catch(() => {
        app = undefined;
      });
    }
    let ready: App;
    try {
      ready = await app;
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : `start-up failed: ${err instanceof Error ? err.message : String(err)}`;
      console.error(message);
      const rid = `req_${randomBase62(22)}`;
      return Response.json(errorBody(new AppError('service_unavailable', 'The service is not configured correctly.'), rid), {
        status: 503,
        headers: { 'x-request-id': rid },
      });
    }
    return ready.fetch(req, env, ctx);
  },
};
