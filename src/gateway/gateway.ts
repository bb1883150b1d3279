import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { createLogger, type Logger } from '../logger.js';
import { gatewayError } from './errors.js';
import { createVerifier, type Transport } from '../../packages/client/src/index.js';
import { createKeyService, type KeyService, type RateLimit, type UsageReport } from './key-service.js';
import { FREE, priceFor, tokenCost, type Pricing } from './pricing.js';
import { inspectJsonRequest, inspectMultipart, MULTIPART_MALFORMED, requestBodyKind, type MultipartInspector } from './request-body.js';
import { bodyKind, createUsageReader, type TapResult } from './usage-tap.js';

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
  /** Used for the key service's verify and usage calls instead of the keep-alive undici Pool (tests). */
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
  /** Usage reports per POST /v1/usage/batch (default and most 100) and how long one waits for others (default 50 ms). */
  usageBatchSize?: number;
  usageBatchMs?: number;
  /**
   * How long the small body of a refused request may take to arrive while it is read and discarded
   * (default 5000 ms); then the connection is cut, so a refused client cannot hold it by trickling.
   */
  refusalDrainMs?: number;
}

export interface Gateway {
  /** The node:http request handler. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  keyService: KeyService;
  /** Sends queued usage reports now; resolves when every one has been delivered or given up on (tests, graceful shutdown). */
  drain(): Promise<void>;
  /** Closes the keep-alive connections to the upstream and the key service. */
  close(): Promise<void>;
}

const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Never forwarded upstream: hop-by-hop headers, the key carriers, and what the client sets itself. */
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

/** Largest JSON answer held to be sent in one write; a longer one streams. */
const MAX_HELD_JSON_BYTES = 1024 * 1024;

/** How much of a multipart body is read for `model` before verification; the rest streams (and is still checked). */
const MULTIPART_PREFIX_BYTES = 64 * 1024;
/**
 * A refusal answered before the body was read reads and discards a body declared this small, so the
 * connection stays open: closing a socket with unread data in it resets it, and a client still
 * sending may then lose the answer (ECONNRESET) instead of reading it. Larger or chunked bodies are
 * not worth reading for a refusal: the connection closes after the answer.
 */
const DRAIN_BEFORE_REFUSAL_BYTES = 64 * 1024;

/** Reads a body whole up to `limit` bytes; null when it is longer. */
function readWhole(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
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
    if (reset >= 1e12)
      at = reset; // epoch milliseconds
    else if (reset >= 1e9)
      at = reset * 1000; // epoch seconds
    else at = nowMs + reset * 1000; // seconds from now
  }
  if (at === undefined || Number.isNaN(at)) return 60; // an rpm window is never longer
  return Math.max(1, Math.ceil((at - nowMs) / 1000));
}

/** The multipart body was refused after forwarding had begun (a second `model` part further in). */
class LateRefusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'LateRefusal';
  }
}

/** A broken form is about the body; every other multipart refusal is about its `model` parts. */
const refusalParam = (reason: string): string => (reason === MULTIPART_MALFORMED ? 'body' : 'model');

/** The already-read chunks, then the rest of the body, each parsed before it is forwarded. */
async function* multipartRest(prefix: Buffer[], rest: AsyncIterator<Buffer>, insp: MultipartInspector): AsyncGenerator<Buffer> {
  for (const c of prefix) yield c;
  for (;;) {
    const r = await rest.next();
    if (r.done) break;
    await insp.write(r.value);
    const refusal = insp.refusal();
    // Not forwarded: the inference server never receives the part's end or the closing boundary.
    if (refusal) throw new LateRefusal(refusal);
    yield r.value;
  }
  await insp.end();
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let randomPool = new Uint8Array(0);
let randomAt = 0;

/** Random base62 for request ids, from a pool of CSPRNG bytes (one getRandomValues per few hundred ids, not one per id). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    if (randomAt >= randomPool.length) {
      randomPool = crypto.getRandomValues(new Uint8Array(4096));
      randomAt = 0;
    }
    const b = randomPool[randomAt++];
    if (b < 248) out += BASE62[b % 62]; // 248 = 62 * 4: values at or above it would bias the low digits
  }
  return out;
}

/** undici's own timeouts, as the TimeoutError the key service client expects. */
function asTimeout(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    const e = new Error('The key service did not answer in time.');
    e.name = 'TimeoutError';
    return e;
  }
  return err;
}

