// npm run bench:runtime: what starting and running the service costs, run the way an operator runs it.
//
//   1. Start time: `npm start` (the README's command; npm, then the compiled service) with an
//      existing database, from spawn until GET /healthz answers 200; RUNTIME_STARTS runs (default 5).
//      The same for `node --enable-source-maps dist/cli.js serve` (the systemd unit and Dockerfile).
//   2. Memory: RSS of the serving process, and of the whole process tree `npm start` leaves, after
//      BENCH_SECONDS (default 60) of POST /v1/verify at BENCH_CONNECTIONS (default 50), with the
//      default configuration (LOG_LEVEL=info: the access log goes to /dev/null, as to a collector).
//
// Targets (issue 17): start <= 1000 ms; serving process <= 150 MB RSS after a minute of load.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchSession } from './session.js';

const STARTS = Number(process.env.RUNTIME_STARTS ?? 5);
const DURATION = Number(process.env.BENCH_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROOT = join(import.meta.dirname, '..');
const START_TARGET_MS = 1000;
const RSS_TARGET_MB = 150;

function freePort(): number {
  const r = spawnSync(
    process.execPath,
    ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"],
    { encoding: 'utf8' },
  );
  return Number(r.stdout.trim());
}

/** RSS in MB of pid, from /proc. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** pid and its descendants, with their command names. */
function tree(pid: number): { pid: number; comm: string }[] {
  const parents = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number): void => {
    out.push({ pid: p, comm: readFileSync(`/proc/${p}/comm`, 'utf8').trim() });
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

interface Started {
  child: ChildProcess;
  url: string;
  ms: number;
  /** CPU time (user + system) the process tree used until it answered: the wall time on an idle machine. */
  cpuMs: number;
}

/** utime + stime of pid in ms (Linux clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function start(cmd: string, args: string[], env: Record<string, string>): Promise<Started> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  while (!(await healthy(url))) {
    if (exited) throw new Error(`${cmd} ${args.join(' ')} exited before answering`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  return { child, url, ms, cpuMs: tree(child.pid as number).reduce((n, p) => n + cpuMs(p.pid), 0) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms (min ${s[0].toFixed(0)}, max ${s[s.length - 1].toFixed(0)}, ${s.length} runs)`;
};

async function setupKey(base: string): Promise<{ domainToken: string; key: string }> {
  const origin = new URL(base.replace('127.0.0.1', 'localhost')).origin;
  const { post } = await benchSession(fetch, base, origin);
  const domain = await post('/v1/domains', { name: `runtime-${Date.now()}.example.org` });
  const key = await post('/v1/keys', { name: 'runtime' });
  if (typeof domain.token !== 'string' || typeof key.key !== 'string') throw new Error(`setup failed: ${JSON.stringify({ domain, key })}`);
  return { domainToken: domain.token, key: key.key };
}

const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-runtime-'));
const env = { DATABASE_URL: `file:${join(dir, 'db.sqlite')}` };
try {
  // The database exists before the measured starts (the first start creates and migrates it).
  await stop((await start('npm', ['start', '--silent'], env)).child);

  const npmStarts: number[] = [];
  const nodeStarts: number[] = [];
  const npmCpu: number[] = [];
  const nodeCpu: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const a = await start('npm', ['start', '--silent'], env);
    npmStarts.push(a.ms);
    npmCpu.push(a.cpuMs);
    await stop(a.child);
    const b = await start(process.execPath, ['--enable-source-maps', 'dist/cli.js', 'serve'], env);
    nodeStarts.push(b.ms);
    nodeCpu.push(b.cpuMs);
    await stop(b.child);
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

  // Memory under load, started the README's way.
  const svc = await start('npm', ['start', '--silent'], env);
  const { domainToken, key } = await setupKey(svc.url);
  const procs = tree(svc.child.pid as number);
  const serving = procs.slice(1).find((p) => p.comm.startsWith('node'))?.pid;
  if (!serving) throw new Error(`no node process under npm: ${JSON.stringify(procs)}`);
  const idleMb = rssMb(serving);
  let peakMb = idleMb;
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(serving))), 1000);
  const r = await autocannon({
    url: `${svc.url}/v1/verify`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${domainToken}` },
    body: JSON.stringify({ key, scope: 'inference:write' }),
  });
  clearInterval(sampler);
  const afterMb = rssMb(serving);
  const after = tree(svc.child.pid as number).map((p) => ({ ...p, mb: rssMb(p.pid) }));
  await stop(svc.child);

  const mb = (x: number): string => `${x.toFixed(0)} MB`;
  const verdict = (ok: boolean): string => (ok ? 'meets target' : 'MISSES target');
  const npmMedian = [...npmStarts].sort((a, b) => a - b)[Math.floor(npmStarts.length / 2)];
  console.log(
    `\nruntime benchmark: Node ${process.version}, SQLite file, warm database, load average ${load} on ${availableParallelism()} cores`,
  );
  console.log(
    `start to /healthz, npm start: wall ${stats(npmStarts)}   target <= ${START_TARGET_MS} ms: ${verdict(npmMedian <= START_TARGET_MS)}`,
  );
  console.log(`                              CPU (npm + node) ${stats(npmCpu)}`);
  console.log(`start to /healthz, node --enable-source-maps dist/cli.js serve: wall ${stats(nodeStarts)}`);
  console.log(`                              CPU ${stats(nodeCpu)}`);
  console.log(
    `load: ${CONNECTIONS} connections, ${DURATION} s of POST /v1/verify: ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}`,
  );
  console.log(
    `serving process RSS: idle ${mb(idleMb)}, peak ${mb(peakMb)}, after the load ${mb(afterMb)}   target <= ${RSS_TARGET_MB} MB: ${verdict(afterMb <= RSS_TARGET_MB)}`,
  );
  console.log(
    `process tree after the load: ${after.map((p) => `${p.comm} ${mb(p.mb)}`).join(', ')} (total ${mb(after.reduce((n, p) => n + p.mb, 0))})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
