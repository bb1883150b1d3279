import { createServer, type Server } from 'node:http';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeyServiceError,
  KeyServiceUnavailable,
  createVerifier,
  refusal,
  siweKeysMiddleware,
  type NodeLikeRequest,
  type Transport,
} from '../packages/client/src/index.js';
import { siweKeysAuth, type SiweKeysEnv } from '../packages/client/src/hono.js';
import { json, patch, signIn, signInAdmin, type Harness, type SignedIn } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName } from './support/fixtures.js';
import { startRealServer } from './support/server.js';
import type { ErrorBody, VerifyResult } from './support/responses.js';

describe('operator client against the real server', () => {
  let srv: Awaited<ReturnType<typeof startRealServer>>;
  let h: Harness;
  let user: SignedIn;
  let domainToken: string;

  beforeAll(async () => {
    srv = await startRealServer();
    h = srv.h;
    user = await signIn(h);
    domainToken = (await createDomain(h, (await signIn(h)).token, uniqueDomainName('client'))).token;
  });
  afterAll(async () => srv.close());

  it('verifies keys and reports usage', async () => {
    const v = createVerifier({ serviceUrl: srv.url, domainToken });
    const k = await createKey(h, user.token, { name: 'c1' });
    const ok = await v.verify({ key: k.key, model: 'm' });
    expect(ok).toMatchObject({ valid: true, key_id: k.id });
    expect((await v.verify({ key: 'nope' })).code).toBe('malformed');
    const u = await v.reportUsage({ key_id: k.id, request_id: 'client-1', cost: 0 });
    expect(u.recorded).toBe(true);
  });

  it('reuses a valid answer for at most the TTL and never caches refusals or costs', async () => {
    let t = 1_000_000;
    const v = createVerifier({ serviceUrl: srv.url, domainToken, positiveTtlMs: 3000, now: () => t });
    const k = await createKey(h, user.token, { name: 'c2' });
    expect((await v.verify({ key: k.key })).valid).toBe(true);
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, user.token);
    // Within the stated bound the cached positive answer is served...
    t += 2999;
    expect((await v.verify({ key: k.key })).valid).toBe(true);
    // ...but a call with a cost always asks the service.
    expect((await v.verify({ key: k.key, cost: 1 })).code).toBe('disabled');
    // After the bound the revocation is seen.
    t += 2;
    expect((await v.verify({ key: k.key })).code).toBe('disabled');
    // A refusal is not cached: re-enabling takes effect on the next call.
    await patch(h, `/v1/keys/${k.id}`, { status: 'active' }, user.token);
    expect((await v.verify({ key: k.key })).valid).toBe(true);
  });

  it('throws KeyServiceUnavailable when the service cannot be reached', async () => {
    const v = createVerifier({ serviceUrl: 'http://127.0.0.1:1', domainToken, timeoutMs: 500 });
    await expect(v.verify({ key: 'sk_net_x' })).rejects.toBeInstanceOf(KeyServiceUnavailable);
  });

  describe('Hono middleware', () => {
    const appWith = (serviceUrl: string, token: string) => {
      const app = new Hono<SiweKeysEnv>();
      app.use('/v1/*', siweKeysAuth({ verifier: createVerifier({ serviceUrl, domainToken: token, positiveTtlMs: 0, timeoutMs: 500 }) }));
      app.post('/v1/chat/completions', (c) => c.json({ ok: true, key_id: c.get('siweKey').key_id }));
      return app;
    };
    const call = (app: Hono<SiweKeysEnv>, headers: Record<string, string>, path = '/v1/chat/completions') =>
      app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

    it('passes valid keys from each carrier and refuses with OpenAI-style errors', async () => {
      const app = appWith(srv.url, domainToken);
      const k = await createKey(h, user.token, { name: 'mw1' });
      for (const res of [
        await call(app, { authorization: `Bearer ${k.key}` }),
        await call(app, { 'x-api-key': k.key }),
        await call(app, {}, `/v1/chat/completions?key=${k.key}`),
      ]) {
        expect(res.status).toBe(200);
        expect((await json<VerifyResult>(res)).key_id).toBe(k.id);
      }
      const missing = await call(app, {});
      expect(missing.status).toBe(401);
      const bad = await call(app, { authorization: 'Bearer sk_net_bad' });
      expect(bad.status).toBe(401);
      expect((await json<ErrorBody>(bad)).error).toMatchObject({ code: 'malformed', type: 'auth_error' });
    });

    it('maps the type rule to 403, rate limits to 429 with Retry-After and billing to 402', async () => {
      const admin = await signInAdmin(h);
      const pub = (await createDomain(h, admin.token, uniqueDomainName('pub'), 'public')).token;
      const app = appWith(srv.url, pub);
      const netKey = await createKey(h, user.token, { name: 'mw-net' });
      const mismatch = await call(app, { authorization: `Bearer ${netKey.key}` });
      expect(mismatch.status).toBe(403);
      expect((await json<ErrorBody>(mismatch)).error.message).toBe(
        "Your API key doesn't match the type. Please apply for a Developer API key.",
      );

      const dev = await developerAccount(h, 0, admin);
      const limited = await createKey(h, dev.token, { name: 'mw-rpm', limits: { rpm: 1 } });
      expect((await call(app, { authorization: `Bearer ${limited.key}` })).status).toBe(200);
      const r429 = await call(app, { authorization: `Bearer ${limited.key}` });
      expect(r429.status).toBe(429);
      expect(Number(r429.headers.get('retry-after'))).toBeGreaterThan(0);

      const poor = await createKey(h, dev.token, { name: 'mw-poor' });
      const v = createVerifier({ serviceUrl: srv.url, domainToken: pub });
      const short = await v.verify({ key: poor.key, cost: 5 });
      expect(short.code).toBe('billing_shortfall');
      expect(refusal(short, 'req_x')).toMatchObject({ status: 402, body: { error: { code: 'billing_shortfall', type: 'billing_error' } } });
    });

    it('fails closed with 503 when the key service is down', async () => {
      const app = appWith('http://127.0.0.1:1', domainToken);
      const res = await call(app, { authorization: 'Bearer sk_net_whatever' });
      expect(res.status).toBe(503);
      expect((await json<ErrorBody>(res)).error.code).toBe('key_service_unavailable');
    });
  });

  describe('(req, res, next) middleware on node:http', () => {
    let server: Server;
    let base = '';
    let seenModel: string | undefined;
    beforeAll(async () => {
      const verifier = createVerifier({ serviceUrl: srv.url, domainToken, positiveTtlMs: 0, timeoutMs: 500 });
      const mw = siweKeysMiddleware({ verifier, model: (req) => (seenModel = req.headers['x-model'] as string | undefined) });
      server = createServer((req, res) => {
        mw(req as NodeLikeRequest, res, (err) => {
          if (err) {
            res.statusCode = 500;
            res.end();
            return;
          }
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ ok: true, key_id: (req as NodeLikeRequest).siweKey?.key_id }));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    afterAll(async () => new Promise<void>((r) => server.close(() => r())));

    it('passes a valid key from each carrier and sets req.siweKey', async () => {
      const k = await createKey(h, user.token, { name: 'node-mw1' });
      for (const res of [
        await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'x-model': 'm1' } }),
        await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'x-api-key': k.key } }),
        await fetch(`${base}/v1/chat/completions?key=${k.key}`, { method: 'POST' }),
      ]) {
        expect(res.status).toBe(200);
        expect((await json<VerifyResult>(res)).key_id).toBe(k.id);
      }
    });

    it('refuses a missing, malformed or disabled key with the OpenAI-style body and never calls next', async () => {
      const missing = await fetch(`${base}/x`, { method: 'POST' });
      expect(missing.status).toBe(401);
      expect((await json<ErrorBody>(missing)).error.code).toBe('missing_api_key');
      const bad = await fetch(`${base}/x`, { method: 'POST', headers: { authorization: 'Bearer sk_net_bad' } });
      expect(bad.status).toBe(401);
      expect((await json<ErrorBody>(bad)).error).toMatchObject({ code: 'malformed', type: 'auth_error' });
      const k = await createKey(h, user.token, { name: 'node-mw2', models: ['allowed'] });
      const wrongModel = await fetch(`${base}/x`, { method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'x-model': 'other' } });
      expect(seenModel).toBe('other');
      expect(wrongModel.status).toBe(403);
      expect((await json<ErrorBody>(wrongModel)).error.code).toBe('model_not_allowed');
      await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, user.token);
      const disabled = await fetch(`${base}/x`, { method: 'POST', headers: { authorization: `Bearer ${k.key}` } });
      expect(disabled.status).toBe(401);
      expect((await json<ErrorBody>(disabled)).error.code).toBe('disabled');
    });
  });

  it('sends every call through the transport it is given', async () => {
    const seen: string[] = [];
    const transport: Transport = async (url, init) => {
      seen.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    };
    const v = createVerifier({ serviceUrl: srv.url, domainToken, positiveTtlMs: 0, fetch: transport });
    const k = await createKey(h, user.token, { name: 'transport1' });
    expect((await v.verify({ key: k.key })).valid).toBe(true);
    await v.reportUsage({ key_id: k.id, request_id: 'transport-1', cost: 0 });
    const batch = await v.reportUsageBatch([
      { key_id: k.id, request_id: 'transport-2', cost: 0 },
      { key_id: 'key_nope', request_id: 'transport-3', cost: 0 },
    ]);
    expect(batch[0]).toMatchObject({ recorded: true, request_id: 'transport-2' });
    expect(batch[1]).toMatchObject({ recorded: false, request_id: 'transport-3', error: { code: 'not_found' } });
    expect(seen).toEqual(['POST /v1/verify', 'POST /v1/usage', 'POST /v1/usage/batch']);
  });

  it('hands a transport its timeout and makes the timeout signal only when the transport reads it', async () => {
    const inits: { timeoutMs: number; signalRead: boolean }[] = [];
    let readSignal = false;
    const transport: Transport = async (url, init) => {
      const seen = { timeoutMs: init.timeoutMs, signalRead: false };
      inits.push(seen);
      if (readSignal) {
        seen.signalRead = init.signal instanceof AbortSignal;
        return fetch(url, init);
      }
      return fetch(url, { method: init.method, headers: init.headers, body: init.body });
    };
    const v = createVerifier({ serviceUrl: srv.url, domainToken, positiveTtlMs: 0, timeoutMs: 1234, fetch: transport });
    const k = await createKey(h, user.token, { name: 'transport2' });
    expect((await v.verify({ key: k.key })).valid).toBe(true);
    readSignal = true;
    await v.reportUsage({ key_id: k.id, request_id: 'transport-4', cost: 0 }, { timeoutMs: 777 });
    expect(inits).toEqual([
      { timeoutMs: 1234, signalRead: false },
      { timeoutMs: 777, signalRead: true },
    ]);
  });

  it('tells a refused domain token, a timeout, a 5xx and an unreadable answer apart', async () => {
    const k = await createKey(h, user.token, { name: 'errors1' });
    const bad = createVerifier({ serviceUrl: srv.url, domainToken: 'sk_dom_nope', positiveTtlMs: 0 });
    const refused = await bad.verify({ key: k.key }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeyServiceError);
    expect(refused).toMatchObject({ status: 401, code: 'invalid_domain_token' });
    const answering =
      (status: number, body: string): Transport =>
      async () => ({
        status,
        json: async () => JSON.parse(body) as unknown,
      });
    const timingOut: Transport = async () => {
      const e = new Error('too slow');
      e.name = 'TimeoutError';
      throw e;
    };
    const cases: [Transport, string, number | undefined][] = [
      [timingOut, 'timeout', undefined],
      [answering(503, '{}'), 'server_error', 503],
      [answering(200, '<html>'), 'bad_answer', 200],
      [answering(200, '{"hello":1}'), 'bad_answer', 200],
    ];
    for (const [transport, reason, status] of cases) {
      const v = createVerifier({ serviceUrl: srv.url, domainToken, positiveTtlMs: 0, fetch: transport });
      const err = await v.verify({ key: k.key }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyServiceUnavailable);
      expect(err).toMatchObject({ reason, status });
    }
    const short = createVerifier({ serviceUrl: srv.url, domainToken, fetch: answering(200, '{"results":[]}') });
    const err = await short.reportUsageBatch([{ key_id: k.id, request_id: 'short-1' }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'KeyServiceUnavailable', reason: 'bad_answer' });
  });
});
