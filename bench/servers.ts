// Benchmark targets, run as a child process so the load generator does not share its event loop.
//   tsx bench/servers.ts verify <dbfile>   -> the real service on SQLite, prints READY {json}
//   tsx bench/servers.ts bare              -> a bare Hono handler of the same shape
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startNodeServer } from '../src/node.js';
import { createSiweMessage } from 'viem/siwe';

const mode = process.argv[2];

if (mode === 'bare') {
  // Same shape as /v1/verify: POST, bearer header, JSON body parsed, JSON answer.
  const app = new Hono();
  app.post('/v1/verify', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const body = (await c.req.json()) as { key: string };
    return c.json({ valid: auth.length > 0 && body.key.length > 0, code: 'valid', key_id: 'key_x', ratelimit: { limit: null, remaining: null, reset: 60 } });
  });
  const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
    console.log(`READY ${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}`);
  });
  process.on('SIGTERM', () => s.close(() => process.exit(0)));
} else if (mode === 'verify') {
  const origin = 'http://localhost:8787';
  const config = loadConfig({ PORT: '0', PUBLIC_URL: origin, DATABASE_URL: `file:${process.argv[3]}`, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent' });
  const svc = await startNodeServer(config, { logger: createLogger(config.logLevel, (l) => process.stderr.write(`${l}\n`)) });
  const base = svc.url as string;
  const account = privateKeyToAccount(generatePrivateKey());
  const { nonce } = (await (await fetch(`${base}/v1/auth/nonce`)).json()) as { nonce: string };
  const message = createSiweMessage({ domain: 'localhost:8787', address: account.address, uri: origin, version: '1', chainId: 1, nonce, issuedAt: new Date() });
  const signature = await account.signMessage({ message });
  const { token } = (await (await fetch(`${base}/v1/auth/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, signature }) })).json()) as { token: string };
  const post = async (path: string, body: unknown): Promise<any> =>
    (await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) })).json();
  const domain = await post("/v1/domains", { name: "bench.example.org" });
  if (!domain.token) throw new Error(`setup failed: ${JSON.stringify(domain)} token=${String(token).slice(0, 12)}`);
  const key = await post('/v1/keys', { name: 'bench' });
  const limited = await post('/v1/keys', { name: 'bench-rpm', limits: { rpm: 1_000_000 } });
  console.log(`READY ${JSON.stringify({ url: base, domainToken: domain.token, key: key.key, limitedKey: limited.key })}`);
  process.on('SIGTERM', () => void svc.close().then(() => process.exit(0)));
}
