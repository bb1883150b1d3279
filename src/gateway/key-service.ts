import {
  KeyServiceError,
  KeyServiceUnavailable,
  sha256Hex,
  type UsageReport as ClientUsageReport,
  type Verifier,
} from '../../packages/client/src/index.js';
import type { Logger } from '../logger.js';

export interface RateLimit {
  /** null when the key has no requests-per-minute limit. */
  limit: number | null;
  remaining: number | null;
  /** When the window resets: seconds from now (the service's form), epoch seconds or milliseconds, or an RFC 3339 time. */
  reset: number | string;
}

export type VerifyAnswer =
  | {
      valid: true;
      code: 'valid';
      key_id: string;
      account?: string;
      type?: string;
      scopes?: string[];
      /** The key's model allow-list; null when any model is allowed. */
      models?: string[] | null;
      expires_at?: string | null;
      credits_remaining?: number | null;
      ratelimit?: RateLimit;
    }
  | { valid: false; code: string; message?: string; ratelimit?: RateLimit };

export type VerifyOutcome =
  | {
      kind: 'answer';
      answer: VerifyAnswer /** true when the answer came from the bridge cache because the service was unreachable */;
      bridged: boolean;
    }
  | { kind: 'unavailable'; reason: 'unreachable' | 'timeout' | 'domain_token_refused' | 'bad_answer' };

export type UsageReport = ClientUsageReport & { cost: number };

export interface KeyServiceOptions {
  /**
   * The one HTTP client of the key service (@siwe-keys/client, built with positiveTtlMs 0: every
   * verification is asked, so rate limits and charges stay exact). Its transport decides how calls
   * travel: a keep-alive undici Pool on Node, fetch elsewhere.
   */
  client: Verifier;
  logger: Logger;
  now: () => number;
  /** 0 disables the bridge cache. */
  cacheTtlMs: number;
  cacheMaxEntries: number;
  usageAttempts: number;
  usageRetryBaseMs: number;
  usageTimeoutMs: number;
  /** Batches in flight at once (the rest wait in order). */
  usageConcurrency: number;
  /** Records per POST /v1/usage/batch (at most 100, the service's bound). */
  usageBatchSize: number;
  /** How long a report may wait for others to fill its batch. */
  usageBatchMs: number;
  /** Keeps a report alive past the response where the runtime needs it (Workers' ctx.waitUntil). */
  waitUntil?: (p: Promise<unknown>) => void;
}

