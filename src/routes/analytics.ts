import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { REFUSAL_CODES } from '../contract/verify-codes.js';
import type { UsageBucket } from '../services/analytics.js';
import type { Services } from '../services/index.js';
import { toCsv, wantsCsv, type CsvValue } from '../services/csv.js';
import { bearerSecurity, errorResponses, newRouter } from './router.js';

const Range = {
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Start (inclusive); default 30 days before `to`.' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'End (exclusive); default now. At most 366 days after `from`.' }),
};

const UsageBucketSchema = z
  .object({
    bucket: z.string().nullable(),
    requests: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost: z.number().int(),
    charged: z.number().int(),
    uncharged: z.number().int(),
    key_name: z.string().nullable().optional(),
    domain_id: z.string().optional(),
  })
  .openapi('UsageBucket');
const UsageSummarySchema = z
  .object({
    group_by: z.enum(['day', 'hour', 'model', 'key', 'domain']),
    from: z.string(),
    to: z.string(),
    data: z.array(UsageBucketSchema),
    totals: UsageBucketSchema,
  })
  .openapi('UsageSummary');

const VerificationBucketSchema = z
  .object({
    bucket: z.string(),
    verifications: z.number().int(),
    valid: z.number().int(),
    refused: z.record(z.string(), z.number().int()),
    credits_charged: z.number().int(),
    charged_at_verify: z.number().int(),
    charged_by_usage: z.number().int(),
    usage_reports: z.number().int(),
  })
  .openapi('VerificationBucket');
const DomainStatsSchema = z
  .object({
    domain_id: z.string(),
    group_by: z.enum(['day', 'hour']),
    from: z.string(),
    to: z.string(),
    data: z.array(VerificationBucketSchema),
    totals: VerificationBucketSchema,
  })
  .openapi('DomainStats');

const AdminStatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    accounts: z.object({ total: z.number().int(), developer: z.number().int(), network: z.number().int() }),
    trial: z.object({ pending: z.number().int(), approved: z.number().int(), rejected: z.number().int() }),
    credits: z.object({ granted: z.number().int(), charged: z.number().int(), uncharged: z.number().int() }),
    verifications: z.object({ total: z.number().int(), by_code: z.record(z.string(), z.number().int()) }),
    keys: z.object({ active: z.number().int(), disabled: z.number().int() }),
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

const jsonOrCsv = <T extends z.ZodTypeAny>(schema: T) => ({
  description: 'OK (JSON, or CSV of `data` with `Accept: text/csv`)',
  content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
});

function csvResponse(c: Context<AppEnv>, name: string, header: readonly string[], rows: CsvValue[][]): Response {
  c.header('content-type', 'text/csv; charset=utf-8');
  c.header('content-disposition', `attachment; filename="${name}.csv"`);
  c.header('cache-control', 'no-store');
  return c.body(toCsv(header, rows), 200);
}

const USAGE_COLUMNS = ['requests', 'input_tokens', 'output_tokens', 'cost', 'charged', 'uncharged'] as const;
const usageRow = (b: UsageBucket): CsvValue[] => USAGE_COLUMNS.map((k) => b[k]);

export function analyticsRoutes(deps: AppDeps, { analytics }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage/summary',
      tags: ['analytics'],
      summary: 'Your usage summed per day, hour, model, key or domain (session, or a key with analytics:read)',
      security: bearerSecurity,
      middleware: [authenticate(deps, { keyScope: 'analytics:read' })],
      request: {
        query: z.object({
          group_by: z.enum(['day', 'hour', 'model', 'key', 'domain']).default('day'),
          ...Range,
          key_id: z.string().min(1).max(64).optional(),
          model: z.string().min(1).max(128).optional(),
        }),
      },
      responses: { 200: jsonOrCsv(UsageSummarySchema), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const s = await analytics.usageSummary(c.get('actor'), c.req.valid('query'));
      if (wantsCsv(c.req.header('accept'))) {
        const extra = s.group_by === 'key' ? ['key_name'] : s.group_by === 'domain' ? ['domain_id'] : [];
        return csvResponse(
          c,
          `usage-by-${s.group_by}`,
          ['bucket', ...extra, ...USAGE_COLUMNS],
          s.data.map((b) => [
            b.bucket,
            ...(s.group_by === 'key' ? [b.key_name] : s.group_by === 'domain' ? [b.domain_id] : []),
            ...usageRow(b),
          ]),
        );
      }
      return c.json(s, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/domains/{id}/stats',
      tags: ['analytics'],
      summary: "What a domain's verifications answered, by code, and the credits charged on it (owner; admins any)",
      security: bearerSecurity,
      middleware: [authenticate(deps, { keyScope: 'analytics:read' })],
      request: {
        params: z.object({
          id: z
            .string()
            .min(1)
            .max(64)
            .openapi({ param: { name: 'id', in: 'path' } }),
        }),
        query: z.object({ group_by: z.enum(['day', 'hour']).default('day'), ...Range }),
      },
      responses: { 200: jsonOrCsv(DomainStatsSchema), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const s = await analytics.domainStats(c.get('actor'), { ...c.req.valid('query'), id: c.req.valid('param').id });
      if (wantsCsv(c.req.header('accept'))) {
        return csvResponse(
          c,
          `domain-${s.domain_id}-by-${s.group_by}`,
          [
            'bucket',
            'verifications',
            'valid',
            ...REFUSAL_CODES,
            'credits_charged',
            'charged_at_verify',
            'charged_by_usage',
            'usage_reports',
          ],
          s.data.map((b) => [
            b.bucket,
            b.verifications,
            b.valid,
            ...REFUSAL_CODES.map((code) => b.refused[code] ?? 0),
            b.credits_charged,
            b.charged_at_verify,
            b.charged_by_usage,
            b.usage_reports,
          ]),
        );
      }
      return c.json(s, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/stats',
      tags: ['admin'],
      summary: 'Platform overview: accounts, trial, credits, verifications, keys, and a daily series (admin)',
      security: bearerSecurity,
      middleware: [authenticate(deps), requireAdmin()],
      request: { query: z.object(Range) },
      responses: { 200: jsonOrCsv(AdminStatsSchema), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const s = await analytics.adminStats(c.get('actor'), c.req.valid('query'));
      if (wantsCsv(c.req.header('accept'))) {
        return csvResponse(
          c,
          'platform-by-day',
          ['bucket', 'verifications', 'valid', 'refused', 'credits_charged', 'requests'],
          s.data.map((b) => [b.bucket, b.verifications, b.valid, b.refused, b.credits_charged, b.requests]),
        );
      }
      return c.json(s, 200);
    },
  );

  return r;
}
