import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ADMIN_ACCOUNT, json, post, signIn, signInAdmin, startWorkerDev, TEST_ORIGIN, workerHarness } from './support/harness.js';
import { startReceiver } from './support/webhook-receiver.js';
import type { Application, WebhookTest, WebhookWithSecret } from './support/responses.js';

// The Workers delivery path under workerd: fresh events go out through ctx.waitUntil right after the
// request that wrote them; the Cron Trigger (scheduled(), driven here by wrangler's --test-scheduled
// route) sends what is due later, retries included. The worker reaches the local receiver because
// WEBHOOK_ALLOW_PRIVATE_URLS=1 is passed as a var.
describe.skipIf(process.env.TEST_WORKERS !== '1')('webhooks on Workers (src/worker.ts) under workerd', () => {
  it('sends fresh events via waitUntil and retries from the Cron Trigger, signed as Standard Webhooks', async () => {
    const rx = await startReceiver((n) => (n === 0 ? 500 : 204));
    const vars = {
      PUBLIC_URL: TEST_ORIGIN,
      ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
      WEBHOOK_ALLOW_PRIVATE_URLS: '1',
      WEBHOOK_RETRY_SCHEDULE: '3,1',
    };
    const w = await startWorkerDev(vars, { args: ['--test-scheduled'] });
    const h = workerHarness(w);
    try {
      const u = await signIn(h);
      const admin = await signInAdmin(h);
      const wh = await json<WebhookWithSecret>(
        await post(h, '/v1/webhooks', { url: rx.url, events: ['webhook.test', 'trial.approved'] }, u.token),
      );
      expect(wh.secret).toMatch(/^whsec_/);
      const { event_id } = await json<WebhookTest>(await post(h, `/v1/webhooks/${wh.id}/test`, {}, u.token));
      // No cron yet: the first attempt came from the request's waitUntil.
      await rx.waitFor(1);
      expect(rx.received[0].headers['webhook-id']).toBe(event_id);

      // The trial decision's outbox row was written in the approval's D1 batch and goes out at once too.
      const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'x' }, u.token));
      expect((await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 10 }, admin.token)).status).toBe(200);
      await rx.waitFor(2);

      // The failed first attempt is retried by the Cron Trigger once its 3 s delay has passed; no
      // request (and so no waitUntil) comes in between.
      await new Promise((r) => setTimeout(r, 3100));
      expect(rx.received).toHaveLength(2);
      const cron = await fetch(`${w.base}/__scheduled?cron=*+*+*+*+*`);
      expect(cron.status).toBe(200);
      await rx.waitFor(3);
      const tests = rx.received.filter((r) => r.headers['webhook-id'] === event_id);
      expect(tests).toHaveLength(2);
      for (const r of rx.received) {
        const payload = new Webhook(wh.secret).verify(r.body, r.headers) as { type: string; data: Record<string, unknown> };
        expect(['webhook.test', 'trial.approved']).toContain(payload.type);
      }
      const approved = rx.received.map((r) => JSON.parse(r.body)).find((b) => b.type === 'trial.approved');
      expect(approved.data).toEqual({ application_id: app.id, account: u.address, status: 'approved', credits_granted: 10 });
    } finally {
      await h.close();
      await rx.close();
    }
  });
});
