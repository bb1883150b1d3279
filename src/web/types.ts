/**
 * Shapes of the service's JSON (shared/API.md). The views are the service's own types (type-only
 * imports: nothing of the server enters the bundle), so the console cannot drift from the API.
 */
import type { AccountView } from '../services/accounts.js';
import type { DomainView } from '../services/domains.js';
import type { KeyView } from '../services/keys.js';
import type { ApplicationView } from '../services/trial.js';
import type { AdminStats, DomainStats, UsageSummary } from '../services/analytics.js';

export type { AdminStats, DomainStats, UsageSummary };

export type Account = AccountView;
export type Trial = AccountView['trial'];
export type ApiKey = KeyView;
export type Application = ApplicationView;
export type Domain = DomainView;

export interface ConsoleConfig {
  origin: string;
  domains: string[];
  chain_ids: number[];
  key_prefix: string;
  trial_credits: number;
  session_ttl_seconds: number;
  statement: string;
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

export interface ApiKeyWithSecret extends ApiKey {
  key: string;
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
