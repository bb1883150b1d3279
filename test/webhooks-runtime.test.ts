import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createNodeService } from '../src/node.js';
import { runWebhooksOnce } from '../src/services/webhook-delivery.js';
import { ADMIN_ACCOUNT, get, json, post, signIn, TEST_ORIGIN, type Harness, httpHarness } from './support/harness.js';
import { createPgTestDatabase } from './support/postgres.js';
import { freePort, startServeProcess } from './support/process.js';
import { startReceiver } from './support/webhook-receiver.js';
import type { Delivery, Page, WebhookTest, WebhookWithSecret } from './support/responses.js';

const pgUrl = process.env.TEST_POSTGRES_URL;

const env = {
  PUBLIC_URL: TEST_ORIGIN,
  ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
  NONCE_RATE_LIMIT: '0',
  SIGNIN_RATE_LIMIT: '0',
  WEBHOOK_ALLOW_PRIVATE_URLS: '1',
  LOG_LEVEL: 'silent',
};

/** Two services (two connection pools, two workers) on one database: each attempt is sent once. */
async function twoWorkers(databaseUrl: string): Promise<void> {
  const clock = new ManualClock(new Date());
  const config = loadConfig({ ...env, DATABASE_URL: databaseUrl });
  const a = await createNodeService(config, { clock, logger: createLogger('silent') });
  const b = await createNodeService(config, { clock, logger: createLogger('silent') });
  const rx = await startReceiver(() => 204, { delayMs: 5 });
  try {
    const h: Harness = {
      name: 'a',
      logs: [],
      clock,
      service: a,
      request: async (p, i) => a.app.request(new URL(p, TEST_ORIGIN).toString(), i),
      close: async () => undefined,
    };
    const u = await signIn(h);
    const wh = await json<WebhookWithSecret>(await post(h, '/v1/webhooks', { url: rx.url, events: ['webhook.test'] }, u.token));
    const N = 40;
    for (let i = 0; i < N; i++) expect((await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token)).status).toBe(202);
    // Both fan out and claim at the same time, twice over.
    await Promise.all([a, b, a, b].map((s) => runWebhooksOnce(s.webhooks.runtime)));
    const ids = rx.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    const deliveries = await a.db
      .selectFrom('webhook_deliveries')
      .select(['status', 'attempts'])
      .where('endpoint_id', '=', wh.id)
      .execute();
    expect(deliveries).toHaveLength(N);
    expect(deliveries.every((d) => d.status === 'succeeded' && Number(d.attempts) === 1)).toBe(true);
  } finally {
    await rx.close();
    await b.close();
    await a.close();
  }
}

// SQLite is one writer at a time (a single UPDATE claims atomically); two connections in one Node
// process would block each other's event loop, so the concurrent case is tested on PostgreSQL.
describe('several delivery workers on one database', () => {
  it.skipIf(!pgUrl)('deliver each attempt once on PostgreSQL (FOR UPDATE SKIP LOCKED)', async () => {
    const db = await createPgTestDatabase(pgUrl as string);
    try {
      await twoWorkers(db.url);
    } finally {
      await db.drop();
    }
  });
});

describe('the delivery worker inside `siwe-keys serve`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-wh-serve-'));
  const file = join(dir, 'db.sqlite');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const serveEnv = async () => ({
    ...env,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${file}`,
    LOG_LEVEL: 'warn',
    WEBHOOK_TIMEOUT_MS: '1000', // a claimed attempt's lease is 2 x timeout + 5 s = 7 s
    WEBHOOK_RETRY_SCHEDULE: '1,1,1',
    WEBHOOK_POLL_INTERVAL_MS: '200',
  });
  const http = (url: string): Harness => httpHarness(url, 'serve');
  const deliveries = async (h: Harness, token: string, id: string) =>
    (await json<Page<Delivery>>(await get(h, `/v1/webhooks/${id}/deliveries`, token))).data;
  async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v) || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('sends fresh events at once, loses nothing to kill -9 mid-delivery, and resends after restart with the same webhook-id', async () => {
    const rx = await startReceiver((n) => (n === 0 ? 'hang' : 204));
    let server = await startServeProcess(await serveEnv());
    try {
      let h = http(server.url);
      const u = await signIn(h);
      const wh = await json<WebhookWithSecret>(await post(h, '/v1/webhooks', { url: rx.url, events: ['webhook.test'] }, u.token));
      const { event_id } = await json<WebhookTest>(await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token));
      // The worker woke at once and is now waiting on the receiver, which holds the request.
      await rx.waitFor(1);
      expect(await server.stop('SIGKILL')).toBeNull();
      server = await startServeProcess(await serveEnv());
      h = http(server.url);
      // The dead worker's lease runs out and the new process claims the attempt again.
      await rx.waitFor(2, 30_000);
      expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual([event_id, event_id]);
      const [d] = await until(
        () => deliveries(h, u.token, wh.id),
        (v) => v[0]?.status === 'succeeded',
      );
      expect(d).toMatchObject({ event_id, status: 'succeeded', last_status_code: 204 });
    } finally {
      await server.stop('SIGKILL');
      await rx.close();
    }
  });

  it('stops cleanly on SIGTERM, finishing the attempt in flight, and the next process retries it', async () => {
    const rx = await startReceiver((n) => (n === 0 ? 'hang' : 204));
    let server = await startServeProcess(await serveEnv());
    try {
      let h = http(server.url);
      const u = await signIn(h);
      const wh = await json<WebhookWithSecret>(await post(h, '/v1/webhooks', { url: rx.url, events: ['webhook.test'] }, u.token));
      await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token);
      await rx.waitFor(1);
      // The send in flight times out (1 s), is recorded, and the process exits 0.
      expect(await server.stop('SIGTERM')).toBe(0);
      server = await startServeProcess(await serveEnv());
      h = http(server.url);
      const [d] = await until(
        () => deliveries(h, u.token, wh.id),
        (v) => v[0]?.status === 'succeeded',
      );
      expect(d).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(rx.received).toHaveLength(2);
    } finally {
      await server.stop('SIGKILL');
      await rx.close();
    }
  });
});
