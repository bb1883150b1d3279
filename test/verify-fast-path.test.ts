import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { fastPathStats } from '../src/node-fast-path.js';
import { startNodeServer, type NodeService } from '../src/node.js';
import { generateSecret } from '../src/services/key-format.js';
import { ADMIN_ACCOUNT, TEST_ORIGIN, json, patch, signIn, signInAdmin, workersTarget, type Harness } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName } from './support/fixtures.js';
import type { OpenApiDoc } from './support/responses.js';

/** The headers of the contract (transport headers such as date and keep-alive differ by design). */
const CONTRACT_HEADERS = [
  'content-type',
  'x-request-id',
  'cache-control',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'retry-after',
];

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
  log: Record<string, unknown> | undefined;
  metrics: string[];
}

function makeReq(
  token: string | null,
  body: unknown,
  extra: Record<string, string> = {},
): { body: string; headers: Record<string, string> } {
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: {
      'content-type': 'application/json',
      'x-request-id': `rid-${Math.random().toString(36).slice(2)}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    },
  };
}

interface CaseContext {
  networkToken: string;
  publicToken: string;
  keys: Record<string, { key: string; id: string }>;
}

/** Inputs whose answer does not change state, so both paths must answer them identically. */
function statelessCases(ctx: () => CaseContext): [string, () => ReturnType<typeof makeReq>][] {
  const req = makeReq;
  const t = () => ctx().networkToken;
  const p = () => ctx().publicToken;
  const k = (name: string) => ctx().keys[name].key;
  return [
    ['valid plain key', () => req(t(), { key: k('plain') })],
    ['valid with scope and model', () => req(t(), { key: k('models'), scope: 'analytics:read', model: 'llama-3-8b' })],
    ['valid with charset', () => req(t(), { key: k('plain') }, { 'content-type': 'application/json; charset=utf-8' })],
    ['malformed', () => req(t(), { key: 'nope' })],
    ['a domain token as key', () => req(t(), { key: t() })],
    ['not_found', () => req(t(), { key: generateSecret('sk', 'net') })],
    ['disabled', () => req(t(), { key: k('disabled') })],
    ['key_type_mismatch (developer key, network domain)', () => req(t(), { key: k('dev') })],
    ['key_type_mismatch (network key, public domain)', () => req(p(), { key: k('plain') })],
    ['scope_denied', () => req(t(), { key: k('plain'), scope: 'admin' })],
    ['model_not_allowed', () => req(t(), { key: k('models'), model: 'gpt-x' })],
    ['api_key_quota_exceeded', () => req(p(), { key: k('daily'), cost: 6 })],
    ['billing_shortfall', () => req(p(), { key: k('dev'), cost: 1000 })],
    ['bad JSON', () => req(t(), '{"key": ')],
    ['empty JSON body', () => req(t(), '')],
    ['JSON that is not an object', () => req(t(), '[1,2]')],
    ['unknown field', () => req(t(), { key: k('plain'), extra: 1 })],
    ['wrong type', () => req(t(), { key: 12 })],
    ['key too long', () => req(t(), { key: 'k'.repeat(300) })],
    ['negative cost', () => req(t(), { key: k('plain'), cost: -1 })],
    ['fractional cost', () => req(t(), { key: k('plain'), cost: 1.5 })],
    ['unknown scope', () => req(t(), { key: k('plain'), scope: 'root' })],
    ['NUL in a field', () => req(t(), { key: k('plain'), model: 'a\u0000b' })],
    ['oversized body', () => req(t(), JSON.stringify({ key: 'x'.repeat(70_000) }))],
    ['text/plain body', () => req(t(), { key: k('plain') }, { 'content-type': 'text/plain' })],
    ['form content type', () => req(t(), 'key=x', { 'content-type': 'application/x-www-form-urlencoded' })],
    ['missing authorization', () => req(null, { key: k('plain') })],
    ['not a bearer token', () => req(null, { key: k('plain') }, { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' })],
    ['garbage token', () => req('garbage', { key: k('plain') })],
    ['an API key as domain token', () => req(k('plain'), { key: k('plain') })],
    ['unknown domain token', () => req(generateSecret('sk', 'dom'), { key: k('plain') })],
    ['malformed request id is replaced', () => req(t(), { key: k('plain') }, { 'x-request-id': 'bad id with spaces' })],
  ];
}

/** The accounts, domains and keys the cases use (the same on every target). */
async function seed(h: Harness, keys: Record<string, { key: string; id: string }>): Promise<{ networkToken: string; publicToken: string }> {
  const admin = await signInAdmin(h);
  const net = await signIn(h);
  const dev = await developerAccount(h, 100, admin);
  const networkToken = (await createDomain(h, net.token, uniqueDomainName('eq'))).token;
  const publicToken = (await createDomain(h, admin.token, uniqueDomainName('eq-pub'), 'public')).token;
  keys.plain = await createKey(h, net.token, { name: 'plain' });
  keys.models = await createKey(h, net.token, { name: 'models', models: ['llama-3-8b'], scopes: ['inference:write', 'analytics:read'] });
  keys.disabled = await createKey(h, net.token, { name: 'disabled' });
  await patch(h, `/v1/keys/${keys.disabled.id}`, { status: 'disabled' }, net.token);
  keys.expiring = await createKey(h, net.token, { name: 'expiring', expires_in_days: 1 });
  keys.rpm1 = await createKey(h, net.token, { name: 'rpm1', limits: { rpm: 1 } });
  keys.rpm100 = await createKey(h, net.token, { name: 'rpm100', limits: { rpm: 100 } });
  keys.daily = await createKey(h, dev.token, { name: 'daily', limits: { daily_credits: 5 } });
  keys.dev = await createKey(h, dev.token, { name: 'dev' });
  return { networkToken, publicToken };
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
  let networkToken: string;
  let publicToken: string;
  const keys: Record<string, { key: string; id: string }> = {};

  beforeAll(async () => {
    const config = loadConfig({
      PUBLIC_URL: TEST_ORIGIN,
      DATABASE_URL: ':memory:',
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
      LOG_LEVEL: 'info',
    });
    svc = await startNodeServer(config, { clock, logger: createLogger('info', (l) => logs.push(l)) });
    h = {
      name: 'generic',
      logs,
      request: async (p, i) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), i),
      close: async () => undefined,
    };
    ({ networkToken, publicToken } = await seed(h, keys));
  });
  afterAll(async () => svc?.close());

  function metricLines(): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of svc.deps.metrics.render().split('\n')) {
      if (
        line.startsWith('#') ||
        !(
          line.includes('_count{') ||
          line.startsWith('siwe_keys_verifications_total') ||
          line.startsWith('siwe_keys_charges_total') ||
          line.startsWith('siwe_keys_credits_charged_total')
        )
      )
        continue;
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
    const line = logs
      .slice(seen)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request');
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

  const req = makeReq;
  const stateless = statelessCases(() => ({ networkToken, publicToken, keys }));

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
    expect(generic).toEqual({
      ...fast,
      body: {
        ...(fast.body as object),
        ratelimit: { limit: 100, remaining: 98, reset: (fast.body as { ratelimit: { reset: number } }).ratelimit.reset },
      },
    });
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
    const doc = await json<OpenApiDoc>(await h.request('/openapi.json'));
    expect(doc.paths['/v1/verify'].post.requestBody?.content['application/json'].schema.properties).toHaveProperty('key');
  });

  it('sends requests without a declared length (chunked) and other paths through Hono', async () => {
    const served = fastPathStats.served;
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(JSON.stringify({ key: keys.plain.key })));
        c.close();
      },
    });
    const res = await fetch(`${svc.url}/v1/verify`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${networkToken}` },
    } as RequestInit);
    expect(await res.json()).toMatchObject({ valid: true });
    const q = await fetch(`${svc.url}/v1/verify?x=1`, { method: 'POST', ...req(networkToken, { key: keys.plain.key }) });
    expect(await q.json()).toMatchObject({ valid: true });
    expect(fastPathStats.served).toBe(served);
  });
});

