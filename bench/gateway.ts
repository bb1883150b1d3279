/**
 * The gateway's overhead, the figures of issue 11: autocannon against a fake OpenAI-compatible upstream
 * directly, through a bare keep-alive node:http proxy (the floor of any proxy: one pooled upstream
 * request per request, no key, no metering), and through the gateway with the real key service on a
 * SQLite file, at 20 connections (throughput) and at 1 connection (the latency the gateway adds).
 * Each gateway request costs a verification and its share of a batched usage report.
 *
 * Every server runs in its own process so the load generator does not share an event loop with what
 * it measures. Rounds alternate between the targets and each figure is the median over the rounds.
 * Run: npm run bench:gateway [-- --connections 20 --duration 3 --rounds 3 --stub] (also part of npm run bench).
 * `--stub` adds a gateway in front of a key service stub that answers "valid" at once; `--verify` adds
 * the key service's POST /v1/verify asked directly (what each gateway request waits for).
 * BENCH_CPU_PROF=DIR writes a V8 CPU profile of each gateway and key service process there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { benchSession } from './session.js';

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
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        PUBLIC_URL: 'http://localhost:8787',
        DATABASE_URL: `file:${process.env.BENCH_DB}`,
        LOG_LEVEL: 'silent',
      }),
    );
    // A clean exit on SIGTERM, so --cpu-prof (BENCH_CPU_PROF) writes its profile.
    process.once('SIGTERM', () => process.exit(0));
    ready(svc.url as string);
    return;
  }
  if (name === 'stub') {
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    const app = new Hono();
    app.post('/v1/verify', (c) =>
      c.json({
        valid: true,
        code: 'valid',
        key_id: 'key_stub',
        account: '0x0',
        type: 'network',
        scopes: ['inference:read', 'inference:write'],
        models: null,
        expires_at: null,
        credits_remaining: null,
        charged: 0,
        ratelimit: { limit: null, remaining: null, reset: 60 },
      }),
    );
    app.post('/v1/usage', (c) => c.json({ recorded: true, id: 'u', charged: 0, uncharged: 0, credits_remaining: null }, 201));
    app.post('/v1/usage/batch', async (c) => {
      const { records } = (await c.req.json()) as { records: { request_id: string }[] };
      return c.json(
        {
          results: records.map((r) => ({
            recorded: true,
            request_id: r.request_id,
            id: 'u',
            charged: 0,
            uncharged: 0,
            credits_remaining: null,
          })),
        },
        200,
      );
    });
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => ready(`http://127.0.0.1:${info.port}`));
    void s;
    return;
  }
  if (name === 'bareproxy') {
    // The floor of any proxy: node:http in, one request on a keep-alive agent out, bodies piped, no key, no metering.
    const target = new URL(process.env.BENCH_UPSTREAM as string);
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const server = createServer((req, res) => {
      const out = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: {
            'content-type': req.headers['content-type'] ?? 'application/json',
            'content-length': req.headers['content-length'] ?? '0',
          },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(out);
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1', () => ready(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
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
/** Each server's process id, by its URL. */
const pids = new Map<string, number>();

/**
 * CPU milliseconds a process has used (user + system, from /proc; Linux only, else 0). On a busy
 * machine req/s and latency measure the scheduler as much as the code; CPU time per request does not.
 */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

function start(name: string, env: Record<string, string> = {}): Promise<string> {
  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of each gateway and key service process there when it stops (--cpu-prof).
  const prof =
    (name === 'gateway' || name === 'service') && process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', SELF, '--role', name], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'], // the gateway's JSON logs are produced (their cost counts) and dropped
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\S+)/.exec(out);
      if (m) {
        if (child.pid) pids.set(m[1], child.pid);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** Milliseconds per request; at one connection this is 1000 / rps. */
  mean: number;
  /** CPU microseconds per request: of the process the client talks to, and of every server process behind it. */
  cpuFront: number;
  cpuAll: number;
  errors: number;
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The server processes a request goes through, the one the client talks to first. */
  servers: string[];
  /** Default: POST /v1/chat/completions with a small chat body. */
  path?: string;
  body?: string;
}

