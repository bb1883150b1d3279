import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { startGatewayServer, type RunningGateway } from '../src/gateway/node.js';
import { parsePricing } from '../src/gateway/pricing.js';
import { createLogger } from '../src/logger.js';
import { startNodeServer, type NodeService } from '../src/node.js';
import {
  CHAT_USAGE,
  closedPortUrl,
  SSE_USAGE_CHUNK,
  sseChunk,
  startFakeUpstream,
  startServiceProxy,
  STREAM_USAGE,
  type FakeUpstream,
  type ServiceProxy,
} from './support/fake-upstream.js';
import { developerAccount } from './support/fixtures.js';
import {
  ADMIN_ACCOUNT,
  del,
  get,
  json,
  patch,
  post,
  signIn,
  signInAdmin,
  TEST_ORIGIN,
  type Harness,
  type SignedIn,
} from './support/harness.js';
import type { Account, DomainWithToken, ErrorBody, KeyWithSecret, Page, UsageRecord } from './support/responses.js';

// The key service is the real one over HTTP (SQLite file); the inference server is a real HTTP
// server in this file standing in for llama.cpp / vLLM. Nothing of ours is mocked.

const PRICING = parsePricing({
  default: { input: 2, output: 4 },
  models: { pricey: { input: 2, output: 4, request: 5 } },
});
// 1200 * 2 + 300 * 4 = 3600 milli-credits -> 4 credits
const CHAT_COST = 4;
// 2000 * 2 + 1001 * 4 = 8004 -> 9
const STREAM_COST = 9;

let dir: string;
let clock: ManualClock;
let service: NodeService;
let h: Harness;
let upstream: FakeUpstream;
let proxy: ServiceProxy;
let gw: RunningGateway; // network domain, talks to the service directly
let publicGw: RunningGateway; // public domain
let proxiedGw: RunningGateway; // network domain, through the flaky proxy, bridge cache on
let downGw: RunningGateway; // key service unreachable
let user: SignedIn;
let admin: SignedIn;
let networkToken: string;
let publicToken: string;
const gatewayLogs: string[] = [];
let proxiedNow = Date.now();

interface MadeKey {
  key: string;
  id: string;
}

async function makeKey(owner: SignedIn, body: Record<string, unknown> = {}): Promise<MadeKey> {
  const res = await post(h, '/v1/keys', { name: `k-${Math.random().toString(36).slice(2)}`, ...body }, owner.token);
  const out = await json<KeyWithSecret>(res);
  if (res.status !== 201) throw new Error(`key: ${res.status} ${JSON.stringify(out)}`);
  return { key: out.key, id: out.id };
}

function chat(
  base: string,
  key: string | null,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

async function usageRecords(owner: SignedIn, requestId: string): Promise<UsageRecord[]> {
  const res = await get(h, `/v1/usage?request_id=${encodeURIComponent(requestId)}`, owner.token);
  const body = await json<Page<UsageRecord>>(res);
  if (res.status !== 200) throw new Error(`usage: ${res.status} ${JSON.stringify(body)}`);
  return body.data;
}

function gatewayOptions(serviceUrl: string, domainToken: string) {
  return {
    serviceUrl,
    upstream: upstream.url,
    domainToken,
    pricing: PRICING,
    logger: createLogger('debug', (l) => gatewayLogs.push(l)),
    usageRetryBaseMs: 20,
    port: 0,
    host: '127.0.0.1',
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'siwe-keys-gateway-'));
  clock = new ManualClock(new Date());
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: TEST_ORIGIN,
    ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    DATABASE_URL: `file:${join(dir, 'keys.db')}`,
    LOG_LEVEL: 'silent',
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
  });
  service = await startNodeServer(config, { clock, logger: createLogger('silent') });
  const base = service.url as string;
  h = {
    name: 'http',
    clock,
    service,
    logs: [],
    request: (path, init) => fetch(new URL(path, base), init),
    close: () => service.close(),
  };
  user = await signIn(h);
  admin = await signInAdmin(h);
  let res = await post(h, '/v1/domains', { name: 'node-1.example.org' }, user.token);
  let body = await json<DomainWithToken>(res);
  if (res.status !== 201) throw new Error(`domain: ${res.status} ${JSON.stringify(body)}`);
  networkToken = body.token;
  res = await post(h, '/v1/domains', { name: 'public-1.example.org', visibility: 'public' }, admin.token);
  body = await json<DomainWithToken>(res);
  if (res.status !== 201) throw new Error(`public domain: ${res.status} ${JSON.stringify(body)}`);
  publicToken = body.token;

  upstream = await startFakeUpstream();
  proxy = await startServiceProxy(base);
  gw = await startGatewayServer(gatewayOptions(base, networkToken));
  publicGw = await startGatewayServer(gatewayOptions(base, publicToken));
  proxiedGw = await startGatewayServer({ ...gatewayOptions(proxy.url, networkToken), cacheTtlSeconds: 5, now: () => proxiedNow });
  downGw = await startGatewayServer({ ...gatewayOptions(await closedPortUrl(), networkToken), verifyTimeoutMs: 2000 });
});

