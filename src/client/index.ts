/**
 * siwe-keys operator client: verify API keys from your own service. Dependency-free (fetch and
 * Web Crypto), so it runs on Node, Workers, Deno and Bun.
 */
import type { MiddlewareHandler } from 'hono';

export type VerifyCode =
  | 'valid'
  | 'malformed'
  | 'not_found'
  | 'disabled'
  | 'expired'
  | 'key_type_mismatch'
  | 'scope_denied'
  | 'model_not_allowed'
  | 'rate_limited'
  | 'api_key_quota_exceeded'
  | 'billing_shortfall';

export interface VerifyAnswer {
  valid: boolean;
  code: VerifyCode;
  message?: string;
  key_id?: string;
  account?: string;
  type?: 'developer' | 'network';
  scopes?: string[];
  models?: string[] | null;
  expires_at?: string | null;
  credits_remaining?: number | null;
  ratelimit?: { limit: number | null; remaining: number | null; reset: number };
}

export interface VerifyRequest {
  key: string;
  scope?: 'inference:read' | 'inference:write' | 'analytics:read' | 'admin';
  model?: string;
  cost?: number;
}

export type RefusalCode = Exclude<VerifyCode, 'valid'>;

/**
 * How a gateway answers each refusal (the contract's Gateway section): status, OpenAI-style error
 * type and a default message. The one table the client middleware and the gateway both use.
 */
export const REFUSALS = {
  malformed: { status: 401, type: 'auth_error', message: 'The API key is malformed.' },
  not_found: { status: 401, type: 'auth_error', message: 'The API key does not exist.' },
  disabled: { status: 401, type: 'auth_error', message: 'The API key is disabled.' },
  expired: { status: 401, type: 'auth_error', message: 'The API key has expired.' },
  key_type_mismatch: { status: 403, type: 'permission_error', message: "Your API key doesn't match the type of this domain." },
  scope_denied: { status: 403, type: 'permission_error', message: 'The API key lacks the scope for this request.' },
  model_not_allowed: { status: 403, type: 'permission_error', message: 'The API key may not use this model.' },
  rate_limited: { status: 429, type: 'rate_limit_error', message: 'Too many requests for this API key. Try again later.' },
  api_key_quota_exceeded: { status: 402, type: 'billing_error', message: 'The API key has reached its credit limit.' },
  billing_shortfall: { status: 402, type: 'billing_error', message: "The account's credits cannot cover this request." },
} as const satisfies Record<RefusalCode, { status: number; type: string; message: string }>;

export class KeyServiceUnavailable extends Error {
  override name = 'KeyServiceUnavailable';
}

export interface VerifierOptions {
  /** Base URL of the siwe-keys service, e.g. https://keys.example.org */
  serviceUrl: string;
  /** This domain's token (from POST /v1/domains). */
  domainToken: string;
  /**
   * How long a *valid* answer may be reused, in ms (default 2000, at most 10000; 0 disables).
   * A revoked or disabled key can therefore keep working on this node for at most this long.
   * Refusals are never cached, and calls with a cost are never served from the cache (the charge
   * must happen).
   */
  positiveTtlMs?: number;
  /** Bound on cached entries (default 10000). */
  maxEntries?: number;
  /** Request timeout in ms (default 3000). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface Verifier {
  verify(req: VerifyRequest): Promise<VerifyAnswer>;
  /** Reports metered usage (idempotent by requestId). */
  reportUsage(u: { key_id: string; request_id: string; cost?: number; model?: string; input_tokens?: number; output_tokens?: number }): Promise<{ recorded: true; charged: number; credits_remaining: number | null }>;
}

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  let out = '';
  for (const b of d) out += b.toString(16).padStart(2, '0');
  return out;
}

