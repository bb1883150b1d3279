/**
 * siwe-keys operator client: verify API keys from your own service. Dependency-free (fetch and
 * Web Crypto), so it runs on Node, Workers, Deno and Bun.
 */
import {
  REFUSALS,
  type RefusalCode,
  type UsageReceipt,
  type UsageReport,
  type VerifyAnswer,
  type VerifyRequest,
} from '../../../src/contract/verify-codes.js';

export { REFUSALS, VERIFY_CODES } from '../../../src/contract/verify-codes.js';
export type {
  RefusalCode,
  Scope,
  UsageReceipt,
  UsageReport,
  VerifyAnswer,
  VerifyCode,
  VerifyRequest,
} from '../../../src/contract/verify-codes.js';

/** Why the key service could not give an answer: no connection, no answer in time, a 5xx, or a body we cannot read. */
export type UnavailableReason = 'unreachable' | 'timeout' | 'server_error' | 'bad_answer';

/** The key service could not be asked (or gave no usable answer): safe to retry, and to fail closed meanwhile. */
export class KeyServiceUnavailable extends Error {
  override name = 'KeyServiceUnavailable';
  constructor(
    message: string,
    readonly reason: UnavailableReason = 'unreachable',
    /** The HTTP status, when the service answered (5xx, or a 2xx whose body was unusable). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The key service answered, but not with success: e.g. 401 invalid_domain_token, 400 invalid_request, 404 (an older service). */
export class KeyServiceError extends Error {
  override name = 'KeyServiceError';
  constructor(
    message: string,
    readonly status: number,
    /** The error body's `error.code`, when it had one. */
    readonly code?: string,
  ) {
    super(message);
  }
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
  /** Request timeout in ms (default 3000); usage calls may pass their own. */
  timeoutMs?: number;
  /**
   * The HTTP transport: any fetch-compatible function (default: the global fetch). A Node gateway
   * passes a keep-alive client here; browsers and Workers keep fetch.
   */
  fetch?: Transport;
  now?: () => number;
}

/**
 * The part of fetch the client uses, so a faster transport can stand in. `init.signal` is an
 * `AbortSignal.timeout(init.timeoutMs)` made only when read (fetch reads it); a transport with its
 * own timeouts reads `timeoutMs` instead and pays for no signal. A timeout should reject with an
 * error named `TimeoutError` (as fetch's does) so it is told apart from an unreachable service.
 */
export type Transport = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; readonly signal: AbortSignal; timeoutMs: number },
) => Promise<{
  status: number;
  json(): Promise<unknown>;
}>;

/** One record's result in POST /v1/usage/batch, at the record's index. */
export type UsageBatchResult =
  | { recorded: true; request_id: string; id: string; charged: number; uncharged: number; credits_remaining: number | null }
  | { recorded: false; request_id: string; error: { code: 'not_found' | 'forbidden'; message: string } };

export interface Verifier {
  verify(req: VerifyRequest): Promise<VerifyAnswer>;
  /** Reports metered usage (idempotent by requestId). */
  reportUsage(u: UsageReport, opts?: { timeoutMs?: number }): Promise<UsageReceipt>;
  /**
   * Reports up to 100 usage records in one call (POST /v1/usage/batch), each idempotent by its
   * request_id, so a retry of the whole call is safe; one result per record, in order.
   */
  reportUsageBatch(records: readonly UsageReport[], opts?: { timeoutMs?: number }): Promise<UsageBatchResult[]>;
}

/** SHA-256 of a string, as hex (Web Crypto: Node, Workers, browsers). Caches key on it, never on a secret. */
export async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  let out = '';
  for (const b of d) out += b.toString(16).padStart(2, '0');
  return out;
}

function isVerifyAnswer(v: unknown): v is VerifyAnswer {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  if (o.valid === true) return typeof o.key_id === 'string';
  return o.valid === false && typeof o.code === 'string';
}

const isTimeout = (err: unknown): boolean => err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');

