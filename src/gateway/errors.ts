import { REFUSALS } from '../contract/verify-codes.js';
import type { ErrorBody, ErrorType } from '../errors.js';

interface Refusal {
  status: number;
  type: ErrorType;
  message: string;
}

/**
 * The gateway's own error codes. The verification refusals keep the key service's reason as
 * their code (the contract's gateway section), so a client sees `key_type_mismatch` whether it
 * asked the service or went through a gateway.
 */
export const GATEWAY_ERRORS = {
  missing_api_key: {
    status: 401,
    type: 'auth_error',
    message: 'No API key: send it as "Authorization: Bearer <key>", "x-api-key: <key>" or "?key=<key>".',
  },
  ...REFUSALS,
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'The request is invalid.' },
  payload_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  upstream_unavailable: { status: 502, type: 'server_error', message: 'The inference server behind this gateway did not answer.' },
  service_unavailable: { status: 503, type: 'server_error', message: 'The key service is unavailable, so the request was not forwarded.' },
  internal_error: { status: 500, type: 'server_error', message: 'Something went wrong in the gateway.' },
} as const satisfies Record<string, Refusal>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** A reason the service may add later still refuses (fail closed), as a permission error. */
const UNKNOWN_REASON: Refusal = { status: 403, type: 'permission_error', message: 'The API key was refused.' };

export function refusalFor(code: string): Refusal {
  return Object.hasOwn(GATEWAY_ERRORS, code) ? GATEWAY_ERRORS[code as GatewayErrorCode] : UNKNOWN_REASON;
}

/** The status, headers and JSON text of a gateway refusal (the contract's error body). */
export function gatewayError(
  code: string,
  requestId: string,
  opts: { message?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
): { status: number; headers: Record<string, string>; body: string } {
  const info = refusalFor(code);
  const body: ErrorBody = { error: { code, message: opts.message ?? info.message, type: info.type, request_id: requestId, ...opts.extra } };
  return {
    status: info.status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, ...opts.headers },
    body: JSON.stringify(body),
  };
}