afterAll(async () => {
  for (const g of [gw, publicGw, proxiedGw, downGw]) await g?.close(1000);
  await proxy?.close();
  await upstream?.close();
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway: key carriers', () => {
  let k: MadeKey;
  beforeAll(async () => {
    k = await makeKey(user);
  });

  const carriers: [string, (key: string) => { path: string; headers: Record<string, string> }][] = [
    ['Authorization: Bearer', (key) => ({ path: '/v1/models?limit=5', headers: { authorization: `Bearer ${key}` } })],
    ['x-api-key', (key) => ({ path: '/v1/models?limit=5', headers: { 'x-api-key': key } })],
    ['?key=', (key) => ({ path: `/v1/models?limit=5&key=${encodeURIComponent(key)}`, headers: {} })],
  ];

  it.each(carriers)('accepts the key from %s and never forwards it', async (_name, carry) => {
    const { path, headers } = carry(k.key);
    const before = upstream.received.length;
    const res = await fetch(`${gw.url}${path}`, { headers: { ...headers, 'x-client-header': 'kept' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'list' });
    expect(upstream.received.length).toBe(before + 1);
    const seen = upstream.received[before];
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/v1/models?limit=5'); // other parameters kept, the key's removed
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['x-client-header']).toBe('kept');
    // nowhere at all: not in any header value, the URL or the body
    expect(JSON.stringify(seen.headers)).not.toContain(k.key);
    expect(seen.url).not.toContain(k.key.slice(8));
    expect(seen.body.toString('utf8')).not.toContain(k.key);
  });

  it('forwards a POST body byte for byte without the key', async () => {
    const before = upstream.received.length;
    const payload = JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'héllo ✓' }] });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': k.key },
      body: payload,
    });
    expect(res.status).toBe(200);
    expect(upstream.received[before].body.toString('utf8')).toBe(payload);
    expect(upstream.received[before].headers['x-api-key']).toBeUndefined();
  });

  it('streams a non-JSON request body through unchanged', async () => {
    const before = upstream.received.length;
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i >= bytes.length) c.close();
        else c.enqueue(bytes.slice(i, (i += 65_536)));
      },
    });
    const res = await fetch(`${gw.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${k.key}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    expect(upstream.received[before].headers['transfer-encoding']).toBe('chunked'); // not buffered into a length
  });

  it('refuses a request without a key with 401 and forwards nothing', async () => {
    const before = upstream.received.length;
    const res = await chat(gw.url, null);
    expect(res.status).toBe(401);
    const body = await json<ErrorBody>(res);
    expect(body).toEqual({
      error: { code: 'missing_api_key', message: expect.any(String), type: 'auth_error', request_id: res.headers.get('x-request-id') },
    });
    expect(upstream.received.length).toBe(before);
  });

  // Raw HTTP/1.1 on one socket: what a keep-alive client sees after a refusal sent before its body was read.
  async function exchange(requests: string[]): Promise<string> {
    const url = new URL(gw.url);
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    for (const r of requests) socket.write(r);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]);
    socket.destroy();
    return text;
  }
  const refusedPost = (body: string, extra = ''): string =>
    `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

  it('reads and discards a small body it refuses unread, so the answer arrives and the connection stays usable', async () => {
    const body = JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
    const text = await exchange([refusedPost(body), 'GET /healthz HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n']);
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 401 /);
    expect(answers[0]).toContain('"missing_api_key"');
    expect(answers[0].toLowerCase()).not.toContain('connection: close');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('cuts a refused connection whose small body trickles in slower than the drain allows', async () => {
    const slow = await startGatewayServer({ ...gatewayOptions(service.url as string, networkToken), refusalDrainMs: 300 });
    try {
      const url = new URL(slow.url);
      const socket = connect(Number(url.port), url.hostname);
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.on('error', () => undefined);
      const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now())));
      // 1,000 bytes declared, 10 sent: the 401 comes at once, the rest never does.
      const sent = Date.now();
      socket.write(`${refusedPost('x'.repeat(1000)).slice(0, -990)}`);
      const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
      socket.destroy();
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      expect(at).toBeGreaterThan(0); // cut by the server, not left open
      expect(at - sent).toBeLessThan(4_000);

      // A body that arrives in time ends the drain: the connection outlives the drain time.
      const kept = connect(Number(url.port), url.hostname);
      let answers = '';
      kept.on('data', (chunk: Buffer) => {
        answers += chunk.toString('latin1');
      });
      kept.on('error', () => undefined);
      kept.write(refusedPost('{"model":"m"}'));
      await new Promise((r) => setTimeout(r, 900));
      const keptClosed = new Promise<void>((done) => kept.once('close', () => done()));
      kept.write('GET /healthz HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n');
      await Promise.race([keptClosed, new Promise((r) => setTimeout(r, 3_000))]);
      kept.destroy();
      expect(answers).toMatch(/^HTTP\/1\.1 401 /);
      expect(answers).toMatch(/HTTP\/1\.1 200 [\s\S]*"ok":true/);
    } finally {
      await slow.close(100);
    }
  });

  it('closes the connection after refusing a large body unread, instead of reading it', async () => {
    const declared = 10 * 1024 * 1024;
    const url = new URL(gw.url);
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined); // the server may reset what it will not read
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    // Only the head and a first slice of the declared 10 MiB: the answer must not wait for the rest.
    socket.write(`${refusedPost('', '').replace('content-length: 0', `content-length: ${declared}`)}{"model":"m"`);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000))]);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain('connection: close');
  });
});

