import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import autocannon from 'autocannon';
import { requestId } from '../src/middleware/request-id.js';
import { accessLog } from '../src/middleware/access-log.js';
import { bodyLimit } from '../src/middleware/body-limit.js';
import { apiHeaders } from '../src/middleware/api-headers.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/services/metrics.js';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';

const variants: Record<string, () => Hono<any>> = {
  bare: () => { const a = new Hono(); a.post('/v', async (c) => c.json({ ok: (await c.req.json()).key })); return a; },
  requestId: () => { const a = new Hono<any>(); a.use('*', requestId()); a.post('/v', async (c) => c.json({ ok: (await c.req.json()).key })); return a; },
  accessLog: () => { const a = new Hono<any>(); a.use('*', accessLog(createLogger('silent'), new Metrics())); a.post('/v', async (c) => c.json({ ok: (await c.req.json()).key })); return a; },
  bodyLimit: () => { const a = new Hono<any>(); a.use('*', bodyLimit(65536)); a.post('/v', async (c) => c.json({ ok: (await c.req.json()).key })); return a; },
  apiHeaders: () => { const a = new Hono<any>(); a.use('*', apiHeaders()); a.post('/v', async (c) => c.json({ ok: (await c.req.json()).key })); return a; },
  zodOpenapi: () => {
    const a = new OpenAPIHono<any>();
    a.openapi(createRoute({ method: 'post', path: '/v', request: { body: { content: { 'application/json': { schema: z.object({ key: z.string() }) } } } }, responses: { 200: { description: 'x' } } }), async (c) => c.json({ ok: c.req.valid('json').key }, 200));
    return a as unknown as Hono<any>;
  },
};

for (const [name, make] of Object.entries(variants)) {
  const app = make();
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => { const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s)); });
  const port = (server.address() as { port: number }).port;
  const r = await autocannon({ url: `http://127.0.0.1:${port}/v`, method: 'POST', connections: 50, duration: 3, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'k' }) });
  console.log(name.padEnd(12), Math.round(r.requests.average), 'req/s p99', r.latency.p99);
  await new Promise((r2) => server.close(() => r2(null)));
}
process.exit(0);
