import { Hono } from 'hono';
import { randomBase62 } from '../ids.js';
import { createLogger, type Logger } from '../logger.js';
import { gatewayErrorResponse } from './errors.js';
import { createKeyService, type KeyService, type RateLimit, type UsageReport } from './key-service.js';
import { FREE, priceFor, tokenCost, type Pricing } from './pricing.js';
import { bodyKind, tapBody, type TapResult } from './usage-tap.js';

export interface GatewayOptions {
  /** Base URL of the siwe-keys service, e.g. https://keys.example.org. */
  serviceUrl: string;
  /** Base URL of the OpenAI-compatible server; a path in it is kept as a prefix. */
  upstream: string;
  /** This domain's token (POST /v1/domains); it decides which key type is accepted here. */
  domainToken: string;
  pricing?: Pricing;
  /** Sent upstream as `Authorization: Bearer <upstreamKey>` when the inference server wants its own key. */
  upstreamKey?: string;
  logger?: Logger;
  /** Used for the upstream (default: the global fetch). */
  fetch?: typeof fetch;
  /** Used for the key service's verify and usage calls (default: `fetch`); the Node entry passes a cheaper one. */
  serviceFetch?: typeof fetch;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  /** How long a verification may take before the request fails closed with 503 (default 5000). */
  verifyTimeoutMs?: number;
  /**
   * Seconds a positive verification may be reused while the key service is unreachable (default 0:
   * off). It is never used while the service answers, and negative answers are never cached.
   */
  cacheTtlSeconds?: number;
  /** Largest request body read to find `model` (default 8 MiB); bigger bodies get 413. */
  maxBodyBytes?: number;
  /** Adds `stream_options.include_usage` to streaming requests so streams can be metered (default off: requests pass untouched). */
  includeStreamUsage?: boolean;
  /** Attempts per usage report (default 8, backing off from usageRetryBaseMs, 500 ms by default). */
  usageAttempts?: number;
  usageRetryBaseMs?: number;
  /** Keeps usage reports alive after the response where the runtime needs it (Workers' ctx.waitUntil). */
  waitUntil?: (p: Promise<unknown>) => void;
}

export interface Gateway {
  app: Hono;
  keyService: KeyService;
  /** Resolves when every usage report has been delivered or given up on (tests, graceful shutdown). */
  drain(): Promise<void>;
}

const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Never forwarded upstream: hop-by-hop headers, the key carriers, and what fetch sets itself. */
const DROP_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'authorization',
  'x-api-key',
  'accept-encoding',
  'x-request-id',
]);

const DROP_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'trailer', 'transfer-encoding', 'upgrade']);

/** Bodies small enough to be requests we read whole for `model`; media uploads stream untouched. */
function requestBodyKind(contentType: string | undefined): 'buffer' | 'multipart' | 'stream' {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('multipart/form-data')) return 'multipart';
  // Content types an inference server might still parse as JSON, so `model` must be read from them too.
  if (ct === '' || ct.includes('json') || ct.startsWith('text/plain') || ct.startsWith('application/x-www-form-urlencoded')) return 'buffer';
  return 'stream';
}

const isJsonType = (contentType: string | undefined): boolean => /json/i.test(contentType ?? '');

