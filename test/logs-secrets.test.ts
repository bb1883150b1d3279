import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../packages/client/src/index.js';
import { siweKeysAuth, type SiweKeysEnv } from '../packages/client/src/hono.js';
import { createDomain, createKey, uniqueDomainName } from './support/fixtures.js';
import { del, get, getNonce, json, newWallet, patch, post, siweText, nodeTargets, ADMIN_ACCOUNT, type Harness } from './support/harness.js';
import { startRealServer } from './support/server.js';
import { startFakeUpstream } from './support/fake-upstream.js';
import { startGatewayServer } from '../src/gateway/node.js';
import { createLogger } from '../src/logger.js';
import type { Application, DomainWithToken, KeyWithSecret, Session, VerifyResult } from './support/responses.js';

/**
 * Secrets never reach the logs. Every main flow runs at LOG_LEVEL=debug (the most verbose level)
 * with every log line captured, including refusals and misuse (secrets in the wrong header, in the
 * query string, in the path, revoked or rotated ones); then the logs are searched for every secret
 * the test was given or sent: session JWTs, SIWE signatures, API keys, domain tokens.
 */

type Secrets = Set<string>;

/** Signs in like a client, remembering the signature and the session token as secrets. */
async function signInRecorded(h: Harness, secrets: Secrets, account = newWallet()): Promise<{ token: string; address: string }> {
  const nonce = await getNonce(h);
  const message = siweText(account.address, nonce, h.clock ? h.clock.now() : new Date());
  const signature = await account.signMessage({ message });
  secrets.add(signature);
  const res = await post(h, '/v1/auth/verify', { message, signature });
  const body = await json<Session>(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  secrets.add(body.token);
  // A replay of the same signed message is refused, and must not be logged either.
  expect((await post(h, '/v1/auth/verify', { message, signature })).status).toBe(401);
  return { token: body.token, address: account.address };
}

/** Runs every main flow, returning every secret involved. `serviceUrl` enables the operator-client flows. */
async function runFlows(h: Harness, serviceUrl?: string): Promise<Secrets> {
  const secrets: Secrets = new Set();
  const keep = <T extends string>(s: T): T => (secrets.add(s), s);
  const ok = async <T = unknown>(res: Response | Promise<Response>, status: number): Promise<T> => {
    const r = await res;
    const text = await r.text();
    expect(r.status, text).toBe(status);
    return text ? (JSON.parse(text) as T) : (null as T);
  };

  const user = await signInRecorded(h, secrets);
  const admin = await signInRecorded(h, secrets, ADMIN_ACCOUNT);

  // Keys: create, list, get, update, rotate (with and without grace), delete.
  const k1 = await createKey(h, user.token, { name: 'logs-1' });
  keep(k1.key);
  // Admin keys carry no other scope: analytics are read with a key of their own.
  const adminKey = await createKey(h, user.token, { name: 'logs-admin', scopes: ['admin'] });
  keep(adminKey.key);
  const analyticsKey = await createKey(h, user.token, { name: 'logs-analytics', scopes: ['analytics:read'] });
  keep(analyticsKey.key);
  await ok(get(h, '/v1/keys', user.token), 200);
  await ok(patch(h, `/v1/keys/${k1.id}`, { description: 'rotating' }, user.token), 200);
  const rotated = await ok<KeyWithSecret>(post(h, `/v1/keys/${k1.id}/rotate`, { grace_seconds: 60 }, user.token), 200);
  keep(rotated.key);
  const rotatedAgain = await ok<KeyWithSecret>(post(h, `/v1/keys/${k1.id}/rotate`, {}, user.token), 200);
  keep(rotatedAgain.key);

  // A key used where keys are accepted (Authorization: Bearer on management and analytics routes),
  // and where they are not (an inference key on a management route).
  await ok(get(h, '/v1/keys', adminKey.key), 200);
  await ok(get(h, '/v1/usage', analyticsKey.key), 200);
  await ok<KeyWithSecret>(post(h, '/v1/keys', { name: 'made-by-key' }, adminKey.key), 201).then((b) => keep(b.key));
  await ok(get(h, '/v1/keys', rotatedAgain.key), 403);

  // Misuse: keys in x-api-key, in the query string, in the path, in x-request-id, in a cookie.
  await h.request(`/v1/keys?key=${rotatedAgain.key}&api_key=${adminKey.key}`, { headers: { authorization: `Bearer ${user.token}` } });
  await h.request('/v1/keys', { headers: { 'x-api-key': adminKey.key } });
  await h.request('/v1/me', { headers: { authorization: `Bearer ${user.token}`, 'x-request-id': adminKey.key } });
  await h.request(`/v1/keys/${adminKey.key}`, { headers: { authorization: `Bearer ${user.token}` } });
  await h.request(`/v1/nowhere/${rotatedAgain.key}?token=${user.token}`);
  await h.request(`/v1/keys/${user.token}`, { headers: { authorization: `Bearer ${user.token}` } });
  await h.request(`/v1/domains/x_${adminKey.key}`, { headers: { authorization: `Bearer ${user.token}` } });
  await h.request('/v1/me', { headers: { authorization: `Bearer ${user.token}`, cookie: `session=${user.token}` } });

  // Domains: create, rotate the token, verify and meter with it.
  const dom = await createDomain(h, user.token, uniqueDomainName('logs'));
  keep(dom.token);
  const domRotated = await ok<DomainWithToken>(post(h, `/v1/domains/${dom.id}/token/rotate`, {}, user.token), 200);
  keep(domRotated.token);
  const pub = await createDomain(h, admin.token, uniqueDomainName('logs-pub'), 'public');
  keep(pub.token);
  expect(
    (await ok<VerifyResult>(post(h, '/v1/verify', { key: rotatedAgain.key, scope: 'inference:write', cost: 1 }, domRotated.token), 200))
      .valid,
  ).toBe(true);
  // Refusals: the rotated-away key, the old domain token, a key of the wrong type, a mistyped key.
  expect((await ok<VerifyResult>(post(h, '/v1/verify', { key: k1.key }, domRotated.token), 200)).valid).toBe(false);
  expect((await ok<VerifyResult>(post(h, '/v1/verify', { key: rotated.key }, domRotated.token), 200)).valid).toBe(false);
  await ok(post(h, '/v1/verify', { key: rotatedAgain.key }, dom.token), 401);
  expect((await ok<VerifyResult>(post(h, '/v1/verify', { key: rotatedAgain.key }, pub.token), 200)).code).toBe('key_type_mismatch');
  expect((await ok<VerifyResult>(post(h, '/v1/verify', { key: `${rotatedAgain.key.slice(0, -1)}x` }, domRotated.token), 200)).valid).toBe(
    false,
  );
  await ok(post(h, '/v1/usage', { key_id: k1.id, request_id: 'logs-1', cost: 2 }, domRotated.token), 201);
  await ok(post(h, '/v1/usage', { key_id: k1.id, request_id: 'logs-1', cost: 2 }, domRotated.token), 201);
  await ok(get(h, '/v1/usage?request_id=logs-1', user.token), 200);

  // The operator client in front of an app, with the key in each place a client may put it.
  if (serviceUrl) {
    const app = new Hono<SiweKeysEnv>();
    app.use('/v1/*', siweKeysAuth({ verifier: createVerifier({ serviceUrl, domainToken: domRotated.token, positiveTtlMs: 0 }) }));
    app.post('/v1/chat/completions', (c) => c.json({ ok: true }));
    const call = (headers: Record<string, string>, path = '/v1/chat/completions'): Promise<Response> =>
      Promise.resolve(app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' }));
    await ok(call({ authorization: `Bearer ${rotatedAgain.key}` }), 200);
    await ok(call({ 'x-api-key': rotatedAgain.key }), 200);
    await ok(call({}, `/v1/chat/completions?key=${rotatedAgain.key}`), 200);
    await ok(call({ 'x-api-key': rotated.key }), 401);
  }

  // Trial: apply, approve; credits; then the developer account's key.
  const dev = await signInRecorded(h, secrets);
  const app = await ok<Application>(post(h, '/v1/trial/applications', { use_case: 'logs', contact: 'me@example.org' }, dev.token), 201);
  await ok(post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 50 }, admin.token), 200);
  await ok(post(h, `/v1/admin/accounts/${dev.address}/credits`, { delta: 5, reason: 'logs' }, admin.token), 200);
  const devKey = await createKey(h, dev.token, { name: 'logs-dev' });
  keep(devKey.key);
  expect((await ok<VerifyResult>(post(h, '/v1/verify', { key: devKey.key, cost: 3 }, pub.token), 200)).valid).toBe(true);
  await ok(get(h, '/v1/audit', dev.token), 200);
  await ok(get(h, '/v1/admin/audit', admin.token), 200);

  // Domain and key deletion, then the deleted domain's token and key are refused.
  await ok(del(h, `/v1/keys/${devKey.id}`, dev.token), 204);
  await ok(post(h, '/v1/verify', { key: devKey.key }, pub.token), 200);
  await ok(del(h, `/v1/domains/${dom.id}`, user.token), 204);
  await ok(post(h, '/v1/verify', { key: rotatedAgain.key }, domRotated.token), 401);

  // Logout, logout-all, and the revoked tokens refused.
  await ok(post(h, '/v1/auth/logout', {}, user.token), 204);
  await ok(get(h, '/v1/me', user.token), 401);
  const second = await signInRecorded(h, secrets);
  await signInRecorded(h, secrets, { ...newWallet() });
  await ok(post(h, '/v1/auth/logout-all', {}, second.token), 204);
  await ok(get(h, '/v1/me', second.token), 401);
  await ok(get(h, '/v1/me', `${admin.token.slice(0, -2)}xx`), 401);
  return secrets;
}

