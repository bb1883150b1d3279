import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database, DomainRow } from './db/schema.js';
import type { Logger } from './logger.js';
import type { DomainChecker } from './services/domain-proof.js';
import type { LastUsedTracker } from './services/last-used.js';
import type { Metrics } from './services/metrics.js';
import type { RecordCache } from './services/record-cache.js';
import type { RpmBlocks } from './services/rpm-blocks.js';
import type { SessionSigner } from './services/sessions.js';
import type { SignatureVerifier } from './services/siwe.js';
import type { VerifyStats } from './services/verify-stats.js';
import type { Actor } from './services/actor.js';

/** Everything the app needs from its runtime; entries (node.ts, worker.ts) build it. */
export interface AppDeps {
  db: Kysely<Database>;
  clock: Clock;
  config: Config;
  sessions: SessionSigner;
  verifySignature: SignatureVerifier;
  logger: Logger;
  /** Batches last_used_at writes off the verification hot path. */
  lastUsed: LastUsedTracker;
  metrics: Metrics;
  /** Node only: key and domain-token records in memory (see src/services/record-cache.ts). */
  records?: RecordCache;
  /** Node only: rpm slots claimed in blocks (see src/services/rpm-blocks.ts). */
  rpm?: RpmBlocks;
  /** Counts verification answers per domain in memory, flushed in batches (domain stats). */
  verifyStats: VerifyStats;
  /** The caller's IP as the runtime sees it (socket address on Node, CF-Connecting-IP on Workers). */
  clientIp: (c: Context) => string | null;
  /** Domain ownership proof (DNS TXT / HTTP file); the entries inject their resolver and HTTP getter. */
  domainChecker: DomainChecker;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** Who acts (set by the authenticate middleware). */
    actor: Actor;
    deps: AppDeps;
    domain: DomainRow;
  };
}
