/**
 * The gateway's overhead: autocannon against a fake OpenAI-compatible upstream directly, through a
 * bare fetch proxy (the floor of any proxy built on fetch), and through the gateway (with the real
 * key service on a SQLite file, and with a stub key service that answers "valid" at once, to separate
 * the gateway's own cost from the verification's). Each gateway request makes three HTTP calls:
 * verify, upstream, and the usage report after the answer.
 *
 * Every server runs in its own process so the load generator does not share an event loop with what
 * it measures. Run: npm run bench:gateway [-- --connections 20 --duration 3 --rounds 3] (also part of npm run bench).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const SELF = fileURLToPath(import.meta.url);
const CHAT_BODY = JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'Say hello.' }] });
const CHAT_ANSWER = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  model: 'llama-3-8b',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
});

// ---- child roles: each prints "ready <url>" once listening ----

async function role(name: string): Promise<void> {
  const ready = (url: string): void => console.log(`ready ${url}`);
  if (name === 'upstream') {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(CHAT_ANSWER);
      });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1', () => ready(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    return;
  }
  if (name === 'service') {
    const { loadConfig } = await import('../src/config.js');
    const { startNodeServer } = await import('../src/node.js');
    const svc = await startNodeServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: 'http://localhost:8787', DATABASE_URL: `file:${process.env.BENCH_DB}`, LOG_LEVEL: 'silent' }),
    );
    ready(svc.url as string);
    return;
  }
  if (name === 'stub') {
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    const app = new Hono();
    app.post('/v1/verify', (c) =>
      c.json({ valid: true, code: 'valid', key_id: 'key_stub', account: '0x0', type: 'network', scopes: ['inference:read', 'inference:write'], models: null, expires_at: null, credits_remaining: null, charged: 0, ratelimit: { limit: null, remaining: null, reset: 60 } }),
    );
    app.post('/v1/usage', (c) => c.json({ recorded: true, id: 'u', charged: 0, uncharged: 0, credits_remaining: null }, 201));
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => ready(`http://127.0.0.1:${info.port}`));
    void s;
    return;
  }
  if (name === 'bareproxy') {
    // The floor of any fetch-based proxy: one upstream fetch per request, no key, no metering.
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    const upstream = process.env.BENCH_UPSTREAM as string;
    const app = new Hono();
    app.all('*', async (c) => {
      const res = await fetch(`${upstream}${c.req.path}`, { method: c.req.method, headers: { 'content-type': 'application/json' }, body: await c.req.arrayBuffer() });
      return new Response(res.body, { status: res.status, headers: res.headers });
    });
    serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => ready(`http://127.0.0.1:${info.port}`));
    return;
  }
  if (name === 'gateway') {
    const { runGatewayCommand } = await import('../src/gateway/node.js');
    // runGatewayCommand prints "listening on URL"; translate for the parent.
    const log = console.log;
    console.log = (...args: unknown[]) => {
      const m = /^listening on (\S+)/.exec(String(args[0]));
      log(m ? `ready ${m[1]}` : args.join(' '));
    };
    await runGatewayCommand(['--port', '0', '--host', '127.0.0.1', '--price-input', '1', '--price-output', '2'], process.env);
    return;
  }
  throw new Error(`unknown role ${name}`);
}

// ---- the parent ----

const children: ChildProcess[] = [];

function start(name: string, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--role', name], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'], // the gateway's JSON logs are produced (their cost counts) and dropped
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, connections: number, duration: number): Promise<Omit<Figures, 'name'>> {
  const r = await autocannon({ url: `${url}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: CHAT_BODY, connections, duration });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Rounds alternate between the targets, so a burst of load from elsewhere on the machine hits all
 * of them alike; each figure is the median over the rounds.
 */
async function compare(targets: { name: string; url: string; headers: Record<string, string> }[], connections: number, duration: number, rounds: number): Promise<Figures[]> {
  for (const t of targets) await load(t.url, t.headers, connections, 1); // warm-up: JIT, connection pools, SQLite cache
  const runs = new Map<string, Omit<Figures, 'name'>[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < rounds; i++) for (const t of targets) runs.get(t.name)?.push(await load(t.url, t.headers, connections, duration));
  return targets.map((t) => {
    const rs = runs.get(t.name) ?? [];
    return { name: t.name, rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), errors: rs.reduce((n, r) => n + r.errors, 0) };
  });
}

