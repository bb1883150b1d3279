/** The developer free trial: applications, their review, and an account's credits (admin). */
import { z } from '@hono/zod-openapi';
import { isAddress } from 'viem';
import { Credits, type Expect, PageQuery, type Same, pageOf } from './common.js';
import type { ApplicationView } from './views.js';

export const ApplicationStatus = z.enum(['pending', 'approved', 'rejected']);

export const ApplicationSchema = z
  .object({
    id: z.string(),
    address: z.string(),
    status: ApplicationStatus,
    use_case: z.string(),
    contact: z.string().nullable(),
    credits_granted: z.number().int().nullable(),
    reviewed_by: z.string().nullable(),
    reason: z.string().nullable(),
    created_at: z.string(),
    reviewed_at: z.string().nullable(),
  })
  .openapi('Application');
export type Application = z.infer<typeof ApplicationSchema>;
export const ApplicationPage = pageOf(ApplicationSchema);

export const ApplyBody = z
  .object({ use_case: z.string().trim().min(1).max(4000), contact: z.string().trim().max(255).optional() })
  .strict();

export const ApplicationListQuery = PageQuery.extend({
  status: ApplicationStatus.optional(),
  address: z
    .string()
    .refine((a) => isAddress(a, { strict: false }), 'must be an address')
    .optional(),
});

export const ApproveBody = z.object({ credits: Credits.optional() }).strict();
export const RejectBody = z.object({ reason: z.string().trim().min(1).max(2000) }).strict();

/** `{address}` in a path (checked and checksummed by the handler, which names the param in its 400). */
export const AddressParam = z.object({ address: z.string().openapi({ param: { name: 'address', in: 'path' } }) });

/** views.ts's copy matches the schema. */
export type TrialViewsMatch = Expect<Same<Application, ApplicationView>>;
