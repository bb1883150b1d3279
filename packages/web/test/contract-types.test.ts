// The package ships plain team types (its .d.ts files need no zod); this pins them to the service's
// contract (src/contract/teams.ts): if a response schema changes, this file stops type-checking
// (`npm run typecheck`), and the test below also fails on the role list.
import type { z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import {
  TEAM_ROLES as CONTRACT_ROLES,
  type TeamMemberSchema,
  type TeamMembershipSchema,
  type TeamSchema,
  type TeamWithMembersSchema,
} from '../../../src/contract/teams.js';
import { TEAM_ROLES, type TeamDetailView, type TeamMemberView, type TeamMembershipView, type TeamView } from '../src/index.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: [
  Same<TeamView, z.infer<typeof TeamSchema>>,
  Same<TeamMembershipView, z.infer<typeof TeamMembershipSchema>>,
  Same<TeamMemberView, z.infer<typeof TeamMemberSchema>>,
  Same<TeamDetailView, z.infer<typeof TeamWithMembersSchema>>,
] = [true, true, true, true];

describe('@siwe-keys/web team types', () => {
  it("match the service's contract schemas", () => {
    expect(same).toEqual([true, true, true, true]);
    expect([...TEAM_ROLES]).toEqual([...CONTRACT_ROLES]);
  });
});
