import { REFUSALS } from '../contract/verify-codes.js';
import { type CodeInfo, ERROR_CODES, type ErrorBody } from '../errors.js';

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
  // The same answers as the service's own for these two.
  invalid_request: ERROR_CODES.invalid_request,
  payload_too_large: ERROR_CODES.payload_too_large,
  upstream_unavailable: { status: 502, type: 'server_error', message: 'The inference server behind this gateway did not answer.' },
  service_unavailable: { status: 503, type: 'server_error', message: 'The key service is unavailable, so the request was not forwarded.' },
  internal_error: { status: 500, type: 'server_error', message: 'Something went wrong in the gateway.' },
} as const satisfies Record<string, CodeInfo>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** A reason the service may add later still refuses (fail closed), as a permission error. */
const UNKNOWN_REASON: CodeInfo = { status: 403, type: 'permission_error', message: 'The API key was refused.' };

export function refusalFor(code: string): CodeInfo {
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
