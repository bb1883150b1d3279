import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { getAddress, isAddress } from 'viem';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import { TEAM_ROLES } from '../services/authorize.js';
import type { Services } from '../services/index.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';
import { ListQuery } from './keys.js';

const Role = z.enum(TEAM_ROLES);
const TeamName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{C}]+$/u, 'must be printable characters')
  .refine((s) => s.trim() === s && s.length > 0, 'must not start or end with spaces');
/** Any case in, EIP-55 out (members are stored checksummed, like accounts). */
const Address = z
  .string()
  .refine((a) => /^0x[0-9a-fA-F]{40}$/.test(a) && isAddress(a, { strict: false }), 'must be a 0x address')
  .transform((a) => getAddress(a));

export const TeamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.literal('network'),
    credits: z.number().int().nullable(),
    role: Role.openapi({ description: "The caller's role in the team." }),
    created_at: z.string(),
  })
  .openapi('Team');
const TeamListItem = TeamSchema.extend({
  status: z.enum(['active', 'invited']).openapi({ description: "The caller's membership: invited until it joins." }),
  invited_by: z.string(),
  joined_at: z.string().nullable(),
}).openapi('TeamMembership');
export const MemberSchema = z
  .object({
    address: z.string(),
    role: Role,
    status: z.enum(['active', 'invited']),
    invited_by: z.string(),
    invited_at: z.string(),
    joined_at: z.string().nullable(),
  })
  .openapi('TeamMember');
const TeamDetail = TeamSchema.extend({ members: z.array(MemberSchema) }).openapi('TeamWithMembers');
const AdminTeam = z
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
const EventSchema = z
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
  .openapi('TeamAuditEvent');

const pathParam = (name: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } });
const TeamParam = z.object({ id: pathParam('id') });
const MemberParam = z.object({ id: pathParam('id'), address: Address.openapi({ param: { name: 'address', in: 'path' } }) });

export function teamsRoutes(deps: AppDeps, { teams }: Services): OpenAPIHono<AppEnv> {
  const r = newRouter();
  // Sessions only: team membership belongs to a wallet, and no API key acts for a team's members.
  const session = authenticate(deps);
  const common = { tags: ['teams'], security: bearerSecurity, middleware: [session] };

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/teams',
      summary: 'Create a team; the caller is its owner',
      request: { body: jsonBody(z.object({ name: TeamName }).strict()) },
      responses: { 201: json(TeamSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => c.json(await teams.create(c.get('actor'), c.req.valid('json')), 201),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/teams',
      summary: 'Teams the caller belongs to or is invited to, with its role and status',
      responses: { 200: json(z.object({ data: z.array(TeamListItem) })), ...errorResponses(401, 403) },
    }),
    async (c) => c.json(await teams.listMine(c.get('actor')), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/teams/{id}',
      summary: 'A team and its members (active members only)',
      request: { params: TeamParam },
      responses: { 200: json(TeamDetail), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await teams.get(c.get('actor'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'delete',
      path: '/v1/teams/{id}',
      summary: 'Delete the team with its keys and domains (owner)',
      request: { params: TeamParam },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await teams.remove(c.get('actor'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/teams/{id}/members',
      summary: 'Invite a wallet with a role (owner/admin; admins cannot invite owners)',
      request: { params: TeamParam, body: jsonBody(z.object({ address: Address, role: Role }).strict()) },
      responses: { 201: json(MemberSchema, 'Invited'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await teams.invite(c.get('actor'), { ...c.req.valid('param'), ...c.req.valid('json') }), 201),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'post',
      path: '/v1/teams/{id}/join',
      summary: "Accept an invitation with the invited wallet's own session",
      request: { params: TeamParam },
      responses: { 200: json(TeamSchema), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await teams.join(c.get('actor'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'patch',
      path: '/v1/teams/{id}/members/{address}',
      summary: "Change a member's role (owner; admins for non-owners); the last owner cannot be demoted",
      request: { params: MemberParam, body: jsonBody(z.object({ role: Role }).strict()) },
      responses: { 200: json(MemberSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await teams.changeRole(c.get('actor'), { ...c.req.valid('param'), ...c.req.valid('json') }), 200),
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'delete',
      path: '/v1/teams/{id}/members/{address}',
      summary: 'Remove a member or invitation (owner/admin), or leave / decline (your own address)',
      request: { params: MemberParam },
      responses: { 204: { description: 'Removed' }, ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      await teams.removeMember(c.get('actor'), c.req.valid('param'));
      return c.body(null, 204);
    },
  );

  r.openapi(
    createRoute({
      ...common,
      method: 'get',
      path: '/v1/teams/{id}/audit',
      summary: "The team's audit events, newest first (owner/admin)",
      request: {
        params: TeamParam,
        query: ListQuery.extend({
          action: z
            .string()
            .min(1)
            .max(64)
            .regex(/^[a-z0-9_.]+$/, 'must be an action name like team.invite')
            .optional(),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(EventSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => c.json(await teams.audit(c.get('actor'), { ...c.req.valid('param'), ...c.req.valid('query') }), 200),
  );

  const admin = { tags: ['admin'], security: bearerSecurity, middleware: [session, requireAdmin()] };

  r.openapi(
    createRoute({
      ...admin,
      method: 'get',
      path: '/v1/admin/teams',
      summary: 'Every team with its balance and member counts (admin)',
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ data: z.array(AdminTeam), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(await teams.listAll(c.get('actor'), c.req.valid('query')), 200),
  );

  r.openapi(
    createRoute({
      ...admin,
      method: 'post',
      path: '/v1/admin/teams/{id}/credits',
      summary: "Change a team's credit balance by delta (admin); its keys spend it",
      request: {
        params: TeamParam,
        body: jsonBody(
          z
            .object({
              // 0 is refused: it would turn an unenforced (null) balance into an enforced 0 by accident.
              delta: z
                .number()
                .int()
                .min(-Number.MAX_SAFE_INTEGER)
                .max(Number.MAX_SAFE_INTEGER)
                .refine((d) => d !== 0, 'must not be 0'),
              reason: z.string().trim().min(1).max(2000),
            })
            .strict(),
        ),
      },
      responses: { 200: json(AdminTeam), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await teams.changeCredits(c.get('actor'), { ...c.req.valid('param'), ...c.req.valid('json') }), 200),
  );

  return r;
}
