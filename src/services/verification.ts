// POST /v1/verify once the request is validated, for every entry to it (the Hono route in
// src/routes/verify.ts, and through src/routes/verify-http.ts the Node fast path and the Workers
// pre-router): the decision (verifyKey) and its bookkeeping, so no handler counts anything itself.
// This is the hot path: every metric series is resolved once per Metrics instance, and a call
// allocates no label object or key string.
import type { DomainRow } from '../db/schema.js';
import type { AppDeps } from '../deps.js';
import type { Metrics } from './metrics.js';
import { verifyKey, type VerifyInput, type VerifyResult } from './verify.js';

type Inc = { inc(by?: number): void };
type Observe = { observe(value: number): void };

interface VerifySeries {
  /** siwe_keys_verifications_total by domain visibility, then answer code (nested: no key string per call). */
  answers: Map<string, Map<string, Inc>>;
  charges: Inc;
  credits: Inc;
  /** The request latency of the fast paths, by status class (the Hono route's is the access log's). */
  latency: Observe[];
}

const seriesByMetrics = new WeakMap<Metrics, VerifySeries>();

function seriesOf(metrics: Metrics): VerifySeries {
  let s = seriesByMetrics.get(metrics);
  if (!s) {
    s = {
      answers: new Map(),
      charges: metrics.charges.series({ source: 'verify' }),
      credits: metrics.credits.series({ source: 'verify' }),
      latency: [],
    };
    seriesByMetrics.set(metrics, s);
  }
  return s;
}

/** The decision and its counters: answers by code and visibility, the domain's stats, verify charges. */
export async function runVerification(
  deps: AppDeps,
  domain: Pick<DomainRow, 'id' | 'visibility'>,
  input: VerifyInput,
): Promise<VerifyResult> {
  const now = deps.clock.now();
  const res = await verifyKey(
    { db: deps.db, keyPrefix: deps.config.keyPrefix, lastUsed: deps.lastUsed, records: deps.records, rpm: deps.rpm },
    domain,
    input,
    now,
  );
  const s = seriesOf(deps.metrics);
  let byCode = s.answers.get(domain.visibility);
  if (!byCode) s.answers.set(domain.visibility, (byCode = new Map()));
  let answers = byCode.get(res.code);
  if (!answers) byCode.set(res.code, (answers = deps.metrics.verifications.series({ code: res.code, visibility: domain.visibility })));
  answers.inc();
  // The domain's stats: counted in memory, written in batches (never a write per verification).
  deps.verifyStats.record(domain.id, res.code, res.valid ? res.charged : 0, now.getTime());
  if (res.valid && res.charged > 0) {
    s.charges.inc();
    s.credits.inc(res.charged);
  }
  return res;
}

/**
 * The fast paths' latency observation for POST /v1/verify (what the access-log middleware records
 * for a request that goes through Hono), in seconds.
 */
export function observeVerifyLatency(metrics: Metrics, status: number, seconds: number): void {
  const latency = seriesOf(metrics).latency;
  const cls = Math.floor(status / 100);
  (latency[cls] ??= metrics.requests.handle({ route: '/v1/verify', method: 'POST', status: `${cls}xx` })).observe(seconds);
}
