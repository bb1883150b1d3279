// npm run bench: POST /v1/verify on the real Node server (SQLite file, default LOG_LEVEL=info) against
// a bare Hono handler of the same shape, each in its own process, driven by autocannon. The targets
// are measured in alternating rounds (bare, plain key, rpm key, 1M-key database, then again), so a
// busy machine slows them alike; the table shows the median of the rounds and the ratio to bare.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

async function start(args: string[]): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  // Logs go to a drained pipe, as to a collector.
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

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Server CPU (user + system) per answered request, in microseconds (Linux /proc; NaN elsewhere). */
  cpuUs: number;
}

/** The process's user + system CPU time in clock ticks (1/100 s), from /proc. */
function cpuTicks(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

async function load(child: ChildProcess, url: string, token: string, body: unknown, seconds = DURATION): Promise<Result> {
  const before = cpuTicks(child.pid);
  const r = await autocannon({
    url: `${url}/v1/verify`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const cpuUs = ((cpuTicks(child.pid) - before) * 10_000) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, cpuUs };
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-bench-'));
const children: ChildProcess[] = [];
try {
  const bare = await start(['bare']);
  const small = await start(['verify', join(dir, 'small.db')]);
  const big = await start(['verify', join(dir, 'big.db'), 'big']);
  children.push(bare.child, small.child, big.child);
  console.error(
    `seeded ${process.env.BENCH_KEYS ?? 1_000_000} keys and ${process.env.BENCH_DOMAINS ?? 10_000} domains in ${(Number(big.info.seedMs) / 1000).toFixed(1)} s`,
  );

  const targets: { name: string; run: (s?: number) => Promise<Result> }[] = [
    {
      name: 'bare Hono handler (same shape)',
      run: (s) => load(bare.child, bare.info.url, 'sk_dom_token', { key: 'sk_net_key', scope: 'inference:write' }, s),
    },
    {
      name: 'POST /v1/verify (plain key)',
      run: (s) => load(small.child, small.info.url, small.info.domainToken, { key: small.info.key, scope: 'inference:write' }, s),
    },
    {
      name: 'POST /v1/verify (rpm-limited key)',
      run: (s) => load(small.child, small.info.url, small.info.domainToken, { key: small.info.limitedKey, scope: 'inference:write' }, s),
    },
    {
      name: 'POST /v1/verify (1M keys, 10k domains)',
      run: (s) => load(big.child, big.info.url, big.info.domainToken, { key: big.info.key, scope: 'inference:write' }, s),
    },
  ];
  for (const t of targets) await t.run(2); // warm-up: JIT, caches, connections
  const results = targets.map(() => [] as Result[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, t] of targets.entries()) results[i].push(await t.run());
    console.error(`round ${r + 1}/${ROUNDS}: ${results.map((x) => x[r].rps.toFixed(0)).join(' / ')} req/s`);
  }

  // Each round's ratio is taken against the bare handler of the same round (the machine may be busy).
  const rows = results.map((rs) => ({
    rps: median(rs.map((x) => x.rps)),
    p50: median(rs.map((x) => x.p50)),
    p99: median(rs.map((x) => x.p99)),
    ratio: median(rs.map((x, r) => x.rps / results[0][r].rps)),
    cpuUs: median(rs.map((x) => x.cpuUs)),
    errors: rs.reduce((n, x) => n + x.errors + x.non2xx, 0),
  }));
  console.log(
    `\nverify benchmark: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s (medians), SQLite file, LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? 'info'}, Node ${process.version}, ${cpus().length} cores`,
  );
  console.log('| target | req/s | p50 ms | p99 ms | ratio vs bare (same round) | server CPU per request | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [i, t] of targets.entries()) {
    const r = rows[i];
    console.log(
      `| ${t.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} | ${r.cpuUs.toFixed(0)} us | ${r.errors} |`,
    );
  }
  const flat = median(results[3].map((x, r) => x.rps / results[1][r].rps));
  console.log(
    `1M-key database vs small (same round): ${flat.toFixed(2)} req/s, ${(rows[1].cpuUs / rows[3].cpuUs).toFixed(2)} by server CPU per request (target >= 0.90)`,
  );
  console.log(
    `bare / verify server CPU per request: ${(rows[0].cpuUs / rows[1].cpuUs).toFixed(2)} plain, ${(rows[0].cpuUs / rows[2].cpuUs).toFixed(2)} rpm (the req/s ratio on a machine where the server, not the load generator, is the limit)`,
  );
  console.log('targets: verify >= 0.50 of bare (plain and rpm keys), p99 <= 10 ms');
} finally {
  await Promise.all(children.map(stop));
  rmSync(dir, { recursive: true, force: true });
}
