import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('webhook settings', () => {
  it('defaults to the contract: retry schedule 5,300,1800,7200,18000,36000, https only, 10 s timeout', () => {
    expect(loadConfig({}).webhooks).toEqual({
      retrySchedule: [5, 300, 1800, 7200, 18000, 36000],
      allowPrivateUrls: false,
      maxPerAccount: 10,
      timeoutMs: 10_000,
      pollIntervalMs: 1000,
      secretGraceSeconds: 86400,
    });
  });

  it('reads WEBHOOK_RETRY_SCHEDULE and WEBHOOK_ALLOW_PRIVATE_URLS', () => {
    const c = loadConfig({ WEBHOOK_RETRY_SCHEDULE: '1, 2,3', WEBHOOK_ALLOW_PRIVATE_URLS: '1' }).webhooks;
    expect(c.retrySchedule).toEqual([1, 2, 3]);
    expect(c.allowPrivateUrls).toBe(true);
  });

  it('refuses a malformed schedule or flag with one line naming the variable', () => {
    for (const [name, value] of [
      ['WEBHOOK_RETRY_SCHEDULE', '5,soon'],
      ['WEBHOOK_RETRY_SCHEDULE', '-5'],
      ['WEBHOOK_ALLOW_PRIVATE_URLS', 'yes'],
      ['WEBHOOK_TIMEOUT_MS', '0'],
    ]) {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(`invalid configuration: ${name}`);
    }
  });
});
