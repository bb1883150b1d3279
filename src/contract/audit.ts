/** The audit log: GET /v1/audit (your account) and GET /v1/admin/audit (everything). */
import { z } from '@hono/zod-openapi';
import { PageQuery, pageOf } from './common.js';

export const AuditEventSchema = z
  .object({
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    account: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    request_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('AuditEvent');
export type AuditEvent = z.infer<typeof AuditEventSchema>;
export const AuditPage = pageOf(AuditEventSchema);

/** Filters: `action` (exact, e.g. key.create); on the admin log also `address` (actor or account). */
export const AuditQuery = PageQuery.extend({
  action: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9_.]+$/, 'must be an action name like key.create')
    .optional(),
});
export const AdminAuditQuery = AuditQuery.extend({
  address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x address')
    .optional(),
});
