import { z } from 'zod';
import type { LogLevel } from '../logger.js';

export const GATEWAY_USAGE = `usage: siwe-keys gateway --service URL --upstream URL --domain-token TOKEN [options]

An OpenAI-compatible reverse proxy that checks siwe-keys API keys in front of an inference server.
Every flag has an environment variable; a flag wins over its variable.

  --service URL            GATEWAY_SERVICE_URL        the siwe-keys service (required)
  --upstream URL           GATEWAY_UPSTREAM           the OpenAI-compatible server (required)
  --domain-token TOKEN     GATEWAY_DOMAIN_TOKEN       this domain's token (required; prefer the variable:
                                                      flags are visible in the process list)
  --port N                 GATEWAY_PORT               listen port (default 8788)
  --host H                 GATEWAY_HOST               listen address (default 127.0.0.1)
  --pricing FILE           GATEWAY_PRICING            JSON cost table, see the README
  --price-input N          GATEWAY_PRICE_INPUT        default credits per 1K input tokens (default 0)
  --price-output N         GATEWAY_PRICE_OUTPUT       default credits per 1K output tokens (default 0)
  --price-request N        GATEWAY_PRICE_REQUEST      default credits per request, charged at verification (default 0)
  --upstream-key KEY       GATEWAY_UPSTREAM_KEY       sent upstream as "Authorization: Bearer KEY"
  --cache-ttl SECONDS      GATEWAY_CACHE_TTL          reuse a positive verification for up to this long while
                                                      the key service is unreachable (0-60, default 0: off)
  --verify-timeout-ms N    GATEWAY_VERIFY_TIMEOUT_MS  fail closed (503) after this long (default 5000)
  --max-body-bytes N       GATEWAY_MAX_BODY_BYTES     largest request body read for its model (default 8388608)
  --include-stream-usage   GATEWAY_INCLUDE_STREAM_USAGE=1  ask the upstream for usage on streams
  --log-level LEVEL        GATEWAY_LOG_LEVEL          debug, info, warn, error, silent (default info)
  --workers N              GATEWAY_WORKERS            processes sharing the port (default 1; auto = one per core)
`;

const FLAGS = {
  service: 'GATEWAY_SERVICE_URL',
  upstream: 'GATEWAY_UPSTREAM',
  'domain-token': 'GATEWAY_DOMAIN_TOKEN',
  port: 'GATEWAY_PORT',
  host: 'GATEWAY_HOST',
  pricing: 'GATEWAY_PRICING',
  'price-input': 'GATEWAY_PRICE_INPUT',
  'price-output': 'GATEWAY_PRICE_OUTPUT',
  'price-request': 'GATEWAY_PRICE_REQUEST',
  'upstream-key': 'GATEWAY_UPSTREAM_KEY',
  'cache-ttl': 'GATEWAY_CACHE_TTL',
  'verify-timeout-ms': 'GATEWAY_VERIFY_TIMEOUT_MS',
  'max-body-bytes': 'GATEWAY_MAX_BODY_BYTES',
  'include-stream-usage': 'GATEWAY_INCLUDE_STREAM_USAGE',
  'log-level': 'GATEWAY_LOG_LEVEL',
  workers: 'GATEWAY_WORKERS',
} as const;

type Flag = keyof typeof FLAGS;
const BOOLEAN_FLAGS = new Set<Flag>(['include-stream-usage']);

const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });
const credits = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();

const schema = z.object({
  GATEWAY_SERVICE_URL: httpUrl,
  GATEWAY_UPSTREAM: httpUrl,
  GATEWAY_DOMAIN_TOKEN: z.string().min(1),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8788),
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PRICING: z.string().min(1).optional(),
  GATEWAY_PRICE_INPUT: credits,
  GATEWAY_PRICE_OUTPUT: credits,
  GATEWAY_PRICE_REQUEST: credits,
  GATEWAY_UPSTREAM_KEY: z.string().min(1).optional(),
  GATEWAY_CACHE_TTL: z.coerce.number().int().min(0).max(60).default(0),
  GATEWAY_VERIFY_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(5000),
  GATEWAY_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  GATEWAY_INCLUDE_STREAM_USAGE: z
    .enum(['1', 'true', '0', 'false'], { message: 'expected 1/true or 0/false' })
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  GATEWAY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  GATEWAY_WORKERS: z
    .string()
    .regex(/^(auto|0*[1-9][0-9]{0,2})$/, 'expected a whole number from 1 to 256, or "auto" (one per core)')
    .refine((v) => v === 'auto' || Number(v) <= 256, 'expected a whole number from 1 to 256, or "auto" (one per core)')
    .default('1'),
});

export interface GatewayConfig {
  serviceUrl: string;
  upstream: string;
  domainToken: string;
  port: number;
  host: string;
  pricingFile: string | undefined;
  defaultPrice: { input?: number; output?: number; request?: number };
  upstreamKey: string | undefined;
  cacheTtlSeconds: number;
  verifyTimeoutMs: number;
  maxBodyBytes: number;
  includeStreamUsage: boolean;
  logLevel: LogLevel;
  /** Processes serving the port: a count, or "auto" (one per core, resolved where it runs). */
  workers: string;
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
}

/** `help: true` when --help was asked for. Throws GatewayConfigError with one line naming the flag. */
export function parseGatewayArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): { help: true } | { help: false; config: GatewayConfig } {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && Object.values(FLAGS).includes(k as never)) values[k] = v;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m || !Object.hasOwn(FLAGS, m[1])) throw new GatewayConfigError(`unknown argument: ${arg} (see --help)`);
    const flag = m[1] as Flag;
    let value = m[2];
    if (value === undefined) {
      if (BOOLEAN_FLAGS.has(flag)) value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new GatewayConfigError(`invalid configuration: --${flag}: expected a value`);
      }
    }
    values[FLAGS[flag]] = value;
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0]);
    const flag = Object.entries(FLAGS).find(([, v]) => v === name)?.[0];
    const what = issue.code === 'invalid_type' && values[name] === undefined ? 'required' : issue.message;
    throw new GatewayConfigError(`invalid configuration: --${flag} / ${name}: ${what}`);
  }
  const e = parsed.data;
  return {
    help: false,
    config: {
      serviceUrl: e.GATEWAY_SERVICE_URL,
      upstream: e.GATEWAY_UPSTREAM,
      domainToken: e.GATEWAY_DOMAIN_TOKEN,
      port: e.GATEWAY_PORT,
      host: e.GATEWAY_HOST,
      pricingFile: e.GATEWAY_PRICING,
      defaultPrice: { input: e.GATEWAY_PRICE_INPUT, output: e.GATEWAY_PRICE_OUTPUT, request: e.GATEWAY_PRICE_REQUEST },
      upstreamKey: e.GATEWAY_UPSTREAM_KEY,
      cacheTtlSeconds: e.GATEWAY_CACHE_TTL,
      verifyTimeoutMs: e.GATEWAY_VERIFY_TIMEOUT_MS,
      maxBodyBytes: e.GATEWAY_MAX_BODY_BYTES,
      includeStreamUsage: e.GATEWAY_INCLUDE_STREAM_USAGE,
      logLevel: e.GATEWAY_LOG_LEVEL,
      workers: e.GATEWAY_WORKERS,
    },
  };
}
