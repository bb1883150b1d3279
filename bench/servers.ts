// Benchmark targets, run as a child process so the load generator does not share its event loop.
//   tsx bench/servers.ts verify <dbfile> [big]  -> the real service on SQLite, prints READY {json};
//                                                 `big` first stores 1,000,000 keys and 10,000 domains
//   tsx bench/servers.ts bare                   -> a bare Hono handler of the same shape
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import SqliteDatabase from 'better-sqlite3';
import { Hono } from 'hono';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startNodeServer } from '../src/node.js';
import { bufferedLines } from '../src/node-log.js';
import { benchSession } from './session.js';

const mode = process.argv[2];

/** Many keys and domains, written straight into the file in one transaction (the API would take hours). */
function seedBig(file: string, keys: number, domains: number): number {
  const started = Date.now();
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = OFF');
  raw.pragma('cache_size = -262144');
  const now = Date.now();
  const accounts = Array.from({ length: 1000 }, () => `0x${randomBytes(20).toString('hex')}`);
  const hex = () => randomBytes(32).toString('hex');
  const addAccount = raw.prepare("INSERT INTO accounts (address, plan, credits, created_at) VALUES (?, 'network', NULL, ?)");
  const addDomain = raw.prepare(
    "INSERT INTO domains (id, name, visibility, owner, token_hash, token_hint, created_at) VALUES (?, ?, 'network', ?, ?, 'sk_dom_…seed', ?)",
  );
  const addKey = raw.prepare(
    "INSERT INTO api_keys (id, account, name, type, scopes, hash, hint, status, created_at) VALUES (?, ?, ?, 'network', '[\"inference:read\",\"inference:write\"]', ?, 'sk_net_…seed', 'active', ?)",
  );
  raw.transaction(() => {
    for (const a of accounts) addAccount.run(a, now);
    for (let i = 0; i < domains; i++) addDomain.run(`dom_seed_${i}`, `seed-${i}.bench.example`, accounts[i % accounts.length], hex(), now);
    // Hashes in sorted order and ids that sort the same way: both unique indexes grow at the end.
    const hashes = Array.from({ length: keys }, hex).sort();
    for (let i = 0; i < keys; i++) {
      const n = String(i).padStart(8, '0');
      addKey.run(`key_seed_${n}`, accounts[i % accounts.length], `seed-${n}`, hashes[i], now);
    }
  })();
  raw.close();
  return Date.now() - started;
}

if (mode === 'bare') {
  // Same shape as /v1/verify: POST, bearer header, JSON body parsed, JSON answer.
  const app = new Hono();
  app.post('/v1/verify', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const body = (await c.req.json()) as { key: string };
    return c.json({
      valid: auth.length > 0 && body.key.length > 0,
      code: 'valid',
      key_id: 'key_x',
      ratelimit: { limit: null, remaining: null, reset: 60 },
    });
  });
  const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
    console.log(`READY ${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}`);
  });
  process.on('SIGTERM', () => s.close(() => process.exit(0)));
} else if (mode === 'verify') {
  const origin = 'http://localhost:8787';
  const file = process.argv[3];
  const big = process.argv[4] === 'big';
  const config = loadConfig({
    PORT: '0',
    PUBLIC_URL: origin,
    DATABASE_URL: `file:${file}`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  });
  // The service's own batched JSON-lines writer, on stderr (stdout carries the READY line).
  const sink = bufferedLines(process.stderr);
  const svc = await startNodeServer(config, { logger: createLogger(config.logLevel, sink.write) });
  const base = svc.url as string;
  const { token, post } = await benchSession(fetch, base, origin);
  const domain = await post('/v1/domains', { name: 'bench.example.org' });
  if (!domain.token) throw new Error(`setup failed: ${JSON.stringify(domain)} token=${String(token).slice(0, 12)}`);
  const key = await post('/v1/keys', { name: 'bench' });
  const limited = await post('/v1/keys', { name: 'bench-rpm', limits: { rpm: 1_000_000 } });
  const seedMs = big ? seedBig(file, Number(process.env.BENCH_KEYS ?? 1_000_000), Number(process.env.BENCH_DOMAINS ?? 10_000)) : 0;
  console.log(`READY ${JSON.stringify({ url: base, domainToken: domain.token, key: key.key, limitedKey: limited.key, seedMs })}`);
  process.on('SIGTERM', () => void svc.close().then(() => process.exit(0)));
}