/** Each secret, and a long inner piece of it (so a truncated secret in a log is found too). */
function leaks(logs: string[], secrets: Secrets): string[] {
  const text = logs.join('\n');
  const found: string[] = [];
  for (const s of secrets) {
    const probes = [s];
    if (/^eyJ/.test(s))
      probes.push(s.split('.')[2]); // a JWT's signature part
    else if (s.startsWith('0x')) probes.push(s.slice(2, 42));
    else probes.push(s.slice(7, 30)); // the random part of {prefix}_{kind}_...
    for (const p of probes) if (text.includes(p)) found.push(`${s.slice(0, 12)}… (${p === s ? 'whole' : 'part'})`);
  }
  return found;
}

describe.each(nodeTargets())('logs on $name carry no secrets', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start({ env: { LOG_LEVEL: 'debug' } });
  });
  afterAll(async () => h.close());

  it('logs no session token, signature, API key or domain token through every main flow at debug level', async () => {
    const secrets = await runFlows(h);
    expect(secrets.size).toBeGreaterThan(15);
    // The logs were captured, one JSON line per request at least, with request ids.
    expect(h.logs.length).toBeGreaterThan(50);
    for (const l of h.logs) expect(() => JSON.parse(l)).not.toThrow();
    expect(h.logs.filter((l) => JSON.parse(l).request_id).length).toBeGreaterThan(50);
    expect(leaks(h.logs, secrets)).toEqual([]);
    // The misuse requests were logged, with the secrets in their paths masked.
    expect(h.logs.some((l) => l.includes('sk_net_[redacted]'))).toBe(true);
    expect(h.logs.some((l) => l.includes('[redacted-jwt]'))).toBe(true);
  });
});

