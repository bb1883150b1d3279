import type { OpenAPIHono } from '@hono/zod-openapi';
import { createRoute } from '@hono/zod-openapi';
import { HealthSchema, type Jwks, JwksSchema, MetricsText } from '../contract/ops.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { bearerToken } from '../middleware/session-auth.js';
import { authorizeMetrics, checkHealth } from '../services/ops.js';
import { errorResponses, json, newRouter } from './router.js';

export function opsRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const r = newRouter();

  r.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['operations'],
      summary: 'Liveness and database check',
      responses: { 200: json(HealthSchema), ...errorResponses(503) },
    }),
    async (c) => {
      await checkHealth(deps.db);
      c.header('cache-control', 'no-store');
      return c.json({ ok: true as const }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/.well-known/jwks.json',
      tags: ['auth'],
      summary: 'Public keys that verify session JWTs',
      responses: { 200: json(JwksSchema) },
    }),
    (c) => {
      c.header('cache-control', 'public, max-age=300');
      return c.json(deps.sessions.jwks() as Jwks, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics of this instance (loopback clients only, or Bearer METRICS_TOKEN when configured)',
      responses: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: MetricsText } } },
        ...errorResponses(401, 403),
      },
    }),
    async (c) => {
      await authorizeMetrics(deps.config.metricsToken, bearerToken(c.req.header('authorization')), deps.clientIp(c));
      c.header('cache-control', 'no-store');
      return c.text(deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    },
  );

  return r;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);

interface OpenApiDoc {
  info: { title: string; version: string };
  paths: Record<string, Record<string, { summary?: string; tags?: string[]; responses?: Record<string, unknown> }>>;
}

/** A self-contained HTML rendering of the OpenAPI document: no CDN, no script. */
export function renderDocs(doc: OpenApiDoc): string {
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const codes = Object.keys(op.responses ?? {}).join(', ');
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary ?? '')}</td><td>${escapeHtml((op.tags ?? []).join(', '))}</td><td>${codes}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(doc.info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}code{font-size:13px}</style>
</head><body><h1>${escapeHtml(doc.info.title)} API ${escapeHtml(doc.info.version)}</h1>
<p>The machine-readable contract is at <a href="/openapi.json">/openapi.json</a>. Errors use the body <code>{"error":{"code","message","type","request_id"}}</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Tag</th><th>Responses</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></body></html>`;
}
