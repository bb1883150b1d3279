/** Analytics: GET /v1/usage/summary, GET /v1/domains/{id}/stats and GET /v1/admin/stats (JSON or CSV). */
import { z } from '@hono/zod-openapi';
import { IdParam, Timestamp } from './common.js';
import { TeamId } from './teams.js';

export const SUMMARY_GROUPS = ['day', 'hour', 'model', 'key', 'domain'] as const;
export type SummaryGroup = (typeof SUMMARY_GROUPS)[number];
export const TIME_GRAINS = ['day', 'hour'] as const;
export type TimeGrain = (typeof TIME_GRAINS)[number];

/** `from` and `to` of every analytics query. */
export const RangeQuery = {
  from: Timestamp.optional().openapi({ description: 'Start (inclusive); default 30 days before `to`.' }),
  to: Timestamp.optional().openapi({ description: 'End (exclusive); default now. At most 366 days after `from`.' }),
};

export const UsageSummaryQuery = z.object({
  group_by: z.enum(SUMMARY_GROUPS).default('day'),
  ...RangeQuery,
  key_id: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(128).optional(),
  team_id: TeamId.optional().openapi({ description: "A team's usage (any active member; sessions only)." }),
});
export const DomainStatsParams = IdParam;
export const DomainStatsQuery = z.object({ group_by: z.enum(TIME_GRAINS).default('day'), ...RangeQuery });
export const AdminStatsQuery = z.object(RangeQuery);

export const UsageBucketSchema = z
  .object({
    bucket: z.string().nullable(),
    requests: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost: z.number().int(),
    charged: z.number().int(),
    uncharged: z.number().int(),
    /** group_by=key: the key's name (null once deleted). */
    key_name: z.string().nullable().optional(),
    /** group_by=domain: the domain's id (the bucket is its name, or the id once deleted). */
    domain_id: z.string().optional(),
  })
  .openapi('UsageBucket');
export type UsageBucket = z.infer<typeof UsageBucketSchema>;

/** A series over the range: how it was grouped, one bucket per group, and their totals. */
const series = <G extends readonly [string, ...string[]], B extends z.ZodType>(groups: G, bucket: B) => ({
  group_by: z.enum(groups),
  from: z.string(),
  to: z.string(),
  data: z.array(bucket),
  totals: bucket,
});

export const UsageSummarySchema = z.object(series(SUMMARY_GROUPS, UsageBucketSchema)).openapi('UsageSummary');
export type UsageSummary = z.infer<typeof UsageSummarySchema>;

export const VerificationBucketSchema = z
  .object({
    bucket: z.string(),
    verifications: z.number().int(),
    valid: z.number().int(),
    refused: z.record(z.string(), z.number().int()),
    /** Credits charged on this domain: by its verifications' `cost` plus its usage reports. */
    credits_charged: z.number().int(),
    charged_at_verify: z.number().int(),
    charged_by_usage: z.number().int(),
    usage_reports: z.number().int(),
  })
  .openapi('VerificationBucket');
export type VerificationBucket = z.infer<typeof VerificationBucketSchema>;

export const DomainStatsSchema = z
  .object({ domain_id: z.string(), ...series(TIME_GRAINS, VerificationBucketSchema) })
  .openapi('DomainStats');
export type DomainStats = z.infer<typeof DomainStatsSchema>;

export const AdminStatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    accounts: z.object({ total: z.number().int(), developer: z.number().int(), network: z.number().int() }),
    trial: z.object({ pending: z.number().int(), approved: z.number().int(), rejected: z.number().int() }),
    credits: z.object({ granted: z.number().int(), charged: z.number().int(), uncharged: z.number().int() }),
    verifications: z.object({ total: z.number().int(), by_code: z.record(z.string(), z.number().int()) }),
    keys: z.object({ active: z.number().int(), disabled: z.number().int() }),
    /** Per day of the range: verifications, credits charged (verify + usage) and usage reports. */
    data: z.array(
      z.object({
        bucket: z.string(),
        verifications: z.number().int(),
        valid: z.number().int(),
        refused: z.number().int(),
        credits_charged: z.number().int(),
        requests: z.number().int(),
      }),
    ),
  })
  .openapi('AdminStats');
export type AdminStats = z.infer<typeof AdminStatsSchema>;