export function createVerifier(opts: VerifierOptions): Verifier {
  const base = opts.serviceUrl.replace(/\/+$/, '');
  const ttl = Math.min(Math.max(opts.positiveTtlMs ?? 2000, 0), 10_000);
  const maxEntries = opts.maxEntries ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  // Keyed by a hash of the key, so the cache never holds plaintext secrets. Map keeps insertion order: oldest first.
  const cache = new Map<string, { at: number; answer: VerifyAnswer }>();

  async function call<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.domainToken}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new KeyServiceUnavailable(`key service unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status >= 500) throw new KeyServiceUnavailable(`key service answered ${res.status}`);
    return { status: res.status, body: (await res.json()) as T };
  }

  return {
    async verify(req) {
      const cacheable = ttl > 0 && !req.cost;
      const ck = cacheable ? `${await sha256Hex(req.key)}|${req.scope ?? ''}|${req.model ?? ''}` : '';
      if (cacheable) {
        const hit = cache.get(ck);
        if (hit && now() - hit.at < ttl) return hit.answer;
        if (hit) cache.delete(ck);
      }
      const { status, body } = await call<VerifyAnswer & { error?: { code: string; message: string } }>('/v1/verify', req);
      if (status !== 200) throw new Error(`verify failed: ${status} ${body.error?.code ?? ''}`);
      if (cacheable && body.valid) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
        cache.set(ck, { at: now(), answer: body });
      }
      return body;
    },
    async reportUsage(u) {
      const { status, body } = await call<{ recorded: true; charged: number; credits_remaining: number | null }>('/v1/usage', u);
      if (status !== 201) throw new Error(`usage report failed: ${status}`);
      return body;
    },
  };
}

/** The key a client sent: Authorization: Bearer, x-api-key, or ?key=. */
export function extractKey(headers: Headers, url: URL): string | null {
  const auth = headers.get('authorization');
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1] ?? headers.get('x-api-key') ?? url.searchParams.get('key');
}

/** OpenAI-style error body and status for a refusal. */
export function refusal(answer: VerifyAnswer, requestId: string): { status: number; body: unknown; headers: Record<string, string> } {
  const code: RefusalCode = answer.code === 'valid' ? 'malformed' : answer.code;
  const r = REFUSALS[code];
  const headers: Record<string, string> = {};
  if (r.status === 429) headers['retry-after'] = String(answer.ratelimit?.reset ?? 60);
  return {
    status: r.status,
    headers,
    body: { error: { code, message: answer.message ?? r.message, type: r.type, request_id: requestId } },
  };
}

export interface SiweKeysEnv {
  Variables: { siweKey: VerifyAnswer };
}

/**
 * Hono middleware for operators embedding verification: refuses with the gateway's statuses and
 * OpenAI-style bodies, or sets `c.var.siweKey` and continues. Fails closed (503) when the key
 * service is unreachable.
 */
export function siweKeysAuth(opts: { verifier: Verifier; scope?: VerifyRequest['scope']; model?: (req: Request) => string | undefined }): MiddlewareHandler<SiweKeysEnv> {
  return async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? `req_${crypto.randomUUID()}`;
    const key = extractKey(c.req.raw.headers, new URL(c.req.url));
    if (!key) {
      return c.json({ error: { code: 'missing_api_key', message: 'Send an API key in Authorization: Bearer, x-api-key or ?key=.', type: 'auth_error', request_id: requestId } }, 401);
    }
    let answer: VerifyAnswer;
    try {
      answer = await opts.verifier.verify({ key, scope: opts.scope ?? (c.req.method === 'GET' ? 'inference:read' : 'inference:write'), model: opts.model?.(c.req.raw) });
    } catch (err) {
      if (err instanceof KeyServiceUnavailable) {
        return c.json({ error: { code: 'key_service_unavailable', message: 'API keys cannot be checked right now. Try again shortly.', type: 'server_error', request_id: requestId } }, 503);
      }
      throw err;
    }
    if (!answer.valid) {
      const r = refusal(answer, requestId);
      for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
      return c.json(r.body as object, r.status as 401);
    }
    c.set('siweKey', answer);
    await next();
  };
}
