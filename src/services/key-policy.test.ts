import { describe, expect, it } from 'vitest';
import { REFUSAL_CODES } from '../contract/verify-codes.js';
import {
  ADMIN_KEY_REFUSED,
  APPROVED_ACCOUNT_ON_NETWORK_DOMAIN,
  DEVELOPER_KEY_ON_NETWORK_DOMAIN,
  KEY_DISABLED,
  KEY_EXPIRED,
  KEY_NOT_FOUND,
  NETWORK_KEY_ON_PUBLIC_DOMAIN,
  type PolicyKey,
  checkKeyOnDomain,
  checkLiveness,
  checkModel,
  checkScope,
  checkType,
} from './key-policy.js';

const NOW = 1_800_000_000_000;

const devKey = (over: Partial<PolicyKey> = {}): PolicyKey => ({
  status: 'active',
  expires_at: null,
  prevUntil: null,
  type: 'developer',
  plan: 'network',
  scopes: ['inference:read', 'inference:write'],
  models: null,
  ...over,
});

describe('key policy: liveness', () => {
  it('refuses a missing key as not_found', () => {
    expect(checkLiveness(null, NOW)).toEqual({ ok: false, code: 'not_found', message: KEY_NOT_FOUND });
    expect(checkLiveness(undefined, NOW)).toEqual({ ok: false, code: 'not_found', message: KEY_NOT_FOUND });
  });

  it('accepts a rotated-out secret until its grace period ends, then answers not_found', () => {
    expect(checkLiveness(devKey({ prevUntil: NOW + 1 }), NOW)).toEqual({ ok: true });
    expect(checkLiveness(devKey({ prevUntil: NOW }), NOW)).toMatchObject({ ok: false, code: 'not_found' });
    expect(checkLiveness(devKey({ prevUntil: NOW - 1 }), NOW)).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('refuses a disabled key', () => {
    expect(checkLiveness(devKey({ status: 'disabled' }), NOW)).toEqual({ ok: false, code: 'disabled', message: KEY_DISABLED });
  });

  it('refuses a key at or past its expiry, accepts one before it or without one', () => {
    expect(checkLiveness(devKey({ expires_at: NOW }), NOW)).toEqual({ ok: false, code: 'expired', message: KEY_EXPIRED });
    expect(checkLiveness(devKey({ expires_at: NOW - 1 }), NOW)).toMatchObject({ code: 'expired' });
    expect(checkLiveness(devKey({ expires_at: NOW + 1 }), NOW)).toEqual({ ok: true });
    expect(checkLiveness(devKey(), NOW)).toEqual({ ok: true });
  });

  it('checks in order: rotated-out before disabled before expired', () => {
    const dead = devKey({ prevUntil: NOW - 1, status: 'disabled', expires_at: NOW - 1 });
    expect(checkLiveness(dead, NOW)).toMatchObject({ code: 'not_found' });
    expect(checkLiveness({ ...dead, prevUntil: null }, NOW)).toMatchObject({ code: 'disabled' });
    expect(checkLiveness({ ...dead, prevUntil: null, status: 'active' }, NOW)).toMatchObject({ code: 'expired' });
  });
});

describe('key policy: type rule', () => {
  it('public domains take developer keys only', () => {
    expect(checkType('public', { type: 'developer', plan: 'network' })).toEqual({ ok: true });
    expect(checkType('public', { type: 'developer', plan: 'developer' })).toEqual({ ok: true });
    expect(checkType('public', { type: 'network', plan: 'network' })).toEqual({
      ok: false,
      code: 'key_type_mismatch',
      message: NETWORK_KEY_ON_PUBLIC_DOMAIN,
    });
  });

  it('network domains take network keys of non-developer accounts', () => {
    expect(checkType('network', { type: 'network', plan: 'network' })).toEqual({ ok: true });
    // A tombstoned key whose account is gone has no plan: only the key's type decides.
    expect(checkType('network', { type: 'network', plan: undefined })).toEqual({ ok: true });
    expect(checkType('network', { type: 'network', plan: null })).toEqual({ ok: true });
    expect(checkType('network', { type: 'developer', plan: 'network' })).toEqual({
      ok: false,
      code: 'key_type_mismatch',
      message: DEVELOPER_KEY_ON_NETWORK_DOMAIN,
    });
  });

  it('never accepts any key of a developer-plan account on a network domain (the account message first)', () => {
    for (const type of ['network', 'developer'] as const) {
      expect(checkType('network', { type, plan: 'developer' })).toEqual({
        ok: false,
        code: 'key_type_mismatch',
        message: APPROVED_ACCOUNT_ON_NETWORK_DOMAIN,
      });
    }
  });
});

describe('key policy: scope', () => {
  it('defaults to inference:write', () => {
    expect(checkScope(['inference:write'])).toEqual({ ok: true });
    expect(checkScope(['inference:read'])).toEqual({
      ok: false,
      code: 'scope_denied',
      message: 'The API key lacks the inference:write scope.',
    });
  });

  it('requires the scope asked for', () => {
    expect(checkScope(['inference:read'], 'inference:read')).toEqual({ ok: true });
    expect(checkScope(['inference:write'], 'analytics:read')).toMatchObject({
      code: 'scope_denied',
      message: 'The API key lacks the analytics:read scope.',
    });
    expect(checkScope([], 'inference:read')).toMatchObject({ code: 'scope_denied' });
  });

  it('never accepts an admin-scoped key, whatever else it holds or is asked for', () => {
    expect(checkScope(['admin'], 'admin')).toEqual({ ok: false, code: 'scope_denied', message: ADMIN_KEY_REFUSED });
    expect(checkScope(['inference:write', 'admin'])).toEqual({ ok: false, code: 'scope_denied', message: ADMIN_KEY_REFUSED });
  });
});

describe('key policy: model', () => {
  it('a key without a model list takes any model', () => {
    expect(checkModel(null, 'llama')).toEqual({ ok: true });
    expect(checkModel(null, undefined)).toEqual({ ok: true });
  });

  it('a key with a model list takes only those, and a request naming none passes', () => {
    expect(checkModel(['llama'], 'llama')).toEqual({ ok: true });
    expect(checkModel(['llama'], undefined)).toEqual({ ok: true });
    expect(checkModel(['llama'], 'gpt')).toEqual({
      ok: false,
      code: 'model_not_allowed',
      message: 'The API key may not use the model gpt.',
    });
    expect(checkModel([], 'llama')).toMatchObject({ code: 'model_not_allowed' });
  });
});

describe('key policy: a key on a domain', () => {
  it('accepts a live key of the right type, scope and model', () => {
    expect(checkKeyOnDomain(devKey({ models: ['m'] }), 'public', { model: 'm' }, NOW)).toEqual({ ok: true });
    expect(checkKeyOnDomain(devKey({ type: 'network' }), 'network', { scope: 'inference:read' }, NOW)).toEqual({ ok: true });
    expect(checkKeyOnDomain(null, 'public', {}, NOW)).toMatchObject({ code: 'not_found' });
  });

  it("refuses in the contract's order, each check only after every earlier one passes", () => {
    // A key failing every check: fix one failure at a time and the next code in the order appears.
    const steps: [Partial<PolicyKey>, string][] = [
      [{ prevUntil: NOW - 1 }, 'not_found'],
      [{ prevUntil: null, status: 'disabled' }, 'disabled'],
      [{ status: 'active', expires_at: NOW - 1 }, 'expired'],
      [{ expires_at: null, type: 'network' }, 'key_type_mismatch'],
      [{ type: 'developer', scopes: ['admin'] }, 'scope_denied'],
      [{ scopes: ['inference:write'], models: ['other'] }, 'model_not_allowed'],
      [{ models: null }, 'valid'],
    ];
    let key = devKey({
      prevUntil: NOW - 1,
      status: 'disabled',
      expires_at: NOW - 1,
      type: 'network',
      scopes: ['admin'],
      models: ['other'],
    });
    const seen: string[] = [];
    for (const [fix, code] of steps) {
      key = { ...key, ...fix };
      const r = checkKeyOnDomain(key, 'public', { model: 'm' }, NOW);
      const got = r.ok ? 'valid' : r.code;
      expect(got).toBe(code);
      seen.push(got);
    }
    // The policy's codes appear in the same relative order as the contract's refusal list.
    const policyCodes = seen.filter((c) => c !== 'valid');
    expect(policyCodes).toEqual(REFUSAL_CODES.filter((c) => policyCodes.includes(c)));
  });

  it('checks the type before the scope: a developer-plan account on a network domain with an admin key', () => {
    const key = devKey({ type: 'network', plan: 'developer', scopes: ['admin'] });
    expect(checkKeyOnDomain(key, 'network', {}, NOW)).toEqual({
      ok: false,
      code: 'key_type_mismatch',
      message: APPROVED_ACCOUNT_ON_NETWORK_DOMAIN,
    });
  });

  it('checks the scope before the model', () => {
    const key = devKey({ scopes: ['inference:read'], models: ['x'] });
    expect(checkKeyOnDomain(key, 'public', { model: 'y' }, NOW)).toMatchObject({ code: 'scope_denied' });
    expect(checkKeyOnDomain(key, 'public', { scope: 'inference:read', model: 'y' }, NOW)).toMatchObject({ code: 'model_not_allowed' });
  });
});
