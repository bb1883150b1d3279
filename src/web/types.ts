/**
 * Shapes of the service's JSON (shared/API.md). The views come from src/contract, the one
 * definition the services and @siwe-keys/web also use, so the console cannot drift from the API.
 */
import type { AccountView, ApplicationView, DomainView, KeyView, SessionView } from '../contract/views.js';

export type { DomainWithToken, KeyType, Page } from '../contract/views.js';
export { DEFAULT_SCOPES, SCOPES } from '../contract/verify-codes.js';
import type { AdminStats, DomainStats, UsageSummary } from '../contract/analytics.js';

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

export type Session = SessionView;

export interface Limits {
  rpm?: number | null;
  daily_credits?: number | null;
  monthly_credits?: number | null;
}

export interface ApiKeyWithSecret extends ApiKey {
  key: string;
}

export type { AuditEvent } from '../contract/audit.js';
