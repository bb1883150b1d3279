/** Shapes of the service's JSON (shared/API.md); only the fields the console reads. */

export interface ConsoleConfig {
  origin: string;
  domains: string[];
  chain_ids: number[];
  key_prefix: string;
  trial_credits: number;
  session_ttl_seconds: number;
  statement: string;
}

export interface Trial {
  status: 'none' | 'pending' | 'approved' | 'rejected';
  application_id?: string | null;
  credits_granted?: number | null;
  reason?: string | null;
  reviewed_at?: string | null;
}

export interface Account {
  address: string;
  roles: string[];
  plan: 'network' | 'developer';
  trial: Trial;
  credits: number | null;
  created_at: string;
}

export interface Session {
  token: string;
  expires_at: string;
  account: Account;
}

export type KeyType = 'developer' | 'network';

export interface Limits {
  rpm?: number | null;
  daily_credits?: number | null;
  monthly_credits?: number | null;
}

export interface ApiKey {
  id: string;
  name: string;
  description: string | null;
  type: KeyType;
  scopes: string[];
  hint: string;
  status: 'active' | 'disabled';
  models: string[] | null;
  limits: Limits;
  usage: { today: number; this_month: number; total: number };
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface ApiKeyWithSecret extends ApiKey {
  key: string;
}

export interface Application {
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

export interface Domain {
  id: string;
  name: string;
  visibility: 'network' | 'public';
  owner: string;
  /** Recognisable end of the current token (the token itself is shown once). */
  token_hint?: string;
  created_at: string;
}

export interface DomainWithToken extends Domain {
  token: string;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: unknown;
}

/** List responses: `{ data }`, with a cursor for the next page when there is one. */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
  has_more?: boolean;
}

export const SCOPES = ['inference:read', 'inference:write', 'analytics:read', 'admin'] as const;
export const DEFAULT_SCOPES: readonly string[] = ['inference:read', 'inference:write'];
