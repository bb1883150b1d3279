// npm run bench: POST /v1/verify on the real Node server (SQLite file) against a bare Hono handler of
// the same shape, each in its own process, driven by autocannon. Prints req/s, p99 and the ratio.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

async function start(args: string[]): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  // Logs (BENCH_LOG_LEVEL=info measures the default access log) go to a drained pipe, as to a collector.
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.resume();
  const rl = createInterface({ input: child.stdout! });
  const info = await new Promise<Record<string, string>>((resolve, reject) => {
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) resolve(JSON.parse(line.slice(6)) as Record<string, string>);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, info };
}

async function load(url: string, token: string, body: unknown): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const r = await autocannon({
    url: `${url}/v1/verify`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-bench-'));
try {
  const bare = await start(['bare']);
  await load(bare.info.url, 'x', { key: 'warmup' });
  const bareRes = await load(bare.info.url, 'sk_dom_token', { key: 'sk_net_key', scope: 'inference:write' });
  await stop(bare.child);

  const svc = await start(['verify', join(dir, 'bench.db')]);
  await load(svc.info.url, svc.info.domainToken, { key: svc.info.key });
  const verifyRes = await load(svc.info.url, svc.info.domainToken, { key: svc.info.key, scope: 'inference:write' });
  const limitedRes = await load(svc.info.url, svc.info.domainToken, { key: svc.info.limitedKey, scope: 'inference:write' });
  await stop(svc.child);

  const row = (name: string, r: typeof bareRes): string =>
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50).padStart(3)} ms   p99 ${String(r.p99).padStart(3)} ms   errors ${r.errors} non-2xx ${r.non2xx}`;
  console.log(`\nverify benchmark: ${CONNECTIONS} connections, ${DURATION} s each, SQLite file, Node ${process.version}`);
  console.log(row('bare Hono handler (same shape)', bareRes));
  console.log(row('POST /v1/verify (read-only key)', verifyRes));
  console.log(row('POST /v1/verify (rpm-limited key)', limitedRes));
  console.log(`ratio verify / bare: ${(verifyRes.rps / bareRes.rps).toFixed(2)} (target >= 0.50); p99 ${verifyRes.p99} ms (target <= 10 ms)`);
  console.log(`ratio rpm-limited / bare: ${(limitedRes.rps / bareRes.rps).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
