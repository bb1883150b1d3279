import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWebhooksOnce } from '../src/services/webhook-delivery.js';
import { checkWebhookUrl, isPrivateAddress } from '../src/services/webhook-url.js';
import { setWebhookHostResolver } from '../src/services/webhooks.js';
import { guardedLookup, nodeSender, resolveAll } from '../src/webhook-sender-node.js';
import { get, json, nodeTargets, post, signIn, type Harness, type SignedIn } from './support/harness.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';
import type { Delivery, ErrorBody, Page, Webhook } from './support/responses.js';

describe('webhook URL guard (no DNS)', () => {
  it('classifies private, loopback, link-local and mapped addresses as private', () => {
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc00::abcd',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      'ff02::1',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])
      expect(isPrivateAddress(a), a).toBe(false);
  });

  it('refuses http, credentials, private literals (in every spelling the URL parser accepts) and local names', () => {
    const refused: [string, string][] = [
      ['http://example.com/hook', 'scheme_not_allowed'],
      ['ftp://example.com/hook', 'scheme_not_allowed'],
      ['https://user:pw@example.com/hook', 'credentials_in_url'],
      ['https://127.0.0.1/hook', 'private_address'],
      ['https://2130706433/hook', 'private_address'], // decimal 127.0.0.1
      ['https://0x7f.1/hook', 'private_address'],
      ['https://[::1]/hook', 'private_address'],
      ['https://[::ffff:169.254.169.254]/latest/meta-data', 'private_address'],
      ['https://169.254.169.254/latest/meta-data', 'private_address'],
      ['https://10.0.0.7:8443/hook', 'private_address'],
      ['https://localhost/hook', 'private_address'],
      ['https://api.localhost/hook', 'private_address'],
      ['https://printer.local/hook', 'private_address'],
      ['https://metadata.google.internal/hook', 'private_address'],
      ['https://intranet/hook', 'private_address'],
      ['not a url', 'invalid_url'],
    ];
    for (const [url, why] of refused) expect(checkWebhookUrl(url, false).refusal, url).toBe(why);
    expect(checkWebhookUrl('https://hooks.example.com/x', false).refusal).toBeNull();
    // With WEBHOOK_ALLOW_PRIVATE_URLS=1, local receivers (and http) are allowed.
    expect(checkWebhookUrl('http://127.0.0.1:9999/hook', true).refusal).toBeNull();
    expect(checkWebhookUrl('http://localhost:9999/hook', true).refusal).toBeNull();
    // ... but never plain http to a public host, even then.
    expect(checkWebhookUrl('http://hooks.example.com/hook', true).refusal).toBe('scheme_not_allowed');
  });

  it('refuses at connect time a name that resolves to a private address', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup(false)('localhost', {}, (e) => resolve(e)));
    expect(err?.code).toBe('EBLOCKED');
    const ok = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup(true)('localhost', {}, (e) => resolve(e)));
    expect(ok).toBeNull();
  });

  it('sends nothing to a private target even when asked directly', async () => {
    const rx = await startReceiver();
    try {
      const res = await nodeSender({
        url: rx.url.replace('http:', 'https:'),
        headers: {},
        body: '{}',
        timeoutMs: 1000,
        allowPrivate: false,
      });
      expect(res).toEqual({ error: 'blocked: private_address' });
      expect(rx.received).toHaveLength(0);
    } finally {
      await rx.close();
    }
  });
});

describe.each(nodeTargets())('webhook SSRF refusals over HTTP on $name (WEBHOOK_ALLOW_PRIVATE_URLS off)', (target) => {
  let h: Harness;
  let u: SignedIn;
  let rx: Receiver;
  beforeAll(async () => {
    h = await target.start();
    u = await signIn(h);
    rx = await startReceiver();
  });
  afterAll(async () => {
    setWebhookHostResolver(resolveAll);
    await rx.close();
    await h.close();
  });

  it('refuses http, private, loopback and link-local URLs at registration with 400 invalid_request', async () => {
    for (const url of [
      rx.url,
      rx.url.replace('http:', 'https:'),
      'https://169.254.169.254/latest',
      'https://[::1]/x',
      'https://localhost/x',
      'https://10.0.0.1/x',
    ]) {
      const res = await post(h, '/v1/webhooks', { url, events: ['webhook.test'] }, u.token);
      expect(res.status, url).toBe(400);
      const body = await json<ErrorBody>(res);
      expect(body.error).toMatchObject({ code: 'invalid_request', param: 'url' });
    }
    expect((await json<Page<Webhook>>(await get(h, '/v1/webhooks', u.token))).data).toHaveLength(0);
  });

  it('refuses a public-looking name whose DNS answer is a private address', async () => {
    // The resolver stands in for DNS (outside the system): this name points inside the network.
    setWebhookHostResolver(async () => ['93.184.216.34', '10.0.0.5']);
    const res = await post(h, '/v1/webhooks', { url: 'https://hooks.attacker.example/x', events: ['webhook.test'] }, u.token);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody & { error: { reason: string } }>(res)).error.reason).toBe('private_address');
    setWebhookHostResolver(async () => ['93.184.216.34']);
    expect((await post(h, '/v1/webhooks', { url: 'https://hooks.example.org/x', events: ['webhook.test'] }, u.token)).status).toBe(201);
    setWebhookHostResolver(resolveAll);
  });

  it('checks again at send time: an endpoint that points inside (stored before the rule, or edited in the database) gets nothing', async () => {
    const db = h.service!.db;
    const at = h.clock!.now().getTime();
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: 'wh_inside',
        account: u.address,
        url: rx.url.replace('http:', 'https:'),
        description: null,
        events: '["webhook.test"]',
        secret: `whsec_${btoa('x'.repeat(32))}`,
        prev_secret: null,
        prev_expires_at: null,
        created_at: at,
      })
      .execute();
    expect((await post(h, '/v1/webhooks/wh_inside/test', {}, u.token)).status).toBe(202);
    await runWebhooksOnce(h.service!.webhooks.runtime);
    expect(rx.received).toHaveLength(0);
    const [d] = (await json<Page<Delivery>>(await get(h, '/v1/webhooks/wh_inside/deliveries', u.token))).data;
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'blocked: private_address' });
  });
});