/**
 * The Workers pre-router (src/worker.ts) against the Hono route in the same worker: a query string
 * sends a request past the pre-router to Hono, which ignores it.
 */
describe.skipIf(process.env.TEST_WORKERS !== '1')('POST /v1/verify: the Workers pre-router and the Hono route answer alike', () => {
  let h: Harness;
  let networkToken: string;
  let publicToken: string;
  const keys: Record<string, { key: string; id: string }> = {};

  beforeAll(async () => {
    h = await workersTarget.start();
    ({ networkToken, publicToken } = await seed(h, keys));
  }, 180_000);
  afterAll(async () => h?.close());

  async function answer(path: string, init: ReturnType<typeof makeReq>) {
    const res = await h.request(path, { method: 'POST', ...init });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // compared as text
    }
    return { status: res.status, headers: Object.fromEntries(CONTRACT_HEADERS.map((k) => [k, res.headers.get(k)])), body };
  }

  it.each(statelessCases(() => ({ networkToken, publicToken, keys })).filter(([name]) => !name.startsWith('malformed request id')))(
    '%s',
    async (_name, make) => {
      const init = make();
      const fast = await answer('/v1/verify', init);
      const generic = await answer('/v1/verify?via=hono', init);
      expect(fast).toEqual(generic);
    },
  );
});