const firstHeader = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * The reverse proxy for node:http: the incoming request is read as it is (no web Request is built),
 * the upstream and the key service are reached over keep-alive undici Pools, and a non-streaming
 * answer passes as the socket's own chunks with usage read on the side. Node's entry is ./node.ts.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const log = options.logger ?? createLogger('info');
  const now = options.now ?? Date.now;
  const pricing = options.pricing ?? { default: FREE, models: {} };
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const includeStreamUsage = options.includeStreamUsage ?? false;
  const upstreamUrl = new URL(options.upstream);
  const upstreamPrefix = upstreamUrl.pathname.replace(/\/+$/, '');
  const upstream = new Pool(upstreamUrl.origin, { keepAliveTimeout: 30_000 });

  // One HTTP client for every call to the key service (@siwe-keys/client); on Node its transport is a
  // keep-alive undici Pool whose header and body timeouts bound each call (an AbortSignal.timeout per
  // call costs more than the call's own work), in tests the fetch they pass.
  const serviceUrl = new URL(options.serviceUrl);
  const serviceBase = `${serviceUrl.origin}${serviceUrl.pathname.replace(/\/+$/, '')}`;
  const verifyTimeoutMs = options.verifyTimeoutMs ?? 5000;
  let servicePool: Pool | undefined;
  let transport: Transport;
  if (options.serviceFetch) {
    const serviceFetch = options.serviceFetch;
    transport = (url, init) => serviceFetch(url, init);
  } else {
    const pool = new Pool(serviceUrl.origin, { keepAliveTimeout: 30_000, connect: { timeout: verifyTimeoutMs } });
    servicePool = pool;
    const origin = serviceUrl.origin;
    transport = async (url, init) => {
      try {
        const res = await pool.request({
          path: url.slice(origin.length),
          method: 'POST',
          headers: init.headers,
          body: init.body,
          headersTimeout: init.timeoutMs,
          bodyTimeout: init.timeoutMs,
        });
        return { status: res.statusCode, json: () => res.body.json().catch((err: unknown) => Promise.reject(asTimeout(err))) };
      } catch (err) {
        throw asTimeout(err);
      }
    };
  }
  const client = createVerifier({
    serviceUrl: serviceBase,
    domainToken: options.domainToken,
    // Every verification is asked: rate limits and charges stay exact (the bridge cache below is for outages only).
    positiveTtlMs: 0,
    timeoutMs: verifyTimeoutMs,
    fetch: transport,
  });

  const keyService = createKeyService({
    client,
    logger: log,
    now,
    cacheTtlMs: Math.max(0, options.cacheTtlSeconds ?? 0) * 1000,
    cacheMaxEntries: 10_000,
    usageAttempts: options.usageAttempts ?? 8,
    usageRetryBaseMs: options.usageRetryBaseMs ?? 500,
    usageTimeoutMs: 10_000,
    usageConcurrency: 4,
    usageBatchSize: Math.min(100, Math.max(1, options.usageBatchSize ?? 100)),
    usageBatchMs: options.usageBatchMs ?? 50,
  });

  const refusalDrainMs = options.refusalDrainMs ?? 5_000;

  async function proxy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = now();
    const incomingId = firstHeader(req.headers['x-request-id']);
    const clientChoseId = incomingId !== undefined && WELL_FORMED_REQUEST_ID.test(incomingId);
    const requestId = clientChoseId ? incomingId : `req_${randomBase62(22)}`;
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const send = (status: number, headers: Record<string, string>, body: string): void => {
      res.writeHead(status, headers);
      res.end(body);
    };
    if (!rawUrl.startsWith('/')) {
      const e = gatewayError('invalid_request', requestId, { message: 'The request target must be a path.' });
      return send(e.status, e.headers, e.body);
    }
    const url = new URL(`http://gateway${rawUrl}`);
    if (url.pathname === '/healthz' && (method === 'GET' || method === 'HEAD'))
      return send(200, { 'content-type': 'application/json' }, '{"ok":true}');
    const line: Record<string, unknown> = { request_id: requestId, method, path: url.pathname };
    const refuse = (code: string, opts: Parameters<typeof gatewayError>[2] = {}): void => {
      const e = gatewayError(code, requestId, opts);
      log.info('request', { ...line, status: e.status, code, ms: now() - started });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!req.readableEnded) {
        const declared = req.headers['transfer-encoding'] === undefined ? Number(req.headers['content-length'] ?? 0) : Number.NaN;
        if (declared <= DRAIN_BEFORE_REFUSAL_BYTES && !req.readableFlowing) {
          req.resume();
          const cut = setTimeout(() => req.socket.destroy(), refusalDrainMs);
          cut.unref();
          // 'close' follows the body's end (or the request's destruction): the drain is over either way.
          req.once('close', () => clearTimeout(cut));
        } else e.headers.connection = 'close';
      }
      send(e.status, e.headers, e.body);
    };

    // 1. The key, from whichever carrier the client used; all carriers are stripped below.
    const { query, key: queryKey } = stripKeyParam(url.search);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(firstHeader(req.headers.authorization) ?? '')?.[1];
    const key = bearer ?? firstHeader(req.headers['x-api-key'])?.trim() ?? queryKey;
    if (!key) return refuse('missing_api_key');
    // Longer than any key the service issues (and than its verify schema takes): refused here, no lookup.
    if (key.length > 256) return refuse('malformed', { message: 'The API key is malformed.' });

    // 2. The model, from the body, before anything is forwarded.
    const contentType = firstHeader(req.headers['content-type']);
    let forwardBody: Uint8Array | AsyncIterable<Buffer> | IncomingMessage | null = null;
    let model: string | undefined;
    const hasBody =
      method !== 'GET' &&
      method !== 'HEAD' &&
      (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);
    const requestBody = method !== 'GET' && method !== 'HEAD';
    if (requestBody) {
      const kind = requestBodyKind(contentType);
      if (kind === 'buffer') {
        const bytes = hasBody ? await readWhole(req, maxBodyBytes) : Buffer.alloc(0);
        if (bytes === null) return refuse('payload_too_large', { message: `The request body is larger than ${maxBodyBytes} bytes.` });
        const inspected = inspectJsonRequest(bytes, contentType, includeStreamUsage);
        if (!inspected.ok) return refuse('invalid_request', { message: inspected.message, extra: { param: inspected.param } });
        model = inspected.model;
        forwardBody = inspected.body;
      } else if (kind === 'multipart') {
        const insp = inspectMultipart(contentType ?? '');
        if ('error' in insp) return refuse('invalid_request', { message: insp.error, extra: { param: 'body' } });
        const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const prefix: Buffer[] = [];
        let read = 0;
        let ended = false;
        while (read <= MULTIPART_PREFIX_BYTES && !insp.refusal()) {
          const r = await it.next();
          if (r.done) {
            ended = true;
            await insp.end();
            break;
          }
          prefix.push(r.value);
          read += r.value.length;
          await insp.write(r.value);
        }
        const refusal = insp.refusal();
        if (refusal) return refuse('invalid_request', { message: refusal, extra: { param: refusalParam(refusal) } });
        model = insp.model();
        forwardBody = ended ? Buffer.concat(prefix, read) : multipartRest(prefix, it, insp);
      } else {
        forwardBody = hasBody ? req : null;
      }
    }
    if (model !== undefined) line.model = model;

    // 3. Verification (the domain token carries this domain's type rule); fail closed.
    const price = priceFor(pricing, model);
    const scope = method === 'GET' || method === 'HEAD' ? 'inference:read' : 'inference:write';
    const outcome = await keyService.verify({
      key,
      scope,
      ...(model !== undefined ? { model } : {}),
      ...(price.request > 0 ? { cost: price.request } : {}),
    });
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
    if (requestBody && hasBody && model === undefined && Array.isArray(answer.models)) {
      // A model-restricted key must not get around its allow-list with a body whose model we cannot read.
      return refuse('model_not_allowed', {
        message:
          'The API key is limited to certain models, and the model of this request could not be read (send it as "model" in a JSON body).',
      });
    }

    // 4. Forward, without the key in any carrier.
    const headers: Record<string, string> = {};
    for (const name in req.headers) {
      if (DROP_REQUEST_HEADERS.has(name)) continue;
      const v = req.headers[name];
      if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
    }
    headers['x-request-id'] = requestId;
    // Identity, so usage can be read from the body as it passes.
    headers['accept-encoding'] = 'identity';
    if (options.upstreamKey) headers.authorization = `Bearer ${options.upstreamKey}`;

    // A reused client id must not let the service's idempotency swallow a second charge.
    const usageId = clientChoseId ? `${requestId.slice(0, 100)}:${randomBase62(12)}` : requestId;
    const report = (tap: TapResult, status: number): void => {
      const cost =
        (tap.usage ? tokenCost(price, tap.usage.inputTokens, tap.usage.outputTokens) : 0) + (outcome.bridged ? price.request : 0);
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

    // undici takes an EventEmitter as its abort signal: far cheaper than an AbortController per request.
    const abort = new EventEmitter();
    let clientGone = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      abort.emit('abort');
    });
    let up: Awaited<ReturnType<Pool['request']>>;
    try {
      up = await upstream.request({
        path: `${upstreamPrefix}${url.pathname}${query}`,
        method: method as 'POST',
        headers,
        body: forwardBody as Uint8Array | Readable | null,
        signal: abort,
      });
    } catch (err) {
      if (err instanceof LateRefusal || (err instanceof Error && err.cause instanceof LateRefusal)) {
        const reason = err instanceof LateRefusal ? err.reason : (err.cause as LateRefusal).reason;
        return refuse('invalid_request', { message: reason, extra: { param: refusalParam(reason) } });
      }
      if (clientGone) {
        // The client left before the upstream answered: nothing was delivered, nothing is metered beyond the verification.
        log.info('request', { ...line, status: 499, ms: now() - started, complete: false });
        return;
      }
      log.warn('upstream unreachable', { request_id: requestId, error: err instanceof Error ? err.name : 'error' });
      return refuse('upstream_unavailable');
    }

    const resHeaders: Record<string, string | string[]> = {};
    for (const name in up.headers) {
      const v = up.headers[name];
      if (v !== undefined && !DROP_RESPONSE_HEADERS.has(name)) resHeaders[name] = v;
    }
    resHeaders['x-request-id'] = requestId;
    if (usageId !== requestId) resHeaders['x-usage-id'] = usageId;
    const rl = answer.ratelimit;
    if (rl && rl.limit !== null && rl.remaining !== null && resHeaders['x-ratelimit-limit-requests'] === undefined) {
      resHeaders['x-ratelimit-limit-requests'] = String(rl.limit);
      resHeaders['x-ratelimit-remaining-requests'] = String(rl.remaining);
      resHeaders['x-ratelimit-reset-requests'] = `${retryAfterSeconds(rl, now())}s`;
    }

    const status = up.statusCode;
    const body = up.body;
    // Usage is read from the chunks as they pass; a compressed answer (we asked for identity) is only counted.
    const kind = resHeaders['content-encoding'] ? 'other' : bodyKind(firstHeader(up.headers['content-type']) ?? null);
    const usage = createUsageReader({ kind });
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      report(usage.finish(complete), status);
    };
    if (clientGone) {
      body.destroy();
      finish(false);
      return;
    }
    res.once('close', () => {
      if (done) return;
      finish(false);
      body.destroy(); // closes the upstream connection: the inference server stops generating
    });
    body.once('error', () => {
      finish(false);
      res.destroy();
    });
    // A JSON answer (not a stream) is kept whole up to 1 MiB and sent in one write with its length;
    // SSE and anything else pass chunk by chunk, each written before it is read for usage.
    let held: Buffer[] | null = kind === 'json' ? [] : null;
    let heldBytes = 0;
    const release = (): void => {
      res.writeHead(status, resHeaders);
      for (const c of held ?? []) res.write(c);
      held = null;
    };
    if (!held) res.writeHead(status, resHeaders);
    body.on('data', (chunk: Buffer) => {
      if (held) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes > MAX_HELD_JSON_BYTES) release();
      } else if (!res.write(chunk)) body.pause();
      usage.feed(chunk);
    });
    res.on('drain', () => body.resume());
    body.once('end', () => {
      finish(true);
      if (held) {
        if (resHeaders['content-length'] === undefined && method !== 'HEAD' && status !== 204 && status !== 304)
          resHeaders['content-length'] = String(heldBytes);
        res.writeHead(status, resHeaders);
        res.end(held.length === 1 ? held[0] : Buffer.concat(held, heldBytes));
      } else res.end();
    });
  }

  return {
    handle(req, res) {
      proxy(req, res).catch((err: unknown) => {
        const incoming = firstHeader(req.headers['x-request-id']);
        const requestId = incoming !== undefined && WELL_FORMED_REQUEST_ID.test(incoming) ? incoming : `req_${randomBase62(22)}`;
        log.error('gateway error', {
          request_id: requestId,
          path: (req.url ?? '/').split('?')[0],
          error: err instanceof Error ? err.name : 'error',
        });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const e = gatewayError('internal_error', requestId);
        res.writeHead(e.status, e.headers);
        res.end(e.body);
      });
    },
    keyService,
    drain: () => keyService.drain(),
    close: async () => {
      await Promise.all([upstream.close(), servicePool?.close()]);
    },
  };
}
