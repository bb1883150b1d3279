import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/*
 * Times are integer milliseconds since the epoch (UTC); credits are integers.
 * A column the database fills when an INSERT leaves it out (a DEFAULT in the migrations, the same
 * on SQLite, PostgreSQL and D1) is `Generated<T>`: optional in inserts, T when read. There are no
 * autoincrement ids (ids are made in the application). Nullable columns are optional in inserts
 * anyway (NULL). A table interface describes the table, not a row: code that holds rows uses the
 * row types at the end of this file (kysely's Selectable / Insertable / Updateable).
 */
export interface AccountsTable {
  address: string; // EIP-55 checksummed
  plan: Generated<'network' | 'developer'>; // default 'network'
  credits: number | null; // null: no prepaid balance enforced
  created_at: number;
  last_sign_in_at: number | null;
  usage_total: Generated<number>; // default 0; credits charged by verification plus costs reported; <= 2^53 - 1
}

export interface NoncesTable {
  nonce: string;
  issued_at: number;
  expires_at: number;
  ip: string | null;
}

export interface SessionsTable {
  id: string;
  address: string;
  roles: string; // JSON array
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
  active: number | null;
}

export interface ApiKeysTable {
  id: string;
  account: string;
  name: string;
  description: string | null;
  type: 'developer' | 'network';
  scopes: string; // JSON array
  models: string | null; // JSON array or null (any model)
  rpm: number | null;
  daily_credits: number | null;
  monthly_credits: number | null;
  hash: string; // SHA-256 hex of the secret
  hint: string;
  prev_hash: string | null; // previous secret during a rotation grace period
  prev_expires_at: number | null;
  status: Generated<'active' | 'disabled'>; // default 'active'
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
  // The usage windows start empty: default '' and 0.
  day_window: Generated<string>; // UTC yyyy-mm-dd the day counter belongs to
  day_used: Generated<number>;
  month_window: Generated<string>; // UTC yyyy-mm
  month_used: Generated<number>;
  total_used: Generated<number>;
  rpm_window: Generated<number>; // minute index (epoch ms / 60000)
  rpm_count: Generated<number>;
  disabled_reason: string | null; // set when the service (not the owner) disabled the key
  /** The member wallet that created a team key (account = the team's id); null for personal keys. */
  created_by: string | null;
}

export interface TrialApplicationsTable {
  id: string;
  address: string;
  status: 'pending' | 'approved' | 'rejected';
  use_case: string;
  contact: string | null;
  credits_granted: number | null;
  reviewed_by: string | null;
  reason: string | null;
  created_at: number;
  reviewed_at: number | null;
}

export interface DomainsTable {
  id: string;
  name: string;
  visibility: 'network' | 'public';
  owner: string;
  token_hash: string;
  token_hint: string;
  created_at: number;
  /** Per-domain value the owner publishes to prove control of the name (DNS TXT or HTTP file). */
  ownership_challenge: string | null;
  /** When ownership was last proven; null: unproven. */
  verified_at: number | null;
  verified_by: 'dns' | 'http' | null;
  /** The member wallet that registered a team domain (owner = the team's id); null for personal ones. */
  created_by: string | null;
}

/** A pending attempt to take a name that an unproven domain holds; it wins once its check passes. */
export interface DomainClaimsTable {
  id: string;
  name: string;
  claimant: string;
  visibility: 'network' | 'public';
  challenge: string;
  created_at: number;
}

export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: number;
}

export interface UsageRecordsTable {
  id: string;
  domain_id: string;
  request_id: string;
  key_id: string;
  account: string;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost: number;
  charged: number;
  uncharged: number;
  credits_after: number | null; // account balance after this record's charge (null: no balance)
  created_at: number;
}

export interface DomainKeysTable {
  domain_id: string;
  key_id: string;
  last_verified_at: number;
}

export interface DeletedKeysTable {
  id: string;
  account: string;
  type: 'developer' | 'network';
  deleted_at: number;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  actor: string;
  account: string | null; // whose resource the event concerns
  action: string;
  target: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | null; // JSON
}

/** Usage records summed per account, UTC hour, key, model ('' for none) and domain. */
export interface UsageRollupsTable {
  account: string;
  hour: number; // epoch ms of the UTC hour's start
  key_id: string;
  model: string;
  domain_id: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  charged: number;
  uncharged: number;
}

/** Verification answers per domain, UTC hour and code (flushed in batches from memory). */
export interface VerificationStatsTable {
  domain_id: string;
  hour: number;
  code: string;
  count: number;
  charged: number;
}

export interface WebhookEndpointsTable {
  id: string;
  account: string;
  url: string;
  description: string | null;
  events: string; // JSON array
  secret: string;
  prev_secret: string | null;
  prev_expires_at: number | null;
  created_at: number;
}

export interface WebhookEventsTable {
  id: string;
  account: string;
  type: string;
  payload: string;
  dedupe_key: string | null;
  endpoint_id: string | null;
  created_at: number;
  dispatched_at: number | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  account: string;
  type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: Generated<number>; // default 0
  next_attempt_at: number | null;
  lease_token: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookCreditGrantsTable {
  id: string;
  account: string;
  amount: number;
  created_at: number;
}

/** A team; its id is also the address of its billing `accounts` row (plan, credits, usage). */
export interface TeamsTable {
  id: string;
  name: string;
  created_by: string;
  created_at: number;
}

export type TeamRole = 'owner' | 'admin' | 'member' | 'viewer';

export interface TeamMembersTable {
  team_id: string;
  address: string; // EIP-55 checksummed wallet
  role: TeamRole;
  status: 'invited' | 'active';
  invited_by: string;
  invited_at: number;
  joined_at: number | null;
}

export interface Database {
  accounts: AccountsTable;
  nonces: NoncesTable;
  sessions: SessionsTable;
  signing_keys: SigningKeysTable;
  api_keys: ApiKeysTable;
  trial_applications: TrialApplicationsTable;
  domains: DomainsTable;
  usage_records: UsageRecordsTable;
  deleted_keys: DeletedKeysTable;
  domain_keys: DomainKeysTable;
  audit_events: AuditEventsTable;
  domain_claims: DomainClaimsTable;
  server_secrets: ServerSecretsTable;
  usage_rollups: UsageRollupsTable;
  verification_stats: VerificationStatsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_credit_grants: WebhookCreditGrantsTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
}

// Row types: one name per table for the rows code holds (reads return these).

export type AccountRow = Selectable<AccountsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type KeyRow = Selectable<ApiKeysTable>;
/** A key as inserted: the usage windows and status may be left to their defaults. */
export type NewKeyRow = Insertable<ApiKeysTable>;
export type KeyUpdate = Updateable<ApiKeysTable>;
export type TombstoneRow = Selectable<DeletedKeysTable>;
export type ApplicationRow = Selectable<TrialApplicationsTable>;
export type DomainRow = Selectable<DomainsTable>;
export type DomainClaimRow = Selectable<DomainClaimsTable>;
export type UsageRecordRow = Selectable<UsageRecordsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookEventRow = Selectable<WebhookEventsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
/** A delivery as inserted: attempts may be left to its default. */
export type NewWebhookDeliveryRow = Insertable<WebhookDeliveriesTable>;
export type TeamRow = Selectable<TeamsTable>;
export type MemberRow = Selectable<TeamMembersTable>;
