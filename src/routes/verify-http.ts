import type { AppDeps } from '../deps.js';
import { VerifyBody } from '../contract/verify.js';
import { AppError, errorBody } from '../errors.js';
import { API_HEADERS } from '../middleware/api-headers.js';
import { findDomainForToken } from '../services/domain-token.js';
import { observeVerifyLatency, runVerification } from '../services/verification.js';
import type { VerifyInput } from '../services/verify.js';
import { refuseInvalidOrNul } from './router.js';

/*
 * POST /v1/verify without the generic pipeline. The Hono route (src/routes/verify.ts, documented in
 * /openapi.json) and the fast paths ahead of Hono (src/node-fast-path.ts, the pre-router in
 * src/worker.ts) share the schema and `runVerification` (src/services/verification.ts: the decision
 * and its counters); `handleVerify` reproduces the middleware chain (request id, access log, body
 * limit, API headers, domain token, media type, JSON, schema) for requests with a declared
 * Content-Length. test/verify-fast-path.test.ts holds the two to identical answers.
 */

/** The request as the fast path sees it: headers, and the body on demand. */
export interface RawVerifyRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  /** Digits only: requests without a declared length go through Hono. */
  contentLength: string;
  requestId: string | undefined;
  /** The body as UTF-8 text, a leading BOM removed (as Request.text() does); called at most once. */
  text(): Promise<string>;
}

export interface RawVerifyResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const WELL_FORMED_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// The media-type gate of @hono/zod-openapi, then the JSON validator of hono/validator.
const JSON_REQUEST = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;
const JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;

/** Whether a request may take the fast path (everything else goes through Hono, which answers the same). */
export function fastPathEligible(
  method: string | undefined,
  path: string | undefined,
  contentLength: string | undefined,
  transferEncoding: string | undefined,
): boolean {
  return (
    method === 'POST' &&
    path === '/v1/verify' &&
    contentLength !== undefined &&
    transferEncoding === undefined &&
    /^\d{1,15}$/.test(contentLength)
  );
}

/** POST /v1/verify end to end, as the Hono pipeline answers it. */
export async function handleVerify(deps: AppDeps, req: RawVerifyRequest, start = performance.now()): Promise<RawVerifyResponse> {
  const rid =
    req.requestId !== undefined && WELL_FORMED_ID.test(req.requestId) ? req.requestId : `req_${crypto.randomUUID().replaceAll('-', '')}`;
  let out: RawVerifyResponse;
  // The body-limit middleware runs before the API headers are set: its refusal carries none.
  let apiHeaders = false;
  try {
    const limit = deps.config.bodyLimitBytes;
    if (Number(req.contentLength) > limit) throw new AppError('payload_too_large', `The request body is larger than ${limit} bytes.`);
    apiHeaders = true;
    const domain = await findDomainForToken(deps, req.authorization);
    const ct = req.contentType;
    if (ct !== undefined ? !JSON_REQUEST.test(ct) : Number(req.contentLength) > 0) {
      throw new AppError('invalid_request', 'The request body must be JSON (Content-Type: application/json).', {
        extra: { param: 'content-type' },
      });
    }
    let value: unknown = {};
    if (ct !== undefined && JSON_MEDIA.test(ct.split(';')[0].trim())) {
      const text = await req.text();
      try {
        value = JSON.parse(text);
      } catch {
        throw new AppError('invalid_request', 'The request body is not valid JSON.', { extra: { param: 'body' } });
      }
    }
    const parsed = VerifyBody.safeParse(value);
    refuseInvalidOrNul(
      parsed.success ? { success: true, data: parsed.data, target: 'json' } : { success: false, error: parsed.error, target: 'json' },
    );
    const res = await runVerification(deps, domain, parsed.data as VerifyInput);
    out = { status: 200, headers: { 'x-request-id': rid, ...API_HEADERS, 'content-type': 'application/json' }, body: JSON.stringify(res) };
  } catch (err) {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else {
      deps.logger.error('unhandled error', {
        request_id: rid,
        path: '/v1/verify',
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      e = new AppError('internal_error');
    }
    const headers: Record<string, string> = apiHeaders ? { 'x-request-id': rid, ...API_HEADERS } : { 'x-request-id': rid };
    for (const [k, v] of Object.entries(e.headers ?? {})) headers[k] = v;
    headers['content-type'] = 'application/json';
    out = { status: e.status, headers, body: JSON.stringify(errorBody(e, rid)) };
  }
  const ms = performance.now() - start;
  observeVerifyLatency(deps.metrics, out.status, ms / 1000);
  deps.logger.info('request', { request_id: rid, method: 'POST', path: '/v1/verify', status: out.status, ms: Math.round(ms * 100) / 100 });
  return out;
}