describe('gateway: refusals', () => {
  async function expectRefusal(res: Response, status: number, code: string, type: string): Promise<ErrorBody> {
    const before = upstream.received.length;
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await json<ErrorBody>(res);
    expect(body).toEqual({ error: { code, message: expect.any(String), type, request_id: res.headers.get('x-request-id') } });
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(upstream.received.length).toBe(before);
    return body;
  }

  it('401 malformed for a key that is not in the key format', async () => {
    await expectRefusal(await chat(gw.url, 'sk_net_not-a-real-key'), 401, 'malformed', 'auth_error');
  });

  it('401 malformed for an overlong key without asking the key service', async () => {
    // downGw's key service is unreachable: a 401 (not 503) shows no lookup was made
    await expectRefusal(await chat(downGw.url, `sk_net_${'a'.repeat(300)}`), 401, 'malformed', 'auth_error');
  });

  it('401 not_found for a deleted key', async () => {
    const k = await makeKey(user);
    expect((await del(h, `/v1/keys/${k.id}`, user.token)).status).toBe(204);
    await expectRefusal(await chat(gw.url, k.key), 401, 'not_found', 'auth_error');
  });

  it('401 disabled for a disabled key', async () => {
    const k = await makeKey(user);
    expect((await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, user.token)).status).toBe(200);
    await expectRefusal(await chat(gw.url, k.key), 401, 'disabled', 'auth_error');
  });

  it('401 expired for an expired key', async () => {
    const k = await makeKey(user, { expires_at: new Date(clock.now().getTime() + 60_000).toISOString() });
    expect((await chat(gw.url, k.key)).status).toBe(200);
    clock.advance(120_000);
    await expectRefusal(await chat(gw.url, k.key), 401, 'expired', 'auth_error');
  });

  it('403 key_type_mismatch with the exact message for a network key on a public domain', async () => {
    const k = await makeKey(user);
    const body = await expectRefusal(await chat(publicGw.url, k.key), 403, 'key_type_mismatch', 'permission_error');
    expect(body.error.message).toBe("Your API key doesn't match the type. Please apply for a Developer API key.");
  });

  it('403 key_type_mismatch for a developer key on a network domain, while the public domain takes it', async () => {
    const dev = await developerAccount(h, 1000, admin);
    const k = await makeKey(dev);
    const body = await expectRefusal(await chat(gw.url, k.key), 403, 'key_type_mismatch', 'permission_error');
    expect(body.error.message).toMatch(/public domains/);
    expect((await chat(publicGw.url, k.key)).status).toBe(200);
  });

  it('403 scope_denied for a read-only key on a POST, while its GET passes', async () => {
    const k = await makeKey(user, { scopes: ['inference:read'] });
    expect((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } })).status).toBe(200);
    await expectRefusal(await chat(gw.url, k.key), 403, 'scope_denied', 'permission_error');
  });

  it('403 model_not_allowed for a model outside the key allow-list, from JSON and multipart bodies', async () => {
    const k = await makeKey(user, { models: ['llama-3-8b'] });
    expect((await chat(gw.url, k.key, { model: 'llama-3-8b' })).status).toBe(200);
    await expectRefusal(await chat(gw.url, k.key, { model: 'gpt-4o' }), 403, 'model_not_allowed', 'permission_error');
    const form = new FormData();
    form.set('model', 'whisper-large');
    form.set('file', new Blob([new Uint8Array(1000)]), 'a.wav');
    const res = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}` },
      body: form,
    });
    await expectRefusal(res, 403, 'model_not_allowed', 'permission_error');
  });

  it('429 rate_limited with Retry-After once the key rpm is spent', async () => {
    const k = await makeKey(user, { limits: { rpm: 1 } });
    expect((await chat(gw.url, k.key)).status).toBe(200);
    const res = await chat(gw.url, k.key);
    await expectRefusal(res, 429, 'rate_limited', 'rate_limit_error');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('402 api_key_quota_exceeded when the per-request price exceeds the key daily window', async () => {
    const k = await makeKey(user, { limits: { daily_credits: 3 } });
    expect((await chat(gw.url, k.key, { model: 'llama-3-8b' })).status).toBe(200); // no request price
    await expectRefusal(await chat(gw.url, k.key, { model: 'pricey' }), 402, 'api_key_quota_exceeded', 'billing_error');
  });

  it('402 billing_shortfall when the account credits cannot cover the per-request price', async () => {
    const poor = await signIn(h);
    const res = await post(h, `/v1/admin/accounts/${poor.address}/credits`, { delta: 2, reason: 'gateway test' }, admin.token);
    expect(res.status).toBe(200);
    const k = await makeKey(poor);
    await expectRefusal(await chat(gw.url, k.key, { model: 'pricey' }), 402, 'billing_shortfall', 'billing_error');
  });

  it('503 with a clear message when the key service is unreachable, forwarding nothing', async () => {
    const k = await makeKey(user);
    const body = await expectRefusal(await chat(downGw.url, k.key), 503, 'service_unavailable', 'server_error');
    expect(body.error.message).toMatch(/key service is unreachable/);
  });

  it('503 "did not answer in time" when the key service takes the connection and never answers, forwarding nothing', async () => {
    const hung = createServer(() => undefined); // reads the verification, never answers
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const slow = await startGatewayServer({
      ...gatewayOptions(`http://127.0.0.1:${(hung.address() as AddressInfo).port}`, networkToken),
      verifyTimeoutMs: 300,
    });
    try {
      const before = upstream.received.length;
      const body = await expectRefusal(await chat(slow.url, 'sk_net_whatever'), 503, 'service_unavailable', 'server_error');
      expect(body.error.message).toMatch(/did not answer in time/);
      expect(upstream.received.length).toBe(before);
    } finally {
      await slow.close(500);
      hung.closeAllConnections();
      hung.close();
    }
  });
});

