export type ErrorType =
  | 'invalid_request_error'
  | 'auth_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'billing_error'
  | 'server_error';

/** What a code answers: HTTP status, error type and default message (this table's, the gateway's, the refusals'). */
export interface CodeInfo {
  status: number;
  type: ErrorType;
  message: string;
}

/** The one table of error codes: code -> HTTP status, type and default message. */
export const ERROR_CODES = {
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'The request is invalid.' },
  invalid_siwe_message: { status: 400, type: 'invalid_request_error', message: 'The message is not a valid EIP-4361 message.' },
  payload_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  not_found: { status: 404, type: 'not_found_error', message: 'Not found.' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', message: 'Method not allowed.' },
  siwe_domain_mismatch: { status: 401, type: 'auth_error', message: 'The message domain is not accepted here.' },
  siwe_uri_mismatch: { status: 401, type: 'auth_error', message: 'The message URI does not match this service.' },
  siwe_version_unsupported: { status: 401, type: 'auth_error', message: 'Only EIP-4361 version 1 is supported.' },
  siwe_chain_not_allowed: { status: 401, type: 'auth_error', message: 'The message chain id is not accepted here.' },
  siwe_nonce_invalid: { status: 401, type: 'auth_error', message: 'The nonce is unknown, already used or expired.' },
  siwe_expired: { status: 401, type: 'auth_error', message: 'The message has expired.' },
  siwe_not_yet_valid: { status: 401, type: 'auth_error', message: 'The message is not valid yet.' },
  siwe_invalid_signature: { status: 401, type: 'auth_error', message: 'The signature does not match the address and message.' },
  invalid_session: { status: 401, type: 'auth_error', message: 'The session token is missing, invalid, expired or revoked.' },
  invalid_api_key: { status: 401, type: 'auth_error', message: 'The API key is missing, invalid, expired or revoked.' },
  invalid_domain_token: { status: 401, type: 'auth_error', message: 'The domain token is missing, invalid or revoked.' },
  forbidden: { status: 403, type: 'permission_error', message: 'You are not allowed to do this.' },
  insufficient_scope: { status: 403, type: 'permission_error', message: 'This API key lacks the scope for this endpoint.' },
  key_type_not_allowed: { status: 403, type: 'permission_error', message: "Your account's plan does not allow this key type." },
  name_taken: { status: 409, type: 'invalid_request_error', message: 'That name is already in use.' },
  application_exists: { status: 409, type: 'invalid_request_error', message: 'You already have an open free-trial application.' },
  already_approved: { status: 409, type: 'invalid_request_error', message: 'This account already has the developer plan.' },
  application_closed: { status: 409, type: 'invalid_request_error', message: 'This application was already reviewed.' },
  domain_taken: { status: 409, type: 'invalid_request_error', message: 'That domain is already registered.' },
  not_claimable: { status: 409, type: 'invalid_request_error', message: 'That domain cannot be claimed.' },
  ownership_not_proven: { status: 422, type: 'invalid_request_error', message: 'The domain does not carry its ownership challenge.' },
  last_owner: { status: 409, type: 'invalid_request_error', message: 'A team needs an owner: the last owner cannot leave or be demoted.' },
  already_member: { status: 409, type: 'invalid_request_error', message: 'That wallet is already a member of the team or invited to it.' },
  limit_reached: { status: 409, type: 'invalid_request_error', message: 'The account has reached its limit for this resource.' },
  usage_limit_reached: { status: 409, type: 'billing_error', message: "The account's usage counter has reached its limit." },
  insufficient_credits: { status: 409, type: 'billing_error', message: 'The balance cannot go below zero.' },
  rate_limited: { status: 429, type: 'rate_limit_error', message: 'Too many requests. Try again later.' },
  service_unavailable: { status: 503, type: 'server_error', message: 'The service is unavailable.' },
  internal_error: { status: 500, type: 'server_error', message: 'Something went wrong on our side.' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  /** Extra fields for the error body (for example `param`). Never secrets. */
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { extra?: Record<string, unknown>; headers?: Record<string, string> }) {
    const info: CodeInfo = ERROR_CODES[code];
    super(message ?? info.message);
    this.name = 'AppError';
    this.code = code;
    this.status = info.status;
    this.type = info.type;
    this.extra = options?.extra;
    this.headers = options?.headers;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; type: ErrorType; request_id: string; [k: string]: unknown };
}

export function errorBody(err: AppError, requestId: string): ErrorBody {
  return { error: { code: err.code, message: err.message, type: err.type, request_id: requestId, ...err.extra } };
}
