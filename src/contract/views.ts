/**
 * The JSON shapes the service answers with (../shared/API.md), as plain types with no imports, so
 * the services, the console and @siwe-keys/web share one definition and the package's .d.ts files
 * need no server dependency.
 */

export type Plan = 'network' | 'developer';
export type KeyType = 'developer' | 'network';

/** GET /v1/me and the `account` of a sign-in. */
export interface AccountView {
  address: string;
  roles: string[];
  plan: Plan;
  trial: {
    status: 'none' | 'pending' | 'approved' | 'rejected';
    application_id: string | null;
    credits_granted: number | null;
    reason: string | null;
    reviewed_at: string | null;
  };
  credits: number | null;
  created_at: string;
}

export interface KeyLimits {
  rpm?: number;
  daily_credits?: number;
  monthly_credits?: number;
}

/** An API key as listed (the secret is never part of it). */
export interface KeyView {
  id: string;
  name: string;
  description: string | null;
  type: KeyType;
  scopes: string[];
  hint: string;
  status: 'active' | 'disabled';
  /** Set when the service disabled the key: 'trial_approved' (the account's plan became developer). */
  disabled_reason: string | null;
  models: string[] | null;
  limits: KeyLimits;
  usage: { today: number; this_month: number; total: number };
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  /** The team that owns the key (its balance pays), or null for a personal key. */
  team_id: string | null;
  /** The member wallet that created a team key; null for personal keys. */
  created_by: string | null;
}

/** A key as created or rotated: the only time the secret is shown. */
export interface KeyWithSecret extends KeyView {
  key: string;
}

export interface DomainView {
  id: string;
  name: string;
  visibility: 'network' | 'public';
  owner: string;
  token_hint: string;
  created_at: string;
  /** Whether the owner proved control of the name (DNS TXT or HTTP file carrying the challenge). */
  ownership: 'verified' | 'unverified';
  ownership_challenge: string;
  verified_at: string | null;
  /** The team that owns the domain (`owner` is then the team id), or null. */
  team_id: string | null;
  /** The member wallet that registered a team domain; null for personal ones. */
  created_by: string | null;
}

export interface DomainWithToken extends DomainView {
  token: string;
}

export interface ApplicationView {
  id: string;
  address: string;
  status: 'pending' | 'approved' | 'rejected';
  use_case: string;
  contact: string | null;
  credits_granted: number | null;
  reviewed_by: string | null;
  reason: string | null;
  created_at: string;
  reviewed_at: string | null;
}

/** POST /v1/auth/verify. */
export interface SessionView {
  token: string;
  expires_at: string;
  account: AccountView;
}

/** List responses: `{ data }`, with a cursor for the next page when there is one. */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
  has_more?: boolean;
}
