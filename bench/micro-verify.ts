// In-process CPU cost of one verification (app.request, no sockets), next to a bare Hono handler
// of the same shape. Measured in CPU time, so it stays meaningful on a busy machine.
import { Hono } from 'hono';
import { inProcessService } from './session.js';

const N = Number(process.env.MICRO_N ?? 20_000);
const origin = 'http://localhost:8787';
const { svc, req, session } = await inProcessService(':memory:');
const token = session.token;
const domain = (await (await req('/v1/domains', { name: 'micro.example.org' }, token)).json()) as { token: string };
const key = (await (await req('/v1/keys', { name: 'micro' }, token)).json()) as { key: string };

const bare = new Hono();
bare.post('/v1/verify', async (c) => {
  const body = (await c.req.json()) as { key: string };
  return c.json({ valid: body.key.length > 0 && (c.req.header('authorization') ?? '').length > 0, code: 'valid' });
});

async function cpuPerCall(fn: () => Promise<Response>): Promise<number> {
  for (let i = 0; i < 2000; i++) await (await fn()).arrayBuffer();
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await (await fn()).arrayBuffer();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const bareUs = await cpuPerCall(async () =>
  bare.request(`${origin}/v1/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${domain.token}` },
    body: JSON.stringify({ key: key.key }),
  }),
);
const verifyUs = await cpuPerCall(() => req('/v1/verify', { key: key.key }, domain.token));
console.log(
  `in-process CPU per call: bare ${bareUs.toFixed(1)} µs, /v1/verify ${verifyUs.toFixed(1)} µs, ratio ${(bareUs / verifyUs).toFixed(2)}`,
);
await svc.close();