describe('gateway: responses', () => {
  let k: MadeKey;
  beforeAll(async () => {
    k = await makeKey(user);
  });

  it('passes upstream error statuses, headers and bodies through', async () => {
    for (const code of [400, 404, 429, 500, 503]) {
      const res = await fetch(`${gw.url}/status/${code}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(code);
      expect(res.headers.get('x-upstream-header')).toBe('kept');
      if (code === 429) expect(res.headers.get('retry-after')).toBe('7');
      expect(await res.json()).toEqual({ error: { message: `upstream says ${code}`, type: 'upstream_error', code: `e${code}` } });
    }
  });

  it('streams SSE chunk by chunk: the first chunk arrives while the upstream still holds the stream open', async () => {
    const res = await chat(gw.url, k.key, { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const held = await upstream.nextStream();
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    // The upstream has sent only its first chunk and is waiting for us: this read can only
    // complete if the gateway did not buffer.
    while (!text.includes('\n\n')) {
      const r = await reader.read();
      if (r.done) throw new Error('stream ended before the first chunk');
      text += decoder.decode(r.value, { stream: true });
    }
    expect(text).toBe(sseChunk('Hel'));
    held.release();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += decoder.decode(r.value, { stream: true });
    }
    expect(text).toBe(sseChunk('Hel') + sseChunk('lo') + SSE_USAGE_CHUNK + 'data: [DONE]\n\n');
    expect(await held.closed).toEqual({ aborted: false });
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k.key}` },
      body: JSON.stringify({ model: 'llama-3-8b', messages: [], stream: true }),
      signal: ac.signal,
    });
    const held = await upstream.nextStream();
    await (res.body as ReadableStream<Uint8Array>).getReader().read();
    ac.abort();
    expect(await held.closed).toEqual({ aborted: true });
  });

  it('echoes a well-formed x-request-id and forwards it upstream; replaces a malformed one', async () => {
    const before = upstream.received.length;
    let res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}`, 'x-request-id': 'client-req.42' } });
    expect(res.headers.get('x-request-id')).toBe('client-req.42');
    expect(upstream.received[before].headers['x-request-id']).toBe('client-req.42');
    res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}`, 'x-request-id': 'bad id <script>' } });
    const id = res.headers.get('x-request-id') as string;
    expect(id).toMatch(/^req_[A-Za-z0-9]{22}$/);
    expect(upstream.received[before + 1].headers['x-request-id']).toBe(id);
  });

  it('asks the upstream for stream usage only when configured to', async () => {
    const before = upstream.received.length;
    const res = await chat(gw.url, k.key, { stream: true });
    (await upstream.nextStream()).release();
    await res.text();
    expect(JSON.parse(upstream.received[before].body.toString('utf8')).stream_options).toBeUndefined(); // untouched by default
    const including = await startGatewayServer({ ...gatewayOptions(service.url as string, networkToken), includeStreamUsage: true });
    try {
      const r2 = await chat(including.url, k.key, { stream: true, stream_options: { other: 1 } });
      (await upstream.nextStream()).release();
      await r2.text();
      expect(JSON.parse(upstream.received[before + 1].body.toString('utf8')).stream_options).toEqual({ other: 1, include_usage: true });
    } finally {
      await including.close(1000);
    }
  });

  it('answers /healthz itself', async () => {
    const before = upstream.received.length;
    const res = await fetch(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(upstream.received.length).toBe(before);
  });

  it('refuses a JSON body over the size limit with 413, and invalid JSON or an overlong model with 400', async () => {
    const small = await startGatewayServer({ ...gatewayOptions(service.url as string, networkToken), maxBodyBytes: 2048 });
    try {
      let res = await chat(small.url, k.key, { padding: 'x'.repeat(4096) });
      expect(res.status).toBe(413);
      expect((await json<ErrorBody>(res)).error.code).toBe('payload_too_large');
      res = await fetch(`${small.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
        body: '{"model":',
      });
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'invalid_request', param: 'body' });
      res = await chat(small.url, k.key, { model: 'm'.repeat(129) });
      expect(res.status).toBe(400);
      expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 'invalid_request', param: 'model' });
    } finally {
      await small.close(1000);
    }
  });
});

describe('gateway: metering', () => {
  let owner: SignedIn;
  let k: MadeKey;
  beforeAll(async () => {
    owner = await signIn(h);
    k = await makeKey(owner);
  });

  it('records the usage block of a JSON answer once, priced by the cost table', async () => {
    const res = await chat(gw.url, k.key);
    expect(res.status).toBe(200);
    const rid = res.headers.get('x-request-id') as string;
    expect((await json<{ usage: unknown }>(res)).usage).toEqual(CHAT_USAGE); // the answer is untouched
    await gw.gateway.drain();
    const records = await usageRecords(owner, rid);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      key_id: k.id,
      request_id: rid,
      cost: CHAT_COST,
      model: 'llama-3-8b',
      input_tokens: 1200,
      output_tokens: 300,
    });
  });

  it('records the usage of the final SSE chunk once', async () => {
    const res = await chat(gw.url, k.key, { stream: true });
    const rid = res.headers.get('x-request-id') as string;
    (await upstream.nextStream()).release();
    expect(await res.text()).toContain('"usage"');
    await gw.gateway.drain();
    const records = await usageRecords(owner, rid);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      key_id: k.id,
      cost: STREAM_COST,
      input_tokens: STREAM_USAGE.prompt_tokens,
      output_tokens: STREAM_USAGE.completion_tokens,
    });
  });

  it("charges the reported cost to a developer account's credits", async () => {
    const dev = await developerAccount(h, 1000, admin);
    const dk = await makeKey(dev);
    const res = await chat(publicGw.url, dk.key);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await publicGw.gateway.drain();
    const me = await json<Account>(await get(h, '/v1/me', dev.token));
    expect(me.credits).toBe(1000 - CHAT_COST);
  });

  it('sends a JSON answer whole with its length, and streams one over 1 MiB, metering both', async () => {
    const res = await chat(gw.url, k.key);
    expect(res.headers.get('content-length')).toBe(String((await res.clone().arrayBuffer()).byteLength));
    await res.arrayBuffer();
    const big = await fetch(`${gw.url}/v1/big`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k.key}` },
      body: '{"model":"llama-3-8b"}',
    });
    expect(big.status).toBe(200);
    const rid = big.headers.get('x-request-id') as string;
    const text = await big.text();
    expect(text.length).toBe(24 * 64 * 1024 + 25 + JSON.stringify(CHAT_USAGE).length + 11);
    expect(JSON.parse(text).usage).toEqual(CHAT_USAGE);
    await gw.gateway.drain();
    expect(await usageRecords(owner, rid)).toMatchObject([{ cost: CHAT_COST, input_tokens: 1200, output_tokens: 300 }]);
  });

  it('retries a usage report whose answer was lost, and the service stores it once', async () => {
    proxy.loseUsageAnswers = 1;
    const postsBefore = proxy.usagePosts;
    const res = await chat(proxiedGw.url, k.key);
    expect(res.status).toBe(200);
    const rid = res.headers.get('x-request-id') as string;
    await res.arrayBuffer();
    await proxiedGw.gateway.drain();
    expect(proxy.usagePosts - postsBefore).toBe(2); // the lost one and its retry
    const records = await usageRecords(owner, rid);
    expect(records).toHaveLength(1);
    expect(records[0].cost).toBe(CHAT_COST);
  });

  it('meters two requests that reuse one client x-request-id separately', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await chat(gw.url, k.key, {}, { 'x-request-id': 'same-client-id' });
      expect(res.headers.get('x-request-id')).toBe('same-client-id');
      ids.push(res.headers.get('x-usage-id') as string);
      await res.arrayBuffer();
    }
    await gw.gateway.drain();
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) expect(await usageRecords(owner, id)).toHaveLength(1);
  });
});

