/**
 * The response bodies the suites read, typed from the contract (src/contract/): the types it
 * exports, and z.infer of the schemas it exports without a type. `json<KeyView>(res)`,
 * `json<Page<AuditEvent>>(res)`, `json<ErrorBody>(res)`.
 */
import type { z } from '@hono/zod-openapi';
import type { AdminTeamSchema, TeamMemberSchema, TeamMembershipSchema, TeamWithMembersSchema } from '../../src/contract/teams.js';
import type { UsageBatchResultSchema, UsageRecordedSchema } from '../../src/contract/usage.js';
import type { WebhookTestSchema, WebhookWithSecretSchema } from '../../src/contract/webhooks.js';

export type { Account, Nonce, Session } from '../../src/contract/accounts.js';
export type { AdminStats, DomainStats, UsageBucket, UsageSummary } from '../../src/contract/analytics.js';
export type { AuditEvent } from '../../src/contract/audit.js';
export type { ErrorBody, Page } from '../../src/contract/common.js';
export type { Domain, DomainClaim, DomainWithToken } from '../../src/contract/domains.js';
export type { Key, KeyWithSecret } from '../../src/contract/keys.js';
export type { Jwks } from '../../src/contract/ops.js';
export type { Team } from '../../src/contract/teams.js';
export type { Application } from '../../src/contract/trial.js';
export type { UsageRecord } from '../../src/contract/usage.js';
export type { VerifyResult } from '../../src/contract/verify.js';
export type { Delivery, Webhook } from '../../src/contract/webhooks.js';

export type TeamMembership = z.infer<typeof TeamMembershipSchema>;
export type TeamMember = z.infer<typeof TeamMemberSchema>;
export type TeamWithMembers = z.infer<typeof TeamWithMembersSchema>;
export type AdminTeam = z.infer<typeof AdminTeamSchema>;
export type UsageRecorded = z.infer<typeof UsageRecordedSchema>;
export type UsageBatchResult = z.infer<typeof UsageBatchResultSchema>;
export type WebhookWithSecret = z.infer<typeof WebhookWithSecretSchema>;
export type WebhookTest = z.infer<typeof WebhookTestSchema>;
/** GET /v1/teams: the caller's teams, invitations included (not paged). */
export interface TeamList {
  data: TeamMembership[];
}

/** GET /openapi.json, as far as the suites read it. */
export interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, OpenApiSchema> };
}
export interface OpenApiOperation {
  parameters?: { in: 'path' | 'query' | 'header' | 'cookie'; name: string }[];
  requestBody?: { content: Record<string, { schema: OpenApiSchema }> };
}
export interface OpenApiSchema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  properties?: Record<string, OpenApiSchema>;
}

/** One result of POST /v1/usage/batch: recorded, or refused with its error. */
export type UsageBatchItem = UsageBatchResult['results'][number];
export type UsageBatchRecorded = Extract<UsageBatchItem, { recorded: true }>;