async function json(res: Response): Promise<any> {
  const body = await res.json();
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function main(): Promise<void> {
  // Flags, else the variables bench/run.ts reads too.
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '20' },
      duration: { type: 'string', default: process.env.BENCH_SECONDS ?? '3' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const connections = Number(values.connections);
  const duration = Number(values.duration);
  const rounds = Number(values.rounds);
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-bench-gw-'));
  try {
    const [upstream, service, stub] = await Promise.all([start('upstream'), start('service', { BENCH_DB: join(dir, 'keys.db') }), start('stub')]);

    // A signed-in operator with a network key and a network domain, over HTTP like any client.
    const { privateKeyToAccount, generatePrivateKey } = await import('viem/accounts');
    const { createSiweMessage } = await import('viem/siwe');
    const account = privateKeyToAccount(generatePrivateKey());
    const { nonce } = await json(await fetch(`${service}/v1/auth/nonce`));
    const message = createSiweMessage({ domain: 'localhost:8787', address: account.address, statement: 'Bench.', uri: 'http://localhost:8787', version: '1', chainId: 1, nonce, issuedAt: new Date() });
    const { token } = await json(await fetch(`${service}/v1/auth/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, signature: await account.signMessage({ message }) }) }));
    const post = async (path: string, body: unknown): Promise<any> =>
      json(await fetch(`${service}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) }));
    const { key } = await post('/v1/keys', { name: 'bench' });
    const { token: domainToken } = await post('/v1/domains', { name: 'bench-node.example.org' });

    const bareProxy = await start('bareproxy', { BENCH_UPSTREAM: upstream });
    const gwReal = await start('gateway', { GATEWAY_SERVICE_URL: service, GATEWAY_UPSTREAM: upstream, GATEWAY_DOMAIN_TOKEN: domainToken });
    const gwStub = await start('gateway', { GATEWAY_SERVICE_URL: stub, GATEWAY_UPSTREAM: upstream, GATEWAY_DOMAIN_TOKEN: 'stub' });

    const auth = { authorization: `Bearer ${key}` };
    const results = await compare(
      [
        { name: 'upstream directly', url: upstream, headers: {} },
        { name: 'bare fetch proxy (no checks)', url: bareProxy, headers: {} },
        { name: 'gateway + stub key service', url: gwStub, headers: auth },
        { name: 'gateway + real key service', url: gwReal, headers: auth },
      ],
      connections,
      duration,
      rounds,
    );

    console.log(`\ngateway overhead: POST /v1/chat/completions (non-streaming), ${connections} connections, median of ${rounds} x ${duration} s rounds`);
    console.log(`machine: ${cpus().length} cores, load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after\n`);
    console.log(`${'target'.padEnd(30)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}`);
    for (const r of results) console.log(`${r.name.padEnd(30)} ${r.rps.toFixed(0).padStart(9)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${String(r.errors).padStart(7)}`);
    const [direct, bare, stubbed, real] = results;
    const pct = (a: Figures, b: Figures): string => `${((a.rps / b.rps) * 100).toFixed(0)}%`;
    console.log(
      `\ngateway req/s: ${pct(stubbed, bare)} (stub key service) and ${pct(real, bare)} (real key service) of the bare fetch proxy's, ` +
        `${pct(stubbed, direct)} / ${pct(real, direct)} of the upstream's; ` +
        `p99 +${(stubbed.p99 - bare.p99).toFixed(1)} / +${(real.p99 - bare.p99).toFixed(1)} ms over the bare proxy`,
    );
    if (results.some((r) => r.errors > 0)) {
      console.error('some requests failed: the figures above are not valid');
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values: top } = parseArgs({ options: { role: { type: 'string' } }, strict: false });
if (typeof top.role === 'string') void role(top.role);
else
  main().catch((err: unknown) => {
    console.error(err);
    for (const c of children) c.kill('SIGTERM');
    process.exit(1);
  });
