import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, json, signIn, targets, type Harness } from './support/harness.js';

describe.each(targets())('sign-in smoke on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => h.close());

  it('serves /healthz', async () => {
    const res = await get(h, '/healthz');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ ok: true });
  });

  it('signs in a viem account and returns it from /v1/me', async () => {
    const s = await signIn(h);
    const res = await get(h, '/v1/me', s.token);
    expect(res.status).toBe(200);
    const me = await json(res);
    expect(me.address).toBe(s.address);
    expect(me.plan).toBe('network');
    expect(me.roles).toEqual(['user']);
  });
});