describe('logs of the real Node server carry no secrets', () => {
  let srv: Awaited<ReturnType<typeof startRealServer>>;
  beforeAll(async () => {
    srv = await startRealServer({ LOG_LEVEL: 'debug' });
  });
  afterAll(async () => srv.close());

  it('logs no session token, signature, API key or domain token through every main flow and the operator client', async () => {
    const secrets = await runFlows(srv.h, srv.url);
    expect(srv.h.logs.length).toBeGreaterThan(50);
    expect(leaks(srv.h.logs, secrets)).toEqual([]);
    expect(srv.h.logs.some((l) => l.includes('sk_net_[redacted]'))).toBe(true);
  });

  it('logs no API key or domain token through the gateway, from any key carrier, in either process', async () => {
    const h = srv.h;
    const secrets: Secrets = new Set();
    const user = await signInRecorded(h, secrets);
    const dom = await createDomain(h, user.token, uniqueDomainName('logs-gw'));
    secrets.add(dom.token);
    const k = await createKey(h, user.token, { name: 'logs-gw' });
    const old = await createKey(h, user.token, { name: 'logs-gw-old' });
    secrets.add(k.key).add(old.key);
    const rotated = await json<KeyWithSecret>(await post(h, `/v1/keys/${old.id}/rotate`, {}, user.token));
    secrets.add(rotated.key);

    const gatewayLogs: string[] = [];
    const upstream = await startFakeUpstream();
    const gw = await startGatewayServer({
      serviceUrl: srv.url,
      upstream: upstream.url,
      domainToken: dom.token,
      logger: createLogger('debug', (l) => gatewayLogs.push(l)),
      usageRetryBaseMs: 20,
      port: 0,
      host: '127.0.0.1',
    });
    try {
      const chat = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
        fetch(`${gw.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect((await chat('/v1/chat/completions', { authorization: `Bearer ${k.key}` })).status).toBe(200);
      expect((await chat('/v1/chat/completions', { 'x-api-key': k.key })).status).toBe(200);
      expect((await chat(`/v1/chat/completions?key=${k.key}`)).status).toBe(200);
      // Refused keys: rotated away, mistyped; and a key pasted into the path and the request id.
      expect((await chat('/v1/chat/completions', { authorization: `Bearer ${old.key}` })).status).toBe(401);
      expect((await chat('/v1/chat/completions', { 'x-api-key': `${k.key.slice(0, -1)}x` })).status).toBe(401);
      await chat(`/v1/${rotated.key}/chat/completions`, { authorization: `Bearer ${rotated.key}`, 'x-request-id': rotated.key });
    } finally {
      await gw.close(2000);
      await upstream.close();
    }
    expect(gatewayLogs.length).toBeGreaterThan(5);
    expect(leaks(gatewayLogs, secrets)).toEqual([]);
    expect(leaks(h.logs, secrets)).toEqual([]);
  });
});
