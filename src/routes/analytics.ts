import { type OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { DomainStatsParams, DomainStatsQuery, DomainStatsSchema, UsageSummaryQuery, UsageSummarySchema } from '../contract/analytics.js';
import type { AppDeps, AppEnv } from '../deps.js';
import type { Services } from '../services/index.js';
import { authenticate } from '../middleware/session-auth.js';
import type { UsageBucket } from '../contract/analytics.js';
import { REFUSAL_CODES } from '../contract/verify-codes.js';
import { wantsCsv, type CsvValue } from '../services/csv.js';
import { bearerSecurity, csvResponse, errorResponses, jsonOrCsv, newRouter } from './router.js';

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
        query: UsageSummaryQuery,
      },
      responses: { 200: jsonOrCsv(UsageSummarySchema), ...errorResponses(400, 401, 403, 404) },
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
        params: DomainStatsParams,
        query: DomainStatsQuery,
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

  return r;
}