/** Runs `run`, adding the CPU time per request each of the target's processes spent meanwhile. */
async function withCpu(t: Target, run: () => Promise<Omit<Figures, 'cpuFront' | 'cpuAll'> & { count: number }>): Promise<Figures> {
  const ids = t.servers.map((u) => pids.get(u) ?? 0);
  const before = ids.map(cpuMs);
  const { count, ...r } = await run();
  const used = ids.map((id, i) => cpuMs(id) - before[i]);
  const per = (ms: number): number => (count > 0 ? (ms * 1000) / count : 0);
  return { ...r, cpuFront: per(used[0]), cpuAll: per(used.reduce((a, b) => a + b, 0)) };
}

/** Many connections: autocannon (its percentiles are whole milliseconds). */
function load(t: Target, connections: number, duration: number): Promise<Figures> {
  return withCpu(t, async () => {
    const r = await autocannon({
      url: `${t.url}${t.path ?? '/v1/chat/completions'}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...t.headers },
      body: t.body ?? CHAT_BODY,
      connections,
      duration,
    });
    return {
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      mean: r.latency.mean,
      errors: r.errors + r.non2xx + r.timeouts,
      count: r.requests.total,
    };
  });
}

/** One connection, one request at a time, each timed in microseconds (what one client waits). */
function loadOne(t: Target, duration: number): Promise<Figures> {
  return withCpu(t, () => loadOneRun(t, duration));
}

async function loadOneRun(t: Target, duration: number): Promise<Omit<Figures, 'cpuFront' | 'cpuAll'> & { count: number }> {
  const pool = new Pool(t.url, { connections: 1 });
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + duration * 1000;
  const startAll = performance.now();
  try {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await pool.request({
        path: t.path ?? '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...t.headers },
        body: t.body ?? CHAT_BODY,
      });
      await r.body.arrayBuffer();
      times.push(performance.now() - t0);
      if (r.statusCode !== 200) errors++;
    }
  } finally {
    await pool.close();
  }
  const elapsed = performance.now() - startAll;
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return {
    rps: (times.length / elapsed) * 1000,
    p50: at(0.5),
    p99: at(0.99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    errors,
    count: times.length,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function medians(rs: Figures[]): Figures {
  const m = (f: (r: Figures) => number): number => median(rs.map(f));
  return {
    rps: m((r) => r.rps),
    p50: m((r) => r.p50),
    p99: m((r) => r.p99),
    mean: m((r) => r.mean),
    cpuFront: m((r) => r.cpuFront),
    cpuAll: m((r) => r.cpuAll),
    errors: rs.reduce((n, r) => n + r.errors, 0),
  };
}

/**
 * Rounds alternate between the targets, so a burst of load from elsewhere on the machine hits all
 * of them alike; each figure is the median over the rounds.
 */
async function compare(
  targets: Target[],
  connections: number,
  duration: number,
  rounds: number,
): Promise<{ many: Figures[]; one: Figures[] }> {
  for (const t of targets) await load(t, connections, 1); // warm-up: JIT, connection pools, SQLite cache
  const many = targets.map((): Figures[] => []);
  const one = targets.map((): Figures[] => []);
  for (let i = 0; i < rounds; i++) {
    for (const [j, t] of targets.entries()) many[j].push(await load(t, connections, duration));
    for (const [j, t] of targets.entries()) one[j].push(await loadOne(t, duration));
  }
  return { many: many.map(medians), one: one.map(medians) };
}

async function main(): Promise<void> {
  // Flags, else the variables bench/run.ts reads too.
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '20' },
      duration: { type: 'string', default: process.env.BENCH_SECONDS ?? '3' },
      rounds: { type: 'string', default: '3' },
      stub: { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
      role: { type: 'string' },
    },
  });
  const connections = Number(values.connections);
  const duration = Number(values.duration);
  const rounds = Number(values.rounds);
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-bench-gw-'));
  try {
    const [upstream, service, stub] = await Promise.all([
      start('upstream'),
      start('service', { BENCH_DB: join(dir, 'keys.db') }),
      start('stub'),
    ]);

    // A signed-in operator with a network key and a network domain, over HTTP like any client.
    const session = await benchSession(fetch, service, 'http://localhost:8787');
    const { key } = (await session.post('/v1/keys', { name: 'bench' })) as { key: string };
    const { token: domainToken } = (await session.post('/v1/domains', { name: 'bench-node.example.org' })) as { token: string };
    if (!key || !domainToken) throw new Error('bench set-up failed: no key or domain token');

    const bareProxy = await start('bareproxy', { BENCH_UPSTREAM: upstream });
    const gwReal = await start('gateway', { GATEWAY_SERVICE_URL: service, GATEWAY_UPSTREAM: upstream, GATEWAY_DOMAIN_TOKEN: domainToken });
    const auth = { authorization: `Bearer ${key}` };
    const targets: Target[] = [
      { name: 'upstream directly', url: upstream, headers: {}, servers: [upstream] },
      { name: 'bare keep-alive node:http proxy', url: bareProxy, headers: {}, servers: [bareProxy, upstream] },
      { name: 'gateway + real key service', url: gwReal, headers: auth, servers: [gwReal, service, upstream] },
    ];
    if (values.verify) {
      // What a gateway request waits for at the key service, asked directly.
      targets.push({
        name: 'key service POST /v1/verify alone',
        url: service,
        headers: { authorization: `Bearer ${domainToken}` },
        servers: [service],
        path: '/v1/verify',
        body: JSON.stringify({ key, scope: 'inference:write', model: 'llama-3-8b' }),
      });
    }
    if (values.stub) {
      const gwStub = await start('gateway', { GATEWAY_SERVICE_URL: stub, GATEWAY_UPSTREAM: upstream, GATEWAY_DOMAIN_TOKEN: 'stub' });
      targets.push({ name: 'gateway + stub key service', url: gwStub, headers: auth, servers: [gwStub, stub, upstream] });
    }
    const { many, one } = await compare(targets, connections, duration, rounds);

    console.log(
      `\ngateway overhead: POST /v1/chat/completions (non-streaming JSON), median of ${rounds} alternating rounds of ${duration} s per target`,
    );
    console.log(`machine: ${cpus().length} cores, load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after\n`);
    const bareAt = targets.findIndex((t) => t.name.startsWith('bare'));
    console.log(`| target | connections | req/s | p50 ms | p99 ms | vs bare proxy | CPU us/req: front process | all servers |`);
    console.log(`|---|---:|---:|---:|---:|---:|---:|---:|`);
    const row = (t: Target, c: number, r: Figures, bare: Figures, digits: number): void =>
      console.log(
        `| ${t.name} | ${c} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(digits)} | ${r.p99.toFixed(digits)} | ${t === targets[bareAt] || t === targets[0] ? '' : `${((r.rps / bare.rps) * 100).toFixed(0)}%`} | ${r.cpuFront.toFixed(0)} | ${r.cpuAll.toFixed(0)} |`,
      );
    for (const [i, t] of targets.entries()) row(t, connections, many[i], many[bareAt], 0);
    for (const [i, t] of targets.entries()) row(t, 1, one[i], one[bareAt], 2);
    const gwAt = targets.findIndex((t) => t.name === 'gateway + real key service');
    console.log(
      `\ngateway + real key service: ${((many[gwAt].rps / many[bareAt].rps) * 100).toFixed(0)}% of the bare proxy's req/s at ${connections} connections; ` +
        `added per request at 1 connection: p50 +${(one[gwAt].p50 - one[bareAt].p50).toFixed(2)} ms, mean +${(one[gwAt].mean - one[bareAt].mean).toFixed(2)} ms`,
    );
    if ([...many, ...one].some((r) => r.errors > 0)) {
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
