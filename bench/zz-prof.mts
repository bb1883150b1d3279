import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import autocannon from 'autocannon';
const SELF = new URL('./gateway.ts', import.meta.url).pathname;
const kids: any[] = [];
function start(name: string, env: Record<string, string> = {}, extra: string[] = []): Promise<string> {
  const c = spawn(process.execPath, [...extra, '--import', 'tsx', SELF, '--role', name], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  kids.push(c);
  return new Promise((r) => { let o = ''; c.stdout!.on('data', (d) => { o += d; const m = /ready (\S+)/.exec(o); if (m) r(m[1]); }); });
}
function threads(pid: number) {
  const out: Record<string, number> = {};
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const name = st.slice(st.indexOf('(') + 1, st.indexOf(')'));
    const f = st.split(') ')[1].split(' ');
    out[`${name}#${t}`] = (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}
const up = await start('upstream');
const stub = await start('stub');
const gw = await start('gateway', { GATEWAY_SERVICE_URL: stub, GATEWAY_UPSTREAM: up, GATEWAY_DOMAIN_TOKEN: 'stub' }, ['--cpu-prof', '--cpu-prof-dir=/tmp/gwprof3']);
const gpid = kids[2].pid;
const body = JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'Say hello.' }] });
const b = threads(gpid);
const r = await autocannon({ url: gw + '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body, connections: 20, duration: 4 });
const a = threads(gpid);
console.log('gw', r.requests.total, r.requests.average, r.latency.p50, r.latency.p99, r.non2xx, r.errors);
for (const k of Object.keys(a)) if (a[k] - (b[k] ?? 0) > 0) console.log(k, a[k] - (b[k] ?? 0), 'ms', ((a[k] - (b[k] ?? 0)) * 1000 / r.requests.total).toFixed(0), 'us/req');
for (const k of kids) k.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 4000)); process.exit(0);