/** Reads up to `limit` bytes; `rest` is the reader when the body was longer (stream not finished). */
async function readUpTo(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ chunks: Uint8Array[]; size: number; rest: ReadableStreamDefaultReader<Uint8Array> | null }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) return { chunks, size, rest: null };
    chunks.push(r.value);
    size += r.value.byteLength;
    if (size > limit) return { chunks, size, rest: reader };
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The already-read chunks, then the rest of the body, as one stream. */
function replay(chunks: Uint8Array[], rest: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (i < chunks.length) {
          controller.enqueue(chunks[i++]);
          return;
        }
        const r = await rest.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel: (reason) => rest.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** The `model` field of a multipart form, if it is in the part of the body already read. */
function multipartModel(prefix: Uint8Array): string | undefined {
  let text = '';
  for (const b of prefix) text += String.fromCharCode(b); // latin1: byte offsets survive binary parts
  const m = /content-disposition:[^\r\n]*\bname="model"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n/i.exec(text);
  const model = m ? new TextDecoder().decode(Uint8Array.from(m[1], (ch) => ch.charCodeAt(0))) : '';
  // Same bounds as a JSON model; an unusable one counts as unreadable.
  return model !== '' && model.length <= 128 ? model : undefined;
}

/** Removes every `key` parameter from a raw query string, keeping the rest byte for byte. */
export function stripKeyParam(search: string): { query: string; key: string | undefined } {
  if (search.length <= 1) return { query: '', key: undefined };
  let key: string | undefined;
  const kept: string[] = [];
  for (const part of search.slice(1).split('&')) {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // keep the raw name; a malformed escape is not our key
    }
    if (name === 'key') {
      if (key === undefined && eq >= 0) {
        try {
          key = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
        } catch {
          key = part.slice(eq + 1);
        }
      }
      continue;
    }
    if (part !== '') kept.push(part);
  }
  return { query: kept.length ? `?${kept.join('&')}` : '', key };
}

/** Seconds until the rate-limit window resets, whatever unit the service used for `reset`. */
export function retryAfterSeconds(ratelimit: RateLimit | undefined, nowMs: number): number {
  const reset = ratelimit?.reset;
  let at: number | undefined;
  if (typeof reset === 'string') at = Date.parse(reset);
  else if (typeof reset === 'number' && Number.isFinite(reset)) {
    if (reset >= 1e12) at = reset; // epoch milliseconds
    else if (reset >= 1e9) at = reset * 1000; // epoch seconds
    else at = nowMs + reset * 1000; // seconds from now
  }
  if (at === undefined || Number.isNaN(at)) return 60; // an rpm window is never longer
  return Math.max(1, Math.ceil((at - nowMs) / 1000));
}

