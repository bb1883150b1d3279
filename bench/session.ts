// Every benchmark signs in the same way before it measures: a fresh wallet, a nonce, viem's
// EIP-4361 message for the service's origin, then calls with the session token.
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';

/** fetch, or an in-process app.request: anything that answers a URL with a Response. */
export type Requester = (url: string, init?: RequestInit) => Promise<Response>;

export interface BenchSession {
  token: string;
  address: `0x${string}`;
  /** POST a JSON body with the session token; answers the parsed JSON. */
  post(path: string, body: unknown): Promise<Record<string, unknown>>;
}

/** Signs a new wallet in at `base` (where requests go) for the service whose origin is `origin`. */
export async function benchSession(request: Requester, base: string, origin: string): Promise<BenchSession> {
  const account = privateKeyToAccount(generatePrivateKey());
  const { nonce } = (await (await request(`${base}/v1/auth/nonce`)).json()) as { nonce: string };
  const message = createSiweMessage({
    domain: new URL(origin).host,
    address: account.address,
    uri: origin,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: new Date(),
  });
  const signature = await account.signMessage({ message });
  const res = await request(`${base}/v1/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  const { token } = (await res.json()) as { token?: string };
  if (!token) throw new Error(`bench sign-in failed: ${res.status}`);
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> =>
    (await (
      await request(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>;
  return { token, address: account.address, post };
}

/** A service in this process (app.request, no sockets) with a signed-in operator: the micro benchmarks' setup. */
export async function inProcessService(databaseUrl: string): Promise<{
  svc: Awaited<ReturnType<typeof import('../src/node.js').createNodeService>>;
  /** POST a JSON body, with a bearer token when given. */
  req(path: string, body: unknown, token?: string): Promise<Response>;
  session: BenchSession;
}> {
  const { loadConfig } = await import('../src/config.js');
  const { createLogger } = await import('../src/logger.js');
  const { createNodeService } = await import('../src/node.js');
  const origin = 'http://localhost:8787';
  const svc = await createNodeService(loadConfig({ PUBLIC_URL: origin, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }), {
    logger: createLogger('silent'),
  });
  const req = async (path: string, body: unknown, token?: string): Promise<Response> =>
    svc.app.request(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const session = await benchSession((url, init) => Promise.resolve(svc.app.request(url, init)), origin, origin);
  return { svc, req, session };
}