export function createVerifier(opts: VerifierOptions): Verifier {
  const base = opts.serviceUrl.replace(/\/+$/, '');
  const ttl = Math.min(Math.max(opts.positiveTtlMs ?? 2000, 0), 10_000);
  const maxEntries = opts.maxEntries ?? 10_000;
  const defaultTimeoutMs = opts.timeoutMs ?? 3000;
  const doFetch: Transport = opts.fetch ?? ((url, init) => fetch(url, init));
  const now = opts.now ?? Date.now;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${opts.domainToken}` };
  // Keyed by a hash of the key, so the cache never holds plaintext secrets. Map keeps insertion order: oldest first.
  const cache = new Map<string, { at: number; answer: VerifyAnswer }>();

  /** One POST; a 5xx, an unreadable body or no answer throws KeyServiceUnavailable, any other status returns. */
  async function call(path: string, body: unknown, timeoutMs = defaultTimeoutMs): Promise<{ status: number; body: unknown }> {
    let res: Awaited<ReturnType<Transport>>;
    try {
      res = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        get signal() {
          return AbortSignal.timeout(timeoutMs);
        },
        timeoutMs,
      });
    } catch (err) {
      const timeout = isTimeout(err);
      throw new KeyServiceUnavailable(
        timeout ? 'the key service did not answer in time' : `key service unreachable: ${err instanceof Error ? err.message : String(err)}`,
        timeout ? 'timeout' : 'unreachable',
      );
    }
    if (res.status >= 500) {
      // Read to the end all the same, so a keep-alive transport can reuse the connection.
      await res.json().catch(() => undefined);
      throw new KeyServiceUnavailable(`key service answered ${res.status}`, 'server_error', res.status);
    }
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch (err) {
      if (isTimeout(err)) throw new KeyServiceUnavailable('the key service did not answer in time', 'timeout', res.status);
      throw new KeyServiceUnavailable(`key service answered ${res.status} with a body that is not JSON`, 'bad_answer', res.status);
    }
    return { status: res.status, body: parsed };
  }

  const failed = (what: string, status: number, body: unknown): KeyServiceError => {
    const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
    return new KeyServiceError(
      `${what} failed: ${status} ${typeof code === 'string' ? code : ''}`.trim(),
      status,
      typeof code === 'string' ? code : undefined,
    );
  };

  return {
    async verify(req) {
      const cacheable = ttl > 0 && !req.cost;
      const ck = cacheable ? `${await sha256Hex(req.key)}|${req.scope ?? ''}|${req.model ?? ''}` : '';
      if (cacheable) {
        const hit = cache.get(ck);
        if (hit && now() - hit.at < ttl) return hit.answer;
        if (hit) cache.delete(ck);
      }
      const { status, body } = await call('/v1/verify', req);
      if (status !== 200) throw failed('verify', status, body);
      if (!isVerifyAnswer(body)) throw new KeyServiceUnavailable('the key service gave no usable verify answer', 'bad_answer', status);
      if (cacheable && body.valid) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
        cache.set(ck, { at: now(), answer: body });
      }
      return body;
    },
    async reportUsage(u, o) {
      const { status, body } = await call('/v1/usage', u, o?.timeoutMs);
      if (status !== 201) throw failed('usage report', status, body);
      return body as UsageReceipt;
    },
    async reportUsageBatch(records, o) {
      const { status, body } = await call('/v1/usage/batch', { records }, o?.timeoutMs);
      if (status !== 200) throw failed('usage batch', status, body);
      const results = (body as { results?: unknown } | null)?.results;
      if (!Array.isArray(results) || results.length !== records.length)
        throw new KeyServiceUnavailable('the key service gave no usable usage batch answer', 'bad_answer', status);
      return results as UsageBatchResult[];
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

/** The parts of Node's IncomingMessage (and Express's / Fastify's request) the adapter reads. */
export interface NodeLikeRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  /** A parsed JSON body (express.json(), Fastify), read for `model` when present. */
  body?: unknown;
  siweKey?: VerifyAnswer;
}

/** The parts of Node's ServerResponse the adapter writes. */
export interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

function headerOf(req: NodeLikeRequest, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/**
 * The same check as `siweKeysAuth`, for `(req, res, next)` servers (Express, Connect, Fastify's
 * middie, plain node:http): refuses with the gateway's statuses and OpenAI-style bodies, or sets
 * `req.siweKey` and calls `next()`. Fails closed (503) when the key service is unreachable.
 */
export function siweKeysMiddleware(opts: {
  verifier: Verifier;
  scope?: VerifyRequest['scope'];
  model?: (req: NodeLikeRequest) => string | undefined;
}): (req: NodeLikeRequest, res: NodeLikeResponse, next: (err?: unknown) => void) => void {
  const send = (res: NodeLikeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.end(JSON.stringify(body));
  };
  const modelOf = (req: NodeLikeRequest): string | undefined => {
    if (opts.model) return opts.model(req);
    const b = req.body as { model?: unknown } | undefined;
    return b && typeof b === 'object' && typeof b.model === 'string' ? b.model : undefined;
  };
  return (req, res, next) => {
    const requestId = headerOf(req, 'x-request-id') ?? `req_${crypto.randomUUID()}`;
    const headers = new Headers();
    for (const name of ['authorization', 'x-api-key']) {
      const v = headerOf(req, name);
      if (v !== null) headers.set(name, v);
    }
    const key = extractKey(headers, new URL(req.url ?? '/', 'http://localhost'));
    if (!key) {
      send(res, 401, {
        error: {
          code: 'missing_api_key',
          message: 'Send an API key in Authorization: Bearer, x-api-key or ?key=.',
          type: 'auth_error',
          request_id: requestId,
        },
      });
      return;
    }
    const scope = opts.scope ?? (req.method === 'GET' ? 'inference:read' : 'inference:write');
    opts.verifier.verify({ key, scope, model: modelOf(req) }).then(
      (answer) => {
        if (!answer.valid) {
          const r = refusal(answer, requestId);
          send(res, r.status, r.body, r.headers);
          return;
        }
        req.siweKey = answer;
        next();
      },
      (err: unknown) => {
        if (err instanceof KeyServiceUnavailable) {
          send(res, 503, {
            error: {
              code: 'key_service_unavailable',
              message: 'API keys cannot be checked right now. Try again shortly.',
              type: 'server_error',
              request_id: requestId,
            },
          });
          return;
        }
        next(err);
      },
    );
  };
}
