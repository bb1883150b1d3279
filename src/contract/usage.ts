/** Usage: what domains report a request used (POST /v1/usage, /v1/usage/batch) and the account's records (GET /v1/usage). */
import { z } from '@hono/zod-openapi';
import { Cost, Credits, type Expect, PageQuery, Timestamp, pageOf } from './common.js';
import type { UsageReport as UsageReportView } from './verify-codes.js';

/** One usage report: the body of POST /v1/usage, and one record of POST /v1/usage/batch. */
export const UsageReport = z
  .object({
    key_id: z.string().min(1).max(64),
    request_id: z.string().min(1).max(128),
    cost: Cost.optional(),
    model: z.string().min(1).max(128).optional(),
    input_tokens: Credits.optional(),
    output_tokens: Credits.optional(),
  })
  .strict();
export type UsageReport = z.infer<typeof UsageReport>;

export const UsageRecordedSchema = z.object({
  recorded: z.literal(true),
  id: z.string(),
  charged: z.number().int(),
  uncharged: z.number().int(),
  credits_remaining: z.number().int().nullable(),
});

export const UsageRecordSchema = z.object({
  id: z.string(),
  key_id: z.string(),
  domain: z.string().nullable(),
  domain_verified: z.boolean().openapi({ description: "Whether the domain's owner proved the name (see Domain.ownership)." }),
  request_id: z.string(),
  model: z.string().nullable(),
  input_tokens: z.number().int().nullable(),
  output_tokens: z.number().int().nullable(),
  cost: z.number().int(),
  charged: z.number().int(),
  uncharged: z.number().int(),
  created_at: z.string(),
});
export type UsageRecord = z.infer<typeof UsageRecordSchema>;
export const UsageRecordPage = pageOf(UsageRecordSchema);

export const UsageListQuery = PageQuery.extend({
  key_id: z.string().max(64).optional(),
  request_id: z.string().max(128).optional(),
  from: Timestamp.optional(),
  to: Timestamp.optional(),
});

/** POST /v1/usage/batch: one result per record, in order. */
export const usageBatchBody = (max: number): z.ZodObject<{ records: z.ZodArray<typeof UsageReport> }, z.core.$strict> =>
  z.object({ records: z.array(UsageReport).min(1).max(max) }).strict();

const BatchRecorded = z.object({
  recorded: z.literal(true),
  request_id: z.string(),
  id: z.string(),
  charged: z.number().int(),
  uncharged: z.number().int(),
  credits_remaining: z.number().int().nullable(),
});
const BatchRefused = z.object({
  recorded: z.literal(false),
  request_id: z.string(),
  error: z.object({ code: z.enum(['not_found', 'forbidden']), message: z.string() }),
});
export const UsageBatchResultSchema = z.object({ results: z.array(z.union([BatchRecorded, BatchRefused])) }).openapi('UsageBatchResult');

/** verify-codes.ts's plain UsageReport (what @siwe-keys/client ships) is this schema's type. */
export type UsageViewsMatch = [
  Expect<UsageReportView extends UsageReport ? true : false>,
  Expect<UsageReport extends UsageReportView ? true : false>,
];