describe('gateway: batched usage reports', () => {
  let owner: SignedIn;
  let k: MadeKey;
  beforeAll(async () => {
    owner = await signIn(h);
    k = await makeKey(owner);
  });

  async function chatsThrough(g: RunningGateway, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await chat(g.url, k.key);
      expect(res.status).toBe(200);
      ids.push(res.headers.get('x-request-id') as string);
      await res.arrayBuffer();
    }
    return ids;
  }

  it('reports many requests in one POST /v1/usage/batch, each stored once', async () => {
    const slow = await startGatewayServer({ ...gatewayOptions(proxy.url, networkToken), usageBatchMs: 60_000 });
    try {
      const before = { batch: proxy.batchPosts, single: proxy.singlePosts };
      const ids = await chatsThrough(slow, 5);
      expect(slow.gateway.keyService.pendingReports()).toBe(5); // waiting to share a call
      await slow.gateway.drain();
      expect(proxy.batchPosts - before.batch).toBe(1);
      expect(proxy.singlePosts - before.single).toBe(0);
      for (const id of ids) expect(await usageRecords(owner, id)).toMatchObject([{ request_id: id, cost: CHAT_COST }]);
    } finally {
      await slow.close(1000);
    }
  });

  it('sends a batch as soon as it is full', async () => {
    const small = await startGatewayServer({ ...gatewayOptions(proxy.url, networkToken), usageBatchMs: 60_000, usageBatchSize: 2 });
    try {
      const before = proxy.batchPosts;
      const ids = await chatsThrough(small, 4);
      await small.gateway.drain();
      expect(proxy.batchPosts - before).toBe(2);
      for (const id of ids) expect(await usageRecords(owner, id)).toHaveLength(1);
    } finally {
      await small.close(1000);
    }
  });

  it('retries a batch whose answer was lost under the same request ids: every record stored once', async () => {
    const slow = await startGatewayServer({ ...gatewayOptions(proxy.url, networkToken), usageBatchMs: 60_000 });
    try {
      const ids = await chatsThrough(slow, 3);
      proxy.loseUsageAnswers = 1;
      const before = proxy.batchPosts;
      await slow.gateway.drain();
      expect(proxy.batchPosts - before).toBe(2); // the lost one and its retry
      for (const id of ids) expect(await usageRecords(owner, id)).toMatchObject([{ request_id: id, cost: CHAT_COST }]);
    } finally {
      await slow.close(1000);
    }
  });

  it('sends what is queued when it shuts down', async () => {
    const slow = await startGatewayServer({ ...gatewayOptions(service.url as string, networkToken), usageBatchMs: 60_000 });
    const ids = await chatsThrough(slow, 2);
    await slow.close(2000);
    for (const id of ids) expect(await usageRecords(owner, id)).toHaveLength(1);
  });

  it('falls back to one POST /v1/usage per report against a service without the batch route', async () => {
    const slow = await startGatewayServer({ ...gatewayOptions(proxy.url, networkToken), usageBatchMs: 60_000 });
    proxy.batchRoute = false;
    try {
      const before = proxy.singlePosts;
      const ids = await chatsThrough(slow, 3);
      await slow.gateway.drain();
      expect(proxy.singlePosts - before).toBe(3);
      for (const id of ids) expect(await usageRecords(owner, id)).toHaveLength(1);
    } finally {
      proxy.batchRoute = true;
      await slow.close(1000);
    }
  });
});

