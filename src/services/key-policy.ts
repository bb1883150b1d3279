/**
 * The one key-verification policy: liveness, the type rule, scope and model. Pure (no I/O, time
 * passed in), so verification, usage reports and API-key authentication all answer the same way.
 * The checks run in the contract's refusal order: not_found, disabled, expired, key_type_mismatch,
 * scope_denied, model_not_allowed.
 */
import type { RefusalCode } from '../contract/verify-codes.js';

export const NETWORK_KEY_ON_PUBLIC_DOMAIN = "Your API key doesn't match the type. Please apply for a Developer API key.";
export const DEVELOPER_KEY_ON_NETWORK_DOMAIN =
  'Free-trial (developer) API keys work only on public domains. Use a network API key on this domain.';
export const APPROVED_ACCOUNT_ON_NETWORK_DOMAIN =
  'Free-trial (developer) accounts work only on public domains: this account was approved for free developer credits, so none of its API keys can be used on network domains. Create a different account to use the Gaia Domains on the network.';
export const ADMIN_KEY_REFUSED = 'Admin API keys manage keys only and are never accepted by domains. Use an inference key.';
export const KEY_NOT_FOUND = 'The API key does not exist or was revoked.';
export const KEY_DISABLED = 'The API key is disabled.';
export const KEY_EXPIRED = 'The API key has expired.';

/** The scope a verification asks for when it names none. */
export const DEFAULT_VERIFY_SCOPE = 'inference:write';

export interface PolicyRefusal {
  ok: false;
  code: Extract<RefusalCode, 'not_found' | 'disabled' | 'expired' | 'key_type_mismatch' | 'scope_denied' | 'model_not_allowed'>;
  message: string;
}
export type PolicyResult = { ok: true } | PolicyRefusal;

const OK: PolicyResult = { ok: true };
const refuse = (code: PolicyRefusal['code'], message: string): PolicyRefusal => ({ ok: false, code, message });

/** What liveness looks at. */
export interface KeyLiveness {
  status: string;
  /** Milliseconds since the epoch, or null for a key that never expires. */
  expires_at: number | null;
  /** Set when the key was found by its rotated-out secret: it is accepted until then. */
  prevUntil: number | null;
}

/** A key that is missing, revoked, past its rotation grace period, disabled or expired is refused. */
export function checkLiveness(key: KeyLiveness | null | undefined, now: number): PolicyResult {
  if (!key || (key.prevUntil !== null && key.prevUntil <= now)) return refuse('not_found', KEY_NOT_FOUND);
  if (key.status !== 'active') return refuse('disabled', KEY_DISABLED);
  if (key.expires_at !== null && key.expires_at <= now) return refuse('expired', KEY_EXPIRED);
  return OK;
}

/**
 * The type rule node operators rely on: public domains take developer keys, network domains
 * network keys. The network rule is also about the account: once approved for free developer
 * credits (plan `developer`), none of its keys (network keys made before the approval included)
 * work on network domains.
 */
export function checkType(
  visibility: 'public' | 'network',
  key: { type: 'developer' | 'network'; plan: 'developer' | 'network' | null | undefined },
): PolicyResult {
  if (visibility === 'public') return key.type === 'developer' ? OK : refuse('key_type_mismatch', NETWORK_KEY_ON_PUBLIC_DOMAIN);
  if (key.plan === 'developer') return refuse('key_type_mismatch', APPROVED_ACCOUNT_ON_NETWORK_DOMAIN);
  if (key.type !== 'network') return refuse('key_type_mismatch', DEVELOPER_KEY_ON_NETWORK_DOMAIN);
  return OK;
}

/** An admin-scoped key is never valid on a domain; otherwise the key must hold the scope asked for. */
export function checkScope(scopes: readonly string[], scope: string = DEFAULT_VERIFY_SCOPE): PolicyResult {
  // Why: an admin key manages the account; no node operator may ever be handed one as valid.
  if (scopes.includes('admin')) return refuse('scope_denied', ADMIN_KEY_REFUSED);
  if (!scopes.includes(scope)) return refuse('scope_denied', `The API key lacks the ${scope} scope.`);
  return OK;
}

/** A key with a model list may only be used for those models; a request naming none passes. */
export function checkModel(models: readonly string[] | null, model: string | undefined): PolicyResult {
  if (model !== undefined && models !== null && !models.includes(model)) {
    return refuse('model_not_allowed', `The API key may not use the model ${model}.`);
  }
  return OK;
}

export interface PolicyKey extends KeyLiveness {
  type: 'developer' | 'network';
  plan: 'developer' | 'network' | null | undefined;
  scopes: readonly string[];
  models: readonly string[] | null;
}

/** Every check of a key used on a domain, in the contract's refusal order. */
export function checkKeyOnDomain(
  key: PolicyKey | null | undefined,
  visibility: 'public' | 'network',
  request: { scope?: string; model?: string },
  now: number,
): PolicyResult {
  const live = checkLiveness(key, now);
  if (!live.ok || !key) return live;
  const type = checkType(visibility, key);
  if (!type.ok) return type;
  const scope = checkScope(key.scopes, request.scope);
  if (!scope.ok) return scope;
  return checkModel(key.models, request.model);
}
