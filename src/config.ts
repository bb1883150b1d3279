import { z } from 'zod';

const commaList = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

const positiveInt = z.coerce.number().int().positive();

/** Standard or URL-safe base64, padding optional (throws on bad characters). */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** KEY_ENCRYPTION_KEY: 32 bytes as base64 (standard or URL-safe, padding optional); null if not. */
export function decodeKek(value: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
  try {
    const bytes = fromBase64(value);
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

const addressRe = /^0x[0-9a-fA-F]{40}$/;

/** host[:port] as a browser's location.host gives it: a DNS name, IPv4 or [IPv6] literal. */
const authorityRe = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** The environment as the contract lists it; every field optional for a local run. */
const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Why: SIWE messages carry a bare authority; a scheme or path here would never match, and an empty
  // list would silently refuse every sign-in.
  SIWE_DOMAINS: z
    .string()
    .optional()
    .transform((s) => (s === undefined ? undefined : commaList(s)))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(authorityRe, 'expected host[:port] values without scheme or path, e.g. app.example.org')
            .transform((d) => d.toLowerCase()),
        )
        .min(1, 'expected at least one host[:port]')
        .optional(),
    ),
  SIWE_CHAIN_IDS: z
    .string()
    .default('1')
    .transform(commaList)
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[1-9]\d{0,15}$/, 'expected positive integer chain ids')
            .transform(Number),
        )
        .min(1),
    ),
  RPC_URLS: z
    .string()
    .optional()
    .transform((s, ctx) => {
      const out: Record<number, string> = {};
      for (const pair of commaList(s ?? '')) {
        const m = /^(\d+)=(https?:\/\/\S+)$/.exec(pair);
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `expected chainId=url, got "${pair}"` });
          return z.NEVER;
        }
        out[Number(m[1])] = m[2];
      }
      return out;
    }),
  DATABASE_URL: z
    .string()
    .default('file:./data/siwe-keys.db')
    .refine((s) => s === ':memory:' || s.startsWith('file:') || /^postgres(ql)?:\/\//.test(s) || s === 'd1', {
      message: 'expected file:PATH, :memory: or postgres://...',
    }),
  ADMIN_ADDRESSES: z
    .string()
    .optional()
    .transform((s) => commaList(s ?? ''))
    .pipe(z.array(z.string().regex(addressRe, 'expected 0x-prefixed 20-byte addresses'))),
  SESSION_TTL_SECONDS: positiveInt.default(86400),
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,15}$/, 'expected 1-16 lower-case letters or digits, starting with a letter')
    .default('sk'),
  TRIAL_CREDITS: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(100000),
  /** Optional PKCS#8 PEM or JWK (JSON) of the session signing key; otherwise generated once and stored. */
  JWT_PRIVATE_KEY: z.string().optional(),
  /** 32 bytes as base64: encrypts generated session signing keys in the database (AES-256-GCM). */
  KEY_ENCRYPTION_KEY: z
    .string()
    .refine((v) => decodeKek(v) !== null, 'expected 32 bytes as base64 (e.g. openssl rand -base64 32)')
    .optional(),
  BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
  MAX_KEYS_PER_ACCOUNT: positiveInt.default(100),
  MAX_DOMAINS_PER_ACCOUNT: positiveInt.default(20),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  NONCE_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(60),
  SIGNIN_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
  /** No longer used: nonces are stateless until used (accepted so existing deployments still start). */
  MAX_PENDING_NONCES: positiveInt.default(100_000),
  RPC_TIMEOUT_MS: positiveInt.max(60_000).default(5000),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((s) => commaList(s ?? ''))
    .pipe(z.array(z.string().regex(/^(\*|[0-9a-fA-F:.]+)$/, 'expected proxy IP addresses or *'))),
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((s) => commaList(s ?? ''))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected origins like https://app.example.org'))),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Key material for stateless sign-in nonces; otherwise generated once and stored in the database. */
  NONCE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  IPV6_RATE_LIMIT_PREFIX: z.coerce
    .number()
    .int()
    .min(1, 'expected a prefix length from 1 to 128')
    .max(128, 'expected a prefix length from 1 to 128')
    .default(64),
  DOMAIN_CHECK_ALLOW_PRIVATE: z
    .enum(['0', '1', 'true', 'false'], 'expected 0 or 1')
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  DOMAIN_CHECK_HTTP_SCHEME: z.enum(['https', 'http'], 'expected https or http').default('https'),
  DOMAIN_CHECK_HTTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  DOMAIN_CHECK_TIMEOUT_MS: positiveInt.max(60_000).default(5000),
  DOMAIN_CHECK_DOH_URL: z.url({ protocol: /^https?$/ }).optional(),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('5,300,1800,7200,18000,36000')
    .transform(commaList)
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^\d{1,7}$/, 'expected a comma list of seconds, e.g. 5,300,1800')
            .transform(Number),
        )
        .max(20, 'at most 20 retries'),
    ),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(['0', '1', 'true', 'false']).default('0'),
  MAX_WEBHOOKS_PER_ACCOUNT: positiveInt.default(10),
  WEBHOOK_TIMEOUT_MS: positiveInt.max(60_000).default(10_000),
  WEBHOOK_POLL_INTERVAL_MS: positiveInt.max(3_600_000).default(1000),
  WEBHOOK_SECRET_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .default(86400),
});

