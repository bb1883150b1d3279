/**
 * The verification answer's codes and how a gateway or an operator's middleware answers each
 * refusal. Plain data with no imports: the service, the gateway and @siwe-keys/client (which must
 * stay dependency-free) all read this one table.
 */
export const VERIFY_CODES = [
  'valid',
  'malformed',
  'not_found',
  'disabled',
  'expired',
  'key_type_mismatch',
  'scope_denied',
  'model_not_allowed',
  'rate_limited',
  'api_key_quota_exceeded',
  'billing_shortfall',
] as const;

export type VerifyCode = (typeof VERIFY_CODES)[number];
export type RefusalCode = Exclude<VerifyCode, 'valid'>;
/** Every refusal, in the contract's order (columns of stats, CSV and charts). */
export const REFUSAL_CODES = VERIFY_CODES.filter((c): c is RefusalCode => c !== 'valid');

/** Status, OpenAI-style error type and default message for each refusal (the contract's Gateway section). */
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

export const SCOPES = ['inference:read', 'inference:write', 'analytics:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** The scopes a key gets when it is created without any. */
export const DEFAULT_SCOPES: readonly Scope[] = ['inference:read', 'inference:write'];

/** What POST /v1/verify answers (the refusal fields are a subset). */
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
  charged?: number;
  ratelimit?: { limit: number | null; remaining: number | null; reset: number };
}

export interface VerifyRequest {
  key: string;
  scope?: Scope;
  model?: string;
  cost?: number;
}

export interface UsageReport {
  key_id: string;
  request_id: string;
  cost?: number;
  model?: string;
  input_tokens?: number;
  output_tokens?: number;
}

export interface UsageReceipt {
  recorded: true;
  charged: number;
  credits_remaining: number | null;
}
