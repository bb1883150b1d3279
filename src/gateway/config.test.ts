import { describe, expect, it } from 'vitest';
import { GatewayConfigError, parseGatewayArgs } from './config.js';

const required = ['--service', 'http://keys.test', '--upstream', 'http://127.0.0.1:8080', '--domain-token', 'dt_x'];

function config(argv: string[], env: Record<string, string> = {}) {
  const r = parseGatewayArgs(argv, env);
  if (r.help) throw new Error('help');
  return r.config;
}

describe('gateway configuration', () => {
  it('takes flags, with defaults for the rest', () => {
    const c = config(required);
    expect(c).toMatchObject({
      serviceUrl: 'http://keys.test',
      upstream: 'http://127.0.0.1:8080',
      domainToken: 'dt_x',
      port: 8788,
      host: '127.0.0.1',
      cacheTtlSeconds: 0,
    });
  });

  it('reads the environment, and a flag wins over its variable', () => {
    const env = {
      GATEWAY_SERVICE_URL: 'http://env.test',
      GATEWAY_UPSTREAM: 'http://up.test',
      GATEWAY_DOMAIN_TOKEN: 'dt_env',
      GATEWAY_PORT: '9000',
      GATEWAY_HOST: '0.0.0.0',
    };
    expect(config([], env)).toMatchObject({ serviceUrl: 'http://env.test', port: 9000, host: '0.0.0.0', domainToken: 'dt_env' });
    expect(config(['--port=9001', '--host', '::1'], env)).toMatchObject({ port: 9001, host: '::1', serviceUrl: 'http://env.test' });
  });

  it('names the missing or invalid flag in one line', () => {
    expect(() => parseGatewayArgs(['--service', 'http://k.test'], {})).toThrow(/--upstream \/ GATEWAY_UPSTREAM: required/);
    expect(() => parseGatewayArgs([...required, '--port', 'x'], {})).toThrow(/--port \/ GATEWAY_PORT/);
    expect(() => parseGatewayArgs([...required, '--cache-ttl', '600'], {})).toThrow(/--cache-ttl/);
    expect(() => parseGatewayArgs([...required, '--bogus'], {})).toThrow(GatewayConfigError);
  });

  it('answers --help', () => {
    expect(parseGatewayArgs(['--help'], {})).toEqual({ help: true });
  });
});