export interface KeyService {
  verify(req: { key: string; scope: string; model?: string; cost?: number }): Promise<VerifyOutcome>;
  /** Queues a usage report; never throws, never blocks the caller. */
  reportUsage(report: UsageReport): void;
  /** Sends what is queued now, and resolves when every usage report has been delivered or given up on. */
  drain(): Promise<void>;
  pendingReports(): number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Client of the key service's domain endpoints (POST /v1/verify, POST /v1/usage). */
export function createKeyService(o: KeyServiceOptions): KeyService {
  // Positive answers by (scope, model, key), used only while the service cannot be reached, so rate
  // limits and charges stay exact whenever it answers. Insertion order doubles as LRU order.
  const cache = new Map<string, { answer: VerifyAnswer; at: number }>();

  const remember = (id: string, answer: VerifyAnswer): void => {
    if (o.cacheTtlMs <= 0) return;
    cache.delete(id);
    if (!answer.valid) return; // negative answers are never cached, and they evict a positive one
    cache.set(id, { answer, at: o.now() });
    if (cache.size > o.cacheMaxEntries) cache.delete(cache.keys().next().value as string);
  };

  const bridge = (id: string): VerifyAnswer | undefined => {
    if (o.cacheTtlMs <= 0) return undefined;
    const hit = cache.get(id);
    if (!hit) return undefined;
    if (o.now() - hit.at > o.cacheTtlMs) {
      cache.delete(id);
      return undefined;
    }
    return hit.answer;
  };

  async function verify(req: { key: string; scope: string; model?: string; cost?: number }): Promise<VerifyOutcome> {
    // The bridge cache is keyed by a hash of the key, never the key itself; hashed only when the cache is on.
    const id = o.cacheTtlMs > 0 ? `${req.scope}\n${req.model ?? ''}\n${await sha256Hex(req.key)}` : '';
    const unavailable = (reason: 'unreachable' | 'timeout' | 'bad_answer'): VerifyOutcome => {
      const cached = bridge(id);
      return cached ? { kind: 'answer', answer: cached, bridged: true } : { kind: 'unavailable', reason };
    };
    let body: VerifyAnswer;
    try {
      body = (await o.client.verify(req as Parameters<Verifier['verify']>[0])) as VerifyAnswer;
    } catch (err) {
      if (err instanceof KeyServiceError && err.status === 401) {
        o.logger.error('key service refused the domain token; check GATEWAY_DOMAIN_TOKEN', { status: 401 });
        return { kind: 'unavailable', reason: 'domain_token_refused' };
      }
      if (err instanceof KeyServiceUnavailable && (err.reason === 'timeout' || err.reason === 'unreachable')) {
        o.logger.warn('key service unreachable', { error: err.reason === 'timeout' ? 'TimeoutError' : 'error', reason: err.reason });
        return unavailable(err.reason);
      }
      const status = err instanceof KeyServiceError || err instanceof KeyServiceUnavailable ? err.status : undefined;
      o.logger.warn('key service gave no usable verify answer', { status });
      return unavailable(status !== undefined && status >= 500 ? 'unreachable' : 'bad_answer');
    }
    remember(id, body);
    return { kind: 'answer', answer: body, bridged: false };
  }

  /** The status a failed call had (0: none, the service was not reached or gave no usable answer). */
  const statusOf = (err: unknown): number =>
    err instanceof KeyServiceError
      ? err.status
      : err instanceof KeyServiceUnavailable
        ? err.reason === 'bad_answer'
          ? 0
          : (err.status ?? 0)
        : 0;

  /** POST /v1/usage for one report, with retries under the same request id (the service is idempotent by it). */
  async function deliverOne(report: UsageReport): Promise<void> {
    for (let attempt = 1; attempt <= o.usageAttempts; attempt++) {
      let status = 0;
      try {
        await o.client.reportUsage(report, { timeoutMs: o.usageTimeoutMs });
        o.logger.debug('usage reported', { request_id: report.request_id, key_id: report.key_id, cost: report.cost, attempt });
        return;
      } catch (err) {
        // network error or timeout: the service may still have stored it; the retry is idempotent
        status = statusOf(err);
        // A 4xx other than 408/429 will not change on a retry: the report itself is wrong.
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
      }
      if (!(await backOff(attempt, { request_id: report.request_id, key_id: report.key_id, status }))) break;
    }
    dropped(report);
  }

  // Everything needed to charge it by hand later; nothing secret.
  const dropped = (report: UsageReport, code?: string): void =>
    o.logger.error('usage report dropped', { ...report, ...(code ? { code } : {}) });

  /** Waits before the next attempt; false when this was the last one. */
  async function backOff(attempt: number, fields: Record<string, unknown>): Promise<boolean> {
    if (attempt >= o.usageAttempts) {
      o.logger.warn('usage report failed', { ...fields, attempt });
      return false;
    }
    o.logger.warn('usage report failed, retrying', { ...fields, attempt });
    await sleep(Math.min(o.usageRetryBaseMs * 2 ** (attempt - 1), 30_000));
    return true;
  }

  // A service without POST /v1/usage/batch (older than this gateway) gets one POST /v1/usage per report.
  let batchRoute = true;

  async function deliverSingly(reports: UsageReport[]): Promise<void> {
    for (let i = 0; i < reports.length; i += 16) await Promise.all(reports.slice(i, i + 16).map((r) => deliverOne(r)));
  }

  /** One POST /v1/usage/batch, retried whole under the same request ids until the service answers it. */
  async function deliverBatch(reports: UsageReport[]): Promise<void> {
    if (!batchRoute) return deliverSingly(reports);
    for (let attempt = 1; attempt <= o.usageAttempts; attempt++) {
      let status = 0;
      try {
        const results = await o.client.reportUsageBatch(reports, { timeoutMs: o.usageTimeoutMs });
        results.forEach((r, i) => {
          const report = reports[i];
          if (r && r.recorded === true)
            o.logger.debug('usage reported', { request_id: report.request_id, key_id: report.key_id, cost: report.cost, attempt });
          else dropped(report, typeof r?.error?.code === 'string' ? r.error.code : 'refused');
        });
        return;
      } catch (err) {
        // network error, timeout or an answer we cannot read: the service may still have stored it; the retry is idempotent
        status = statusOf(err);
        if (status === 404 || status === 405) {
          batchRoute = false;
          o.logger.info('the key service has no POST /v1/usage/batch; reporting usage one request at a time');
          return deliverSingly(reports);
        }
        // One bad record must not take the others with it: each goes alone, and only a bad one is dropped.
        if (status === 400 || status === 413) return deliverSingly(reports);
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
      }
      if (!(await backOff(attempt, { records: reports.length, first_request_id: reports[0].request_id, status }))) break;
    }
    for (const r of reports) dropped(r);
  }

  // Reports wait up to usageBatchMs to share a call, and at most usageConcurrency batches are in
  // flight: a slow key service gets a steady trickle, not a connection per request. The queue itself
  // is unbounded: a report is never dropped for being late.
  let pending: UsageReport[] = [];
  const batches: UsageReport[][] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let active = 0;
  let idle: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let inBatches = 0;

  const pump = (): void => {
    while (active < o.usageConcurrency && batches.length) {
      const batch = batches.shift() as UsageReport[];
      active++;
      void deliverBatch(batch)
        .catch(() => undefined)
        .finally(() => {
          active--;
          inBatches -= batch.length;
          pump();
        });
    }
    if (active === 0 && batches.length === 0 && pending.length === 0 && wake) {
      wake();
      wake = null;
      idle = null;
    }
  };

  const flush = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    while (pending.length) {
      const batch = pending.slice(0, o.usageBatchSize);
      pending = pending.slice(batch.length);
      batches.push(batch);
      inBatches += batch.length;
    }
    pump();
  };

  return {
    verify,
    reportUsage(report) {
      pending.push(report);
      if (!idle) {
        idle = new Promise<void>((r) => (wake = r));
        o.waitUntil?.(idle);
      }
      if (pending.length >= o.usageBatchSize) flush();
      else if (!timer) timer = setTimeout(flush, o.usageBatchMs);
    },
    drain: () => {
      flush();
      return idle ?? Promise.resolve();
    },
    pendingReports: () => pending.length + inBatches,
  };
}