describe('gateway: bridge cache', () => {
  it('serves a recently verified key while the key service is down, within its bound, and never a refused one', async () => {
    const good = await makeKey(user);
    const refused = await makeKey(user, { scopes: ['inference:read'] });
    expect((await chat(proxiedGw.url, good.key)).status).toBe(200);
    expect((await chat(proxiedGw.url, refused.key)).status).toBe(403);
    proxy.mode = 'down';
    try {
      expect((await chat(proxiedGw.url, good.key)).status).toBe(200); // bridged
      expect((await chat(proxiedGw.url, refused.key)).status).toBe(503); // negative answers are not cached
      proxiedNow += 6000; // past the 5 s bound
      expect((await chat(proxiedGw.url, good.key)).status).toBe(503);
    } finally {
      proxy.mode = 'pass';
    }
  });
});

describe('gateway: logs', () => {
  it('never logs an API key or the domain token', async () => {
    await gw.gateway.drain();
    const all = gatewayLogs.join('\n');
    expect(gatewayLogs.length).toBeGreaterThan(10);
    expect(all).not.toContain(networkToken);
    expect(all).not.toContain(publicToken);
    expect(all).not.toMatch(/sk_(net|dev)_[A-Za-z0-9]{20,}/);
    for (const l of gatewayLogs) expect(() => JSON.parse(l)).not.toThrow();
  });
});
