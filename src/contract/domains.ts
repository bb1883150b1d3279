/** Node operators' domains: registration, tokens, ownership proof and claims (/v1/domains). */
import { z } from '@hono/zod-openapi';
import { type Expect, PageQuery, type Same, pageOf } from './common.js';
import { TeamId } from './teams.js';
import type { DomainView, DomainWithToken as DomainWithTokenView } from './views.js';

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const Visibility = z.enum(['network', 'public']);

export const DomainSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    visibility: Visibility,
    owner: z.string(),
    token_hint: z.string(),
    created_at: z.string(),
    ownership: z.enum(['verified', 'unverified']).openapi({ description: 'Whether the owner proved control of the name.' }),
    ownership_challenge: z.string().openapi({
      description:
        'Publish it as a TXT record at `_siwe-keys.<name>` or as the body of ' +
        '`https://<name>/.well-known/siwe-keys.txt`, then call the ownership check.',
    }),
    verified_at: z.string().nullable(),
    team_id: z.string().nullable().openapi({ description: 'The team that owns the domain (`owner` is then the team id), or null.' }),
    created_by: z.string().nullable().openapi({ description: 'The member wallet that registered a team domain; null otherwise.' }),
  })
  .openapi('Domain');
export type Domain = z.infer<typeof DomainSchema>;
export const DomainPage = pageOf(DomainSchema);

export const DomainWithTokenSchema = DomainSchema.extend({
  token: z.string().openapi({ description: 'The domain token. Shown once.' }),
}).openapi('DomainWithToken');
export type DomainWithToken = z.infer<typeof DomainWithTokenSchema>;

export const DomainClaimSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    visibility: Visibility,
    status: z.literal('pending'),
    ownership_challenge: z.string().openapi({ description: "This claim's own challenge: publish it on the name, then check the claim." }),
    created_at: z.string(),
  })
  .openapi('DomainClaim');
export type DomainClaim = z.infer<typeof DomainClaimSchema>;

/** POST /v1/domains and POST /v1/domains/claim. */
export const DomainNameBody = z
  .object({
    name: z.string().trim().toLowerCase().regex(DNS_NAME, 'must be a DNS name like node-42.example.org'),
    visibility: Visibility.optional(),
  })
  .strict();
export type DomainNameBody = z.infer<typeof DomainNameBody>;

/** POST /v1/domains: a name, and with team_id for a team (its owners and admins). */
export const CreateDomainBody = DomainNameBody.extend({
  team_id: TeamId.optional().openapi({ description: 'Register it for this team (owners and admins).' }),
}).strict();

/** GET /v1/domains: with team_id, a team's domains (any active member). */
export const DomainListQuery = PageQuery.extend({ team_id: TeamId.optional() });

/** views.ts's copies match the schemas. */
export type DomainViewsMatch = [Expect<Same<Domain, DomainView>>, Expect<Same<DomainWithToken, DomainWithTokenView>>];
