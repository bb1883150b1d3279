import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from './config.js';

function configError(env: Env): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('runs with no configuration at all, as the contract lists it', () => {
    expect(loadConfig({})).toMatchObject({
      port: 8787,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:8787',
      publicOrigin: 'http://localhost:8787',
      siweDomains: ['localhost:8787'],
      chainIds: [1],
      rpcUrls: {},
      databaseUrl: 'file:./data/siwe-keys.db',
      adminAddresses: [],
      sessionTtlSeconds: 86400,
      keyPrefix: 'sk',
      trialCredits: 100000,
      bodyLimitBytes: 64 * 1024,
      issuer: 'http://localhost:8787',
    });
  });

  it('derives PUBLIC_URL and SIWE_DOMAINS from PORT', () => {
    const c = loadConfig({ PORT: '9123' });
    expect(c.port).toBe(9123);
    expect(c.publicUrl).toBe('http://localhost:9123');
    expect(c.publicOrigin).toBe('http://localhost:9123');
    expect(c.siweDomains).toEqual(['localhost:9123']);
  });

  it('derives SIWE_DOMAINS from the host[:port] of PUBLIC_URL, not from PORT', () => {
    expect(loadConfig({ PORT: '9123', PUBLIC_URL: 'https://keys.example.org/app' })).toMatchObject({
      publicOrigin: 'https://keys.example.org',
      siweDomains: ['keys.example.org'],
      issuer: 'https://keys.example.org',
    });
    expect(loadConfig({ PUBLIC_URL: 'https://keys.example.org:8443' }).siweDomains).toEqual(['keys.example.org:8443']);
    // The default port of the scheme is not part of the host a browser reports.
    expect(loadConfig({ PUBLIC_URL: 'https://keys.example.org:443' }).siweDomains).toEqual(['keys.example.org']);
    expect(loadConfig({ PUBLIC_URL: 'https://Keys.Example.ORG' }).siweDomains).toEqual(['keys.example.org']);
  });

  it('treats empty variables as unset', () => {
    const c = loadConfig({ PORT: '', PUBLIC_URL: '', SIWE_CHAIN_IDS: '', ADMIN_ADDRESSES: '', KEY_PREFIX: '' });
    expect(c).toMatchObject({ port: 8787, publicUrl: 'http://localhost:8787', chainIds: [1], adminAddresses: [], keyPrefix: 'sk' });
  });

  it('reads comma lists, trimming blanks', () => {
    const admin = '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2';
    const c = loadConfig({
      SIWE_DOMAINS: 'app.example.org, localhost:3000 ,',
      SIWE_CHAIN_IDS: '1, 137,8453',
      RPC_URLS: '1=https://rpc.example.org/eth, 137=http://127.0.0.1:8545',
      ADMIN_ADDRESSES: ` ${admin} `,
    });
    expect(c.siweDomains).toEqual(['app.example.org', 'localhost:3000']);
    expect(c.chainIds).toEqual([1, 137, 8453]);
    expect(c.rpcUrls).toEqual({ 1: 'https://rpc.example.org/eth', 137: 'http://127.0.0.1:8545' });
    expect(c.adminAddresses).toEqual([admin.toLowerCase()]);
  });

  it('lower-cases SIWE_DOMAINS, as browsers report hosts, and accepts IP literals', () => {
    expect(loadConfig({ SIWE_DOMAINS: 'App.Example.org,127.0.0.1:8787,[::1]:8787' }).siweDomains).toEqual([
      'app.example.org',
      '127.0.0.1:8787',
      '[::1]:8787',
    ]);
  });

  it('accepts the other database URL forms', () => {
    for (const url of [':memory:', 'file:/tmp/x.db', 'postgres://u@h/db', 'postgresql://u@h:5433/db']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });
});

describe('loadConfig refuses invalid values with one line naming the variable', () => {
  const invalid: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PUBLIC_URL', 'not a url'],
    ['PUBLIC_URL', 'ftp://keys.example.org'],
    ['PUBLIC_URL', 'localhost:8787'],
    ['SIWE_DOMAINS', ','],
    ['SIWE_DOMAINS', 'https://keys.example.org'],
    ['SIWE_DOMAINS', 'keys.example.org/login'],
    ['SIWE_DOMAINS', 'keys example.org'],
    ['SIWE_CHAIN_IDS', 'abc'],
    ['SIWE_CHAIN_IDS', '0'],
    ['SIWE_CHAIN_IDS', '1,x'],
    ['SIWE_CHAIN_IDS', ','],
    ['SIWE_CHAIN_IDS', '1.5'],
    ['RPC_URLS', 'https://rpc.example.org'],
    ['RPC_URLS', '1=ftp://rpc.example.org'],
    ['DATABASE_URL', 'mysql://u@h/db'],
    ['DATABASE_URL', './data/siwe-keys.db'],
    ['ADMIN_ADDRESSES', '0x1234'],
    ['ADMIN_ADDRESSES', 'vitalik.eth'],
    ['SESSION_TTL_SECONDS', '0'],
    ['SESSION_TTL_SECONDS', 'a day'],
    ['SESSION_TTL_SECONDS', '1.5'],
    ['KEY_PREFIX', 'SK'],
    ['KEY_PREFIX', 'sk_live'],
    ['KEY_PREFIX', '1sk'],
    ['TRIAL_CREDITS', '-1'],
    ['TRIAL_CREDITS', '0.5'],
    ['BODY_LIMIT_BYTES', '0'],
    ['LOG_LEVEL', 'verbose'],
  ];

  it.each(invalid)('%s=%s', (name, value) => {
    const msg = configError({ [name]: value });
    expect(msg).toMatch(new RegExp(`^invalid configuration: ${name}: \\S`));
    expect(msg).not.toContain('\n');
  });

  it('names the first invalid variable when several are wrong', () => {
    expect(configError({ PORT: 'abc', LOG_LEVEL: 'verbose' })).toMatch(/^invalid configuration: (PORT|LOG_LEVEL): /);
  });
});
