/** Teams: several wallets sharing network keys, domains and a balance (/v1/teams, /v1/admin/teams). */
import { z } from '@hono/zod-openapi';
import { getAddress, isAddress } from 'viem';
import { AuditQuery } from './audit.js';
import { idParam, PageQuery, pageOf } from './common.js';

/** The roles, most powerful first (services/authorize.ts decides what each may do). */
export const TEAM_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export const TeamRole = z.enum(TEAM_ROLES);

/** A team id in a body or query (`team_id`): unknown ones and non-members get 404. */
export const TeamId = z.string().min(1).max(64);

export const TeamName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{C}]+$/u, 'must be printable characters')
  .refine((s) => s.trim() === s && s.length > 0, 'must not start or end with spaces');

/** Any case in, EIP-55 out (members are stored checksummed, like accounts). */
export const WalletAddress = z
  .string()
  .refine((a) => /^0x[0-9a-fA-F]{40}$/.test(a) && isAddress(a, { strict: false }), 'must be a 0x address')
  .transform((a) => getAddress(a));

export const TeamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.literal('network'),
    credits: z.number().int().nullable(),
    role: TeamRole.openapi({ description: "The caller's role in the team." }),
    created_at: z.string(),
  })
  .openapi('Team');
export type Team = z.infer<typeof TeamSchema>;

export const TeamMembershipSchema = TeamSchema.extend({
  status: z.enum(['active', 'invited']).openapi({ description: "The caller's membership: invited until it joins." }),
  invited_by: z.string(),
  joined_at: z.string().nullable(),
}).openapi('TeamMembership');

export const TeamMemberSchema = z
  .object({
    address: z.string(),
    role: TeamRole,
    status: z.enum(['active', 'invited']),
    invited_by: z.string(),
    invited_at: z.string(),
    joined_at: z.string().nullable(),
  })
  .openapi('TeamMember');

export const TeamWithMembersSchema = TeamSchema.extend({ members: z.array(TeamMemberSchema) }).openapi('TeamWithMembers');

export const AdminTeamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    credits: z.number().int().nullable(),
    members: z.number().int(),
    invited: z.number().int(),
    created_by: z.string(),
    created_at: z.string(),
  })
  .openapi('AdminTeam');
export const AdminTeamPage = pageOf(AdminTeamSchema);

export const CreateTeamBody = z.object({ name: TeamName }).strict();
export const InviteBody = z.object({ address: WalletAddress, role: TeamRole }).strict();
export const RoleBody = z.object({ role: TeamRole }).strict();

export const TeamParam = z.object({ id: idParam('id') });
export const MemberParam = z.object({ id: idParam('id'), address: WalletAddress.openapi({ param: { name: 'address', in: 'path' } }) });
export const TeamListQuery = PageQuery;
export const TeamAuditQuery = AuditQuery;
