import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { AuditPage } from '../contract/audit.js';
import {
  AdminTeamPage,
  AdminTeamSchema,
  CreateTeamBody,
  InviteBody,
  MemberParam,
  RoleBody,
  TeamAuditQuery,
  TeamListQuery,
  TeamMemberSchema,
  TeamMembershipSchema,
  TeamParam,
  TeamSchema,
  TeamWithMembersSchema,
} from '../contract/teams.js';
import { CreditsChangeBody } from '../contract/common.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { authenticate, requireAdmin } from '../middleware/session-auth.js';
import type { Services } from '../services/index.js';
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from './router.js';

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
      request: { body: jsonBody(CreateTeamBody) },
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
      responses: { 200: json(z.object({ data: z.array(TeamMembershipSchema) })), ...errorResponses(401, 403) },
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
      responses: { 200: json(TeamWithMembersSchema), ...errorResponses(401, 403, 404) },
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
      request: { params: TeamParam, body: jsonBody(InviteBody) },
      responses: { 201: json(TeamMemberSchema, 'Invited'), ...errorResponses(400, 401, 403, 404, 409) },
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
      request: { params: MemberParam, body: jsonBody(RoleBody) },
      responses: { 200: json(TeamMemberSchema), ...errorResponses(400, 401, 403, 404, 409) },
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
        query: TeamAuditQuery,
      },
      responses: {
        200: json(AuditPage),
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
      request: { query: TeamListQuery },
      responses: {
        200: json(AdminTeamPage),
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
        body: jsonBody(CreditsChangeBody),
      },
      responses: { 200: json(AdminTeamSchema), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await teams.changeCredits(c.get('actor'), { ...c.req.valid('param'), ...c.req.valid('json') }), 200),
  );

  return r;
}
