import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createNodeService, type NodeService } from '../src/node.js';
import { ADMIN_ACCOUNT, TEST_ORIGIN, get, json, post, signIn, type Harness } from './support/harness.js';
import type { Account, Application, AuditEvent, Page, Team, TeamWithMembers } from './support/responses.js';

const run = promisify(execFile);

/** The admin CLI works on the same SQLite file a running service uses. */
describe('siwe-keys admin CLI', () => {
  let dir: string;
  let svc: NodeService;
  let h: Harness;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'siwe-keys-cli-'));
    env = {
      ...process.env,
      DATABASE_URL: `file:${join(dir, 'db.sqlite')}`,
      PUBLIC_URL: TEST_ORIGIN,
      TRIAL_CREDITS: '777',
      ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    };
    svc = await createNodeService(loadConfig(env));
    h = {
      name: 'cli',
      logs: [],
      request: async (p, i) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), i),
      close: () => svc.close(),
    };
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => run(process.execPath, ['bin/siwe-keys.js', 'admin', ...args], { env });

  it('lists, approves and rejects applications', async () => {
    const u1 = await signIn(h);
    const u2 = await signIn(h);
    const a1 = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'one' }, u1.token));
    const a2 = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'two' }, u2.token));
    const listed = await cli('applications', '--status', 'pending');
    expect(listed.stdout).toContain(a1.id);
    expect(listed.stdout).toContain(a2.id);

    const ok = await cli('approve', a1.id);
    expect(ok.stdout).toContain(`approved ${a1.id}`);
    expect(await json<Account>(await get(h, '/v1/me', u1.token))).toMatchObject({ plan: 'developer', credits: 777 });

    const no = await cli('reject', a2.id, '--reason', 'spam');
    expect(no.stdout).toContain(`rejected ${a2.id}`);
    expect(await json<Application>(await get(h, '/v1/trial/applications/mine', u2.token))).toMatchObject({
      status: 'rejected',
      reason: 'spam',
      reviewed_by: 'cli',
    });

    await expect(cli('approve', a2.id)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('application_closed') });
    await expect(cli('reject', a1.id)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--reason') });
  });

  it('lists teams and changes a team balance', async () => {
    const owner = await signIn(h);
    const team = await json<Team>(await post(h, '/v1/teams', { name: 'cli team' }, owner.token));
    const listed = await cli('teams');
    expect(listed.stdout).toContain(team.id);
    expect(listed.stdout).toContain('"cli team"\tunlimited\t1 members\t0 invited');
    const granted = await cli('team-credits', team.id, '--delta', '250', '--reason', 'prepaid');
    expect(granted.stdout).toContain(`team ${team.id} now has 250 credits`);
    expect((await json<TeamWithMembers>(await get(h, `/v1/teams/${team.id}`, owner.token))).credits).toBe(250);
    const audit = (await json<Page<AuditEvent>>(await get(h, `/v1/teams/${team.id}/audit`, owner.token))).data;
    expect(audit[0]).toMatchObject({ action: 'team.credits', actor: 'cli', detail: { delta: 250, reason: 'prepaid' } });
    await expect(cli('team-credits', team.id, '--delta=-251', '--reason', 'x')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('insufficient_credits'),
    });
    await expect(cli('team-credits', 'team_nope', '--delta', '1', '--reason', 'x')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not_found'),
    });
    await expect(cli('team-credits', team.id, '--delta', '5')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--reason'),
    });
  });
});
