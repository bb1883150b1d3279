import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { fastPathStats } from '../src/node-fast-path.js';
import { startNodeServer, type NodeService } from '../src/node.js';
import { generateSecret } from '../src/services/key-format.js';
import { ADMIN_ACCOUNT, TEST_ORIGIN, json, patch, signIn, signInAdmin, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName } from './support/fixtures.js';

/** The headers of the contract (transport headers such as date and keep-alive differ by design). */
const CONTRACT_HEADERS = ['content-type', 'x-request-id', 'cache-control', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'retry-after'];

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
  log: Record<string, unknown> | undefined;
  metrics: string[];
}

/**
 * POST /v1/verify answered ahead of Hono (src/node-fast-path.ts) and by the generic Hono route must
 * give identical answers: status, body, headers, access log line, metrics.
 */
describe('POST /v1/verify: the Node fast path and the Hono route answer alike', () => {
  let svc: NodeService;
  let h: Harness;
  const logs: string[] = [];
  const clock = new ManualClock(new Date());
  let admin: SignedIn;
  let net: SignedIn;
  let dev: SignedIn;
  let networkToken: string;
  let publicToken: string;
  const keys: Record<string, { key: string; id: string }> = {};

  beforeAll(async () => {
    const config = loadConfig({ PUBLIC_URL: TEST_ORIGIN, DATABASE_URL: ':memory:', PORT: '0', HOST: '127.0.0.1', ADMIN_ADDRESSES: ADMIN_ACCOUNT.address, NONCE_RATE_LIMIT: '0', SIGNIN_RATE_LIMIT: '0', LOG_LEVEL: 'info' });
    svc = await startNodeServer(config, { clock, logger: createLogger('info', (l) => logs.push(l)) });
    h = { name: 'generic', logs, request: async (p, i) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), i), close: async () => undefined };
    admin = await signInAdmin(h);
    net = await signIn(h);
    dev = await developerAccount(h, 100, admin);
    networkToken = (await createDomain(h, net.token, uniqueDomainName('eq'))).token;
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('eq-pub'), 'public')).token;
    keys.plain = await createKey(h, net.token, { name: 'plain' });
    keys.models = await createKey(h, net.token, { name: 'models', models: ['llama-3-8b'], scopes: ['inference:write', 'analytics:read'] });
    keys.disabled = await createKey(h, net.token, { name: 'disabled' });
    await patch(h, `/v1/keys/${keys.disabled.id}`, { status: 'disabled' }, net.token);
    keys.expiring = await createKey(h, net.token, { name: 'expiring', expires_in_days: 1 });
    keys.rpm1 = await createKey(h, net.token, { name: 'rpm1', limits: { rpm: 1 } });
    keys.rpm100 = await createKey(h, net.token, { name: 'rpm100', limits: { rpm: 100 } });
    keys.daily = await createKey(h, dev.token, { name: 'daily', limits: { daily_credits: 5 } });
    keys.dev = await createKey(h, dev.token, { name: 'dev' });
  });
  afterAll(async () => svc?.close());

  function metricLines(): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of svc.deps.metrics.render().split('\n')) {
      if (line.startsWith('#') || !(line.includes('_count{') || line.startsWith('siwe_keys_verifications_total') || line.startsWith('siwe_keys_charges_total') || line.startsWith('siwe_keys_credits_charged_total'))) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return out;
  }

  async function answer(send: () => Promise<Response>): Promise<Answer> {
    const before = metricLines();
    const seen = logs.length;
    const res = await send();
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // compared as text
    }
    const headers = Object.fromEntries(CONTRACT_HEADERS.map((k) => [k, res.headers.get(k)]));
    const after = metricLines();
    const metrics = [...after].filter(([k, v]) => (before.get(k) ?? 0) !== v).map(([k, v]) => `${k} +${v - (before.get(k) ?? 0)}`);
    const line = logs.slice(seen).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request');
    const log = line ? { ...line, time: undefined, ms: typeof line.ms } : undefined;
    return { status: res.status, headers, body, log, metrics };
  }

  /** Sends the same request to both paths; the fast one goes over the socket, the generic one into Hono. */
  async function both(init: { body: string; headers: Record<string, string> }): Promise<[Answer, Answer]> {
    const served = fastPathStats.served;
    const fast = await answer(() => fetch(`${svc.url}/v1/verify`, { method: 'POST', ...init }));
    expect(fastPathStats.served, 'the request took the fast path').toBe(served + 1);
    const generic = await answer(async () => svc.app.request(`${TEST_ORIGIN}/v1/verify`, { method: 'POST', ...init }));
    return [fast, generic];
  }

  const req = (token: string | null, body: unknown, extra: Record<string, string> = {}) => ({
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-request-id': `rid-${Math.random().toString(36).slice(2)}`, ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
  });

  const stateless: [string, () => ReturnType<typeof req>][] = [
    ['valid plain key', () => req(networkToken, { key: keys.plain.key })],
    ['valid with scope and model', () => req(networkToken, { key: keys.models.key, scope: 'analytics:read', model: 'llama-3-8b' })],
    ['valid with charset', () => req(networkToken, { key: keys.plain.key }, { 'content-type': 'application/json; charset=utf-8' })],
    ['malformed', () => req(networkToken, { key: 'nope' })],
    ['a domain token as key', () => req(networkToken, { key: networkToken })],
    ['not_found', () => req(networkToken, { key: generateSecret('sk', 'net') })],
    ['disabled', () => req(networkToken, { key: keys.disabled.key })],
    ['key_type_mismatch (developer key, network domain)', () => req(networkToken, { key: keys.dev.key })],
    ['key_type_mismatch (network key, public domain)', () => req(publicToken, { key: keys.plain.key })],
    ['scope_denied', () => req(networkToken, { key: keys.plain.key, scope: 'admin' })],
    ['model_not_allowed', () => req(networkToken, { key: keys.models.key, model: 'gpt-x' })],
    ['api_key_quota_exceeded', () => req(publicToken, { key: keys.daily.key, cost: 6 })],
    ['billing_shortfall', () => req(publicToken, { key: keys.dev.key, cost: 1000 })],
    ['bad JSON', () => req(networkToken, '{"key": ')],
    ['empty JSON body', () => req(networkToken, '')],
    ['JSON that is not an object', () => req(networkToken, '[1,2]')],
    ['unknown field', () => req(networkToken, { key: keys.plain.key, extra: 1 })],
    ['wrong type', () => req(networkToken, { key: 12 })],
    ['key too long', () => req(networkToken, { key: 'k'.repeat(300) })],
    ['negative cost', () => req(networkToken, { key: keys.plain.key, cost: -1 })],
    ['fractional cost', () => req(networkToken, { key: keys.plain.key, cost: 1.5 })],
    ['unknown scope', () => req(networkToken, { key: keys.plain.key, scope: 'root' })],
    ['NUL in a field', () => req(networkToken, { key: keys.plain.key, model: 'a\u0000b' })],
    ['oversized body', () => req(networkToken, JSON.stringify({ key: 'x'.repeat(70_000) }))],
    ['text/plain body', () => req(networkToken, { key: keys.plain.key }, { 'content-type': 'text/plain' })],
    ['form content type', () => req(networkToken, 'key=x', { 'content-type': 'application/x-www-form-urlencoded' })],
    ['missing authorization', () => req(null, { key: keys.plain.key })],
    ['not a bearer token', () => req(null, { key: keys.plain.key }, { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' })],
    ['garbage token', () => req('garbage', { key: keys.plain.key })],
    ['an API key as domain token', () => req(keys.plain.key, { key: keys.plain.key })],
    ['unknown domain token', () => req(generateSecret('sk', 'dom'), { key: keys.plain.key })],
    ['malformed request id is replaced', () => req(networkToken, { key: keys.plain.key }, { 'x-request-id': 'bad id with spaces' })],
  ];

  it.each(stateless)('%s', async (_name, make) => {
    const [fast, generic] = await both(make());
    if (_name.startsWith('malformed request id')) {
      // Both generate a fresh id; compare everything else.
      expect(fast.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
      const strip = (a: Answer) => JSON.parse(JSON.stringify(a).replaceAll(String(a.headers['x-request-id']), 'RID')) as Answer;
      expect(strip(fast)).toEqual(strip(generic));
      return;
    }
    expect(fast).toEqual(generic);
  });

  it('counts rpm slots alike (one more request counted on the second path)', async () => {
    const [fast, generic] = await both(req(networkToken, { key: keys.rpm100.key }));
    expect(fast.body).toMatchObject({ valid: true, ratelimit: { limit: 100, remaining: 99 } });
    expect(generic).toEqual({ ...fast, body: { ...(fast.body as object), ratelimit: { limit: 100, remaining: 98, reset: (fast.body as { ratelimit: { reset: number } }).ratelimit.reset } } });
  });

  it('refuses an exhausted rpm window alike', async () => {
    await both(req(networkToken, { key: keys.rpm1.key }));
    const [fast, generic] = await both(req(networkToken, { key: keys.rpm1.key }));
    expect(fast.body).toMatchObject({ valid: false, code: 'rate_limited', ratelimit: { limit: 1, remaining: 0 } });
    expect(fast).toEqual(generic);
  });

  it('charges alike (the second answer reports the balance after both charges)', async () => {
    const [fast, generic] = await both(req(publicToken, { key: keys.dev.key, cost: 3 }));
    expect(fast.body).toMatchObject({ valid: true, charged: 3 });
    const left = (fast.body as { credits_remaining: number }).credits_remaining;
    expect(generic).toEqual({ ...fast, body: { ...(fast.body as object), credits_remaining: left - 3 } });
  });

  it('refuses an expired key alike', async () => {
    clock.advance(2 * 86_400_000);
    const [fast, generic] = await both(req(networkToken, { key: keys.expiring.key }));
    expect(fast.body).toMatchObject({ code: 'expired' });
    expect(fast).toEqual(generic);
  });

  it('/openapi.json still documents POST /v1/verify', async () => {
    const doc = await json(await h.request('/openapi.json'));
    expect(doc.paths['/v1/verify'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('key');
  });

  it('sends requests without a declared length (chunked) and other paths through Hono', async () => {
    const served = fastPathStats.served;
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(JSON.stringify({ key: keys.plain.key })));
        c.close();
      },
    });
    const res = await fetch(`${svc.url}/v1/verify`, { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json', authorization: `Bearer ${networkToken}` } } as RequestInit);
    expect(await res.json()).toMatchObject({ valid: true });
    const q = await fetch(`${svc.url}/v1/verify?x=1`, { method: 'POST', ...req(networkToken, { key: keys.plain.key }) });
    expect(await q.json()).toMatchObject({ valid: true });
    expect(fastPathStats.served).toBe(served);
  });
});