/**
 * The reverse proxy, runtime-neutral: only fetch and web streams. Node's entry is ./node.ts.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const log = options.logger ?? createLogger('info');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  const pricing = options.pricing ?? { default: FREE, models: {} };
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const upstreamUrl = new URL(options.upstream);
  const upstreamBase = `${upstreamUrl.origin}${upstreamUrl.pathname.replace(/\/+$/, '')}`;

  const keyService = createKeyService({
    serviceUrl: options.serviceUrl,
    domainToken: options.domainToken,
    fetch: options.serviceFetch ?? doFetch,
    logger: log,
    now,
    verifyTimeoutMs: options.verifyTimeoutMs ?? 5000,
    cacheTtlMs: Math.max(0, options.cacheTtlSeconds ?? 0) * 1000,
    cacheMaxEntries: 10_000,
    usageAttempts: options.usageAttempts ?? 8,
    usageRetryBaseMs: options.usageRetryBaseMs ?? 500,
    usageTimeoutMs: 10_000,
    usageConcurrency: 16,
    waitUntil: options.waitUntil,
  });

  const app = new Hono();

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.all('*', async (c) => {
    const started = now();
    const incomingId = c.req.header('x-request-id');
    const clientChoseId = incomingId !== undefined && WELL_FORMED_REQUEST_ID.test(incomingId);
    const requestId = clientChoseId ? incomingId : `req_${randomBase62(22)}`;
    const url = new URL(c.req.url);
    const method = c.req.method;
    const line: Record<string, unknown> = { request_id: requestId, method, path: url.pathname };
    const refuse = (code: string, opts: Parameters<typeof gatewayErrorResponse>[2] = {}): Response => {
      const res = gatewayErrorResponse(code, requestId, opts);
      log.info('request', { ...line, status: res.status, code, ms: now() - started });
      return res;
    };

    // 1. The key, from whichever carrier the client used; all carriers are stripped below.
    const { query, key: queryKey } = stripKeyParam(url.search);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const key = bearer ?? c.req.header('x-api-key')?.trim() ?? queryKey;
    if (!key) return refuse('missing_api_key');
    // Longer than any key the service issues (and than its verify schema takes): refused here, no lookup.
    if (key.length > 256) return refuse('malformed', { message: 'The API key is malformed.' });

    // 2. The model, from the body, before anything is forwarded.
    const contentType = c.req.header('content-type');
    let forwardBody: BodyInit | null = null;
    let streamedBody = false;
    let model: string | undefined;
    const body = method === 'GET' || method === 'HEAD' ? null : c.req.raw.body;
    if (body) {
      const kind = requestBodyKind(contentType);
      if (kind === 'buffer') {
        const read = await readUpTo(body, maxBodyBytes);
        if (read.rest) {
          await read.rest.cancel().catch(() => undefined);
          return refuse('payload_too_large', { message: `The request body is larger than ${maxBodyBytes} bytes.` });
        }
        let bytes = concat(read.chunks, read.size);
        let parsed: unknown;
        try {
          parsed = bytes.byteLength ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
        } catch {
          // Only a body that says it is JSON must parse; other small bodies pass as they are.
          if (isJsonType(contentType)) return refuse('invalid_request', { message: 'The request body is not valid JSON.', extra: { param: 'body' } });
        }
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          const obj = parsed as Record<string, unknown>;
          if (typeof obj.model === 'string' && obj.model !== '') model = obj.model;
          if (model !== undefined && model.length > 128) {
            return refuse('invalid_request', { message: 'The model name is longer than 128 characters.', extra: { param: 'model' } });
          }
          if (options.includeStreamUsage && obj.stream === true) {
            const so = obj.stream_options;
            if (!(so && typeof so === 'object' && (so as Record<string, unknown>).include_usage === true)) {
              obj.stream_options = { ...(so && typeof so === 'object' ? so : {}), include_usage: true };
              bytes = new TextEncoder().encode(JSON.stringify(obj));
            }
          }
        }
        forwardBody = bytes;
      } else if (kind === 'multipart') {
        const read = await readUpTo(body, 64 * 1024);
        model = multipartModel(concat(read.chunks, read.size));
        forwardBody = read.rest ? replay(read.chunks, read.rest) : concat(read.chunks, read.size);
        streamedBody = read.rest !== null;
      } else {
        forwardBody = body;
        streamedBody = true;
      }
    }
    if (model !== undefined) line.model = model;

    // 3. Verification (the domain token carries this domain's type rule); fail closed.
    const price = priceFor(pricing, model);
    const scope = method === 'GET' || method === 'HEAD' ? 'inference:read' : 'inference:write';
    const outcome = await keyService.verify({ key, scope, ...(model !== undefined ? { model } : {}), ...(price.request > 0 ? { cost: price.request } : {}) });
    if (outcome.kind === 'unavailable') {
      const message =
        outcome.reason === 'domain_token_refused'
          ? "The key service refused this gateway's domain token, so the request was not forwarded."
          : outcome.reason === 'timeout'
            ? 'The key service did not answer in time, so the request was not forwarded.'
            : 'The key service is unreachable, so the request was not forwarded.';
      return refuse('service_unavailable', { message, headers: { 'retry-after': '5' } });
    }
    const answer = outcome.answer;
    if (!answer.valid) {
      const headers: Record<string, string> = {};
      if (answer.code === 'rate_limited') headers['retry-after'] = String(retryAfterSeconds(answer.ratelimit, now()));
      return refuse(answer.code, { message: answer.message, headers });
    }
    line.key_id = answer.key_id;
    if (outcome.bridged) line.bridged = true;
    if (body && model === undefined && Array.isArray(answer.models)) {
      // A model-restricted key must not get around its allow-list with a body whose model we cannot read.
      return refuse('model_not_allowed', {
        message: 'The API key is limited to certain models, and the model of this request could not be read (send it as "model" in a JSON body).',
      });
    }

    // 4. Forward, without the key in any carrier.
    const headers = new Headers();
    for (const [name, value] of c.req.raw.headers) if (!DROP_REQUEST_HEADERS.has(name)) headers.set(name, value);
    headers.set('x-request-id', requestId);
    // Identity, so usage can be read from the body and no decoded body goes out with a stale content-encoding.
    headers.set('accept-encoding', 'identity');
    if (options.upstreamKey) headers.set('authorization', `Bearer ${options.upstreamKey}`);

    // A reused client id must not let the service's idempotency swallow a second charge.
    const usageId = clientChoseId ? `${requestId.slice(0, 100)}:${randomBase62(12)}` : requestId;
    const report = (tap: TapResult, status: number): void => {
      const cost = (tap.usage ? tokenCost(price, tap.usage.inputTokens, tap.usage.outputTokens) : 0) + (outcome.bridged ? price.request : 0);
      const usage: UsageReport = { key_id: answer.key_id, request_id: usageId, cost };
      if (model !== undefined) usage.model = model;
      if (tap.usage) {
        usage.input_tokens = tap.usage.inputTokens;
        usage.output_tokens = tap.usage.outputTokens;
      }
      keyService.reportUsage(usage);
      log.info('request', {
        ...line,
        status,
        ms: now() - started,
        bytes: tap.bytes,
        complete: tap.complete,
        input_tokens: tap.usage?.inputTokens,
        output_tokens: tap.usage?.outputTokens,
        cost,
      });
    };

    const init: RequestInit & { duplex?: 'half' } = { method, headers, body: forwardBody, signal: c.req.raw.signal, redirect: 'manual' };
    if (streamedBody) init.duplex = 'half';
    let upstreamRes: Response;
    try {
      upstreamRes = await doFetch(`${upstreamBase}${url.pathname}${query}`, init);
    } catch (err) {
      if (c.req.raw.signal.aborted) {
        // The client left before the upstream answered: nothing was delivered, nothing is metered beyond the verification.
        log.info('request', { ...line, status: 499, ms: now() - started, complete: false });
        return new Response(null, { status: 499 });
      }
      log.warn('upstream unreachable', { request_id: requestId, error: err instanceof Error ? err.name : 'error' });
      return refuse('upstream_unavailable');
    }

    const resHeaders = new Headers();
    for (const [name, value] of upstreamRes.headers) if (!DROP_RESPONSE_HEADERS.has(name)) resHeaders.append(name, value);
    if (resHeaders.has('content-encoding')) {
      // fetch already decoded it; the encoding header and length no longer describe the bytes
      resHeaders.delete('content-encoding');
      resHeaders.delete('content-length');
    }
    resHeaders.set('x-request-id', requestId);
    if (usageId !== requestId) resHeaders.set('x-usage-id', usageId);
    const rl = answer.ratelimit;
    if (rl && rl.limit !== null && rl.remaining !== null && !resHeaders.has('x-ratelimit-limit-requests')) {
      resHeaders.set('x-ratelimit-limit-requests', String(rl.limit));
      resHeaders.set('x-ratelimit-remaining-requests', String(rl.remaining));
      resHeaders.set('x-ratelimit-reset-requests', `${retryAfterSeconds(rl, now())}s`);
    }

    const status = upstreamRes.status;
    if (!upstreamRes.body || method === 'HEAD') {
      await upstreamRes.body?.cancel().catch(() => undefined);
      report({ usage: undefined, bytes: 0, complete: true }, status);
      return new Response(null, { status, statusText: upstreamRes.statusText, headers: resHeaders });
    }
    const tapped = tapBody(upstreamRes.body, {
      kind: bodyKind(upstreamRes.headers.get('content-type')),
      onDone: (tap) => report(tap, status),
    });
    return new Response(tapped, { status, statusText: upstreamRes.statusText, headers: resHeaders });
  });

  app.onError((err, c) => {
    const requestId = c.req.header('x-request-id') ?? `req_${randomBase62(22)}`;
    log.error('gateway error', { request_id: requestId, path: c.req.path, error: err instanceof Error ? err.name : 'error' });
    return gatewayErrorResponse('internal_error', WELL_FORMED_REQUEST_ID.test(requestId) ? requestId : `req_${randomBase62(22)}`);
  });

  return { app, keyService, drain: () => keyService.drain() };
}
