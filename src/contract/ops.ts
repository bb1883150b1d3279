/** Operations: GET /healthz, GET /.well-known/jwks.json, GET /metrics. */
import { z } from '@hono/zod-openapi';

export const HealthSchema = z.object({ ok: z.literal(true) });
export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });
export type Jwks = z.infer<typeof JwksSchema>;
export const MetricsText = z.string();
