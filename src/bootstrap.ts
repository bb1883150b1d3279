import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/schema.js';
import type { AppDeps, AppEnv } from './deps.js';
import { createLogger, type Logger } from './logger.js';
import { createDomainChecker, dohResolver, fetchProofFetcher, type DomainChecker } from './services/domain-proof.js';
import { LastUsedTracker } from './services/last-used.js';
import { Metrics } from './services/metrics.js';
import { createSessionSigner } from './services/sessions.js';
import { createSignatureVerifier, type SignatureVerifier } from './services/siwe.js';
import { VerifyStats } from './services/verify-stats.js';

const DEFAULT_DOH_URL = 'https://cloudflare-dns.com/dns-query';

/** Wires the runtime-neutral dependencies; entries add their database and client-IP source. */
export async function createDeps(opts: {
  db: Kysely<Database>;
  config: Config;
  clock?: Clock;
  logger?: Logger;
  clientIp?: (c: Context<AppEnv>) => string | null;
  verifySignature?: SignatureVerifier;
  /** The Workers entry passes one that hands its flushes to waitUntil. */
  lastUsed?: LastUsedTracker;
  domainChecker?: DomainChecker;
}): Promise<AppDeps> {
  const clock = opts.clock ?? systemClock;
  const sessions = await createSessionSigner({
    db: opts.db,
    clock,
    issuer: opts.config.issuer,
    audience: opts.config.issuer,
    sessionTtlSeconds: opts.config.sessionTtlSeconds,
    configuredPrivateKey: opts.config.jwtPrivateKey,
    keyEncryptionKey: opts.config.keyEncryptionKey,
  });
  const logger = opts.logger ?? createLogger(opts.config.logLevel);
  return {
    db: opts.db,
    clock,
    config: opts.config,
    sessions,
    verifySignature: opts.verifySignature ?? createSignatureVerifier(opts.config.rpcUrls, opts.config.rpcTimeoutMs),
    logger,
    clientIp: opts.clientIp ?? (() => null),
    lastUsed: opts.lastUsed ?? new LastUsedTracker(opts.db),
    metrics: new Metrics(),
    // Default (Workers): DNS over HTTPS and fetch; node.ts injects node:dns and a pinned HTTP getter.
    domainChecker:
      opts.domainChecker ??
      createDomainChecker(
        dohResolver(opts.config.domainCheck.dohUrl ?? DEFAULT_DOH_URL, opts.config.domainCheck.timeoutMs),
        fetchProofFetcher,
        opts.config.domainCheck,
      ),
    verifyStats: new VerifyStats(opts.db, 5_000, (err) => logger.warn('verification stats flush failed', { error: String(err) })),
  };
}