export type Env = Record<string, string | undefined>;

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  /** Origin of PUBLIC_URL, e.g. http://localhost:8787. */
  publicOrigin: string;
  siweDomains: string[];
  chainIds: number[];
  rpcUrls: Record<number, string>;
  databaseUrl: string;
  /** Lower-cased admin addresses. */
  adminAddresses: string[];
  sessionTtlSeconds: number;
  keyPrefix: string;
  trialCredits: number;
  jwtPrivateKey: string | undefined;
  /** Base64 of 32 bytes; encrypts generated signing keys at rest. */
  keyEncryptionKey: string | undefined;
  bodyLimitBytes: number;
  maxKeysPerAccount: number;
  maxDomainsPerAccount: number;
  /** Per client IP per minute; 0 disables. */
  nonceRateLimit: number;
  signInRateLimit: number;
  maxPendingNonces: number;
  rpcTimeoutMs: number;
  /** Proxies whose X-Forwarded-For is believed ('*': any). */
  trustProxy: string[];
  corsOrigins: string[];
  metricsToken: string | undefined;
  nonceSecret: string | undefined;
  /** IPv6 clients share one per-IP limit per network of this prefix length. */
  ipv6RateLimitPrefix: number;
  domainCheck: {
    /** Test setting: allow proof checks against private and loopback addresses. */
    allowPrivate: boolean;
    httpScheme: 'https' | 'http';
    httpPort: number | undefined;
    timeoutMs: number;
    /** DNS-over-HTTPS JSON endpoint for TXT and address lookups (Workers' only DNS; optional on Node). */
    dohUrl: string | undefined;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  webhooks: WebhookConfig;
  /** JWT issuer and audience. */
  issuer: string;
}

export interface WebhookConfig {
  /** Seconds to wait after each failed attempt; after the last, the delivery is `failed`. */
  retrySchedule: number[];
  /** Lets endpoints point at private, loopback and link-local addresses, and use http:// (tests, local setups). */
  allowPrivateUrls: boolean;
  maxPerAccount: number;
  timeoutMs: number;
  pollIntervalMs: number;
  /** How long the previous secret keeps signing after a rotation. */
  secretGraceSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws ConfigError with one line naming the variable. */
export function loadConfig(env: Env): Config {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid configuration: ${name}: ${issue.message}`);
  }
  const e = parsed.data;
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  const url = new URL(publicUrl);
  const siweDomains = e.SIWE_DOMAINS ?? [url.host];
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    publicOrigin: url.origin,
    siweDomains,
    chainIds: e.SIWE_CHAIN_IDS,
    rpcUrls: e.RPC_URLS,
    databaseUrl: e.DATABASE_URL,
    adminAddresses: e.ADMIN_ADDRESSES.map((a) => a.toLowerCase()),
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    keyPrefix: e.KEY_PREFIX,
    trialCredits: e.TRIAL_CREDITS,
    jwtPrivateKey: e.JWT_PRIVATE_KEY,
    keyEncryptionKey: e.KEY_ENCRYPTION_KEY,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    maxKeysPerAccount: e.MAX_KEYS_PER_ACCOUNT,
    maxDomainsPerAccount: e.MAX_DOMAINS_PER_ACCOUNT,
    nonceRateLimit: e.NONCE_RATE_LIMIT,
    signInRateLimit: e.SIGNIN_RATE_LIMIT,
    maxPendingNonces: e.MAX_PENDING_NONCES,
    rpcTimeoutMs: e.RPC_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    corsOrigins: e.CORS_ORIGINS,
    metricsToken: e.METRICS_TOKEN,
    nonceSecret: e.NONCE_SECRET,
    ipv6RateLimitPrefix: e.IPV6_RATE_LIMIT_PREFIX,
    domainCheck: {
      allowPrivate: e.DOMAIN_CHECK_ALLOW_PRIVATE,
      httpScheme: e.DOMAIN_CHECK_HTTP_SCHEME,
      httpPort: e.DOMAIN_CHECK_HTTP_PORT,
      timeoutMs: e.DOMAIN_CHECK_TIMEOUT_MS,
      dohUrl: e.DOMAIN_CHECK_DOH_URL,
    },
    logLevel: e.LOG_LEVEL,
    webhooks: {
      retrySchedule: e.WEBHOOK_RETRY_SCHEDULE,
      allowPrivateUrls: e.WEBHOOK_ALLOW_PRIVATE_URLS === '1' || e.WEBHOOK_ALLOW_PRIVATE_URLS === 'true',
      maxPerAccount: e.MAX_WEBHOOKS_PER_ACCOUNT,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
      secretGraceSeconds: e.WEBHOOK_SECRET_GRACE_SECONDS,
    },
    issuer: url.origin,
  };
}
