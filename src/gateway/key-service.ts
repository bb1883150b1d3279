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
  | { kind: 'answer'; answer: VerifyAnswer; /** true when the answer came from the bridge cache because the service was unreachable */ bridged: boolean }
  | { kind: 'unavailable'; reason: 'unreachable' | 'timeout' | 'domain_token_refused' | 'bad_answer' };

export interface UsageReport {
  key_id: string;
  request_id: string;
  cost: number;
  model?: string;
  input_tokens?: number;
  output_tokens?: number;
}

export interface KeyServiceOptions {
  serviceUrl: string;
  domainToken: string;
  fetch: typeof fetch;
  logger: Logger;
  now: () => number;
  verifyTimeoutMs: number;
  /** 0 disables the bridge cache. */
  cacheTtlMs: number;
  cacheMaxEntries: number;
  usageAttempts: number;
  usageRetryBaseMs: number;
  usageTimeoutMs: number;
  /** Reports in flight at once (the rest wait in order). */
  usageConcurrency: number;
  /** Keeps a report alive past the response where the runtime needs it (Workers' ctx.waitUntil). */
  waitUntil?: (p: Promise<unknown>) => void;
}

export interface KeyService {
  verify(req: { key: string; scope: string; model?: string; cost?: number }): Promise<VerifyOutcome>;
  /** Queues a usage report; never throws, never blocks the caller. */
  reportUsage(report: UsageReport): void;
  /** Resolves when every queued usage report has been delivered or given up on. */
  drain(): Promise<void>;
  pendingReports(): number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isVerifyAnswer(v: unknown): v is VerifyAnswer {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  if (o.valid === true) return typeof o.key_id === 'string';
  return o.valid === false && typeof o.code === 'string';
}

/** Client of the key service's domain endpoints (POST /v1/verify, POST /v1/usage). */
export function createKeyService(o: KeyServiceOptions): KeyService {
  const base = o.serviceUrl.replace(/\/+$/, '');
  const auth = `Bearer ${o.domainToken}`;
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
    const id = `${req.scope}\n${req.model ?? ''}\n${req.key}`;
    const unavailable = (reason: 'unreachable' | 'timeout' | 'bad_answer'): VerifyOutcome => {
      const cached = bridge(id);
      return cached ? { kind: 'answer', answer: cached, bridged: true } : { kind: 'unavailable', reason };
    };
    let res: Response;
    try {
      res = await o.fetch(`${base}/v1/verify`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(o.verifyTimeoutMs),
      });
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      o.logger.warn('key service unreachable', { error: err instanceof Error ? err.name : 'error', reason: timeout ? 'timeout' : 'unreachable' });
      return unavailable(timeout ? 'timeout' : 'unreachable');
    }
    if (res.status === 401) {
      await res.body?.cancel();
      o.logger.error('key service refused the domain token; check GATEWAY_DOMAIN_TOKEN', { status: 401 });
      return { kind: 'unavailable', reason: 'domain_token_refused' };
    }
    let body: unknown;
    try {
      body = res.ok ? await res.json() : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok || !isVerifyAnswer(body)) {
      if (res.ok === false) await res.body?.cancel().catch(() => undefined);
      o.logger.warn('key service gave no usable verify answer', { status: res.status });
      return unavailable(res.status >= 500 ? 'unreachable' : 'bad_answer');
    }
    remember(id, body);
    return { kind: 'answer', answer: body, bridged: false };
  }

  async function deliver(report: UsageReport): Promise<void> {
    for (let attempt = 1; attempt <= o.usageAttempts; attempt++) {
      let status = 0;
      try {
        const res = await o.fetch(`${base}/v1/usage`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify(report),
          signal: AbortSignal.timeout(o.usageTimeoutMs),
        });
        status = res.status;
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          o.logger.debug('usage reported', { request_id: report.request_id, key_id: report.key_id, cost: report.cost, attempt });
          return;
        }
        // A 4xx other than 408/429 will not change on a retry: the report itself is wrong.
        if (status < 500 && status !== 408 && status !== 429) break;
      } catch {
        status = 0; // network error or timeout: the service may still have stored it; the retry is idempotent
      }
      if (attempt < o.usageAttempts) {
        o.logger.warn('usage report failed, retrying', { request_id: report.request_id, key_id: report.key_id, attempt, status });
        await sleep(Math.min(o.usageRetryBaseMs * 2 ** (attempt - 1), 30_000));
      } else {
        o.logger.warn('usage report failed', { request_id: report.request_id, key_id: report.key_id, attempt, status });
      }
    }
    // Everything needed to charge it by hand later; nothing secret.
    o.logger.error('usage report dropped', { ...report });
  }

  // At most usageConcurrency reports in flight: a slow key service gets a steady trickle, not a
  // connection per request. The queue itself is unbounded: a report is never dropped for being late.
  const queue: UsageReport[] = [];
  let active = 0;
  let idle: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  const pump = (): void => {
    while (active < o.usageConcurrency && queue.length) {
      const report = queue.shift() as UsageReport;
      active++;
      void deliver(report)
        .catch(() => undefined)
        .finally(() => {
          active--;
          pump();
        });
    }
    if (active === 0 && queue.length === 0 && wake) {
      wake();
      wake = null;
      idle = null;
    }
  };

  return {
    verify,
    reportUsage(report) {
      queue.push(report);
      if (!idle) idle = new Promise<void>((r) => (wake = r));
      o.waitUntil?.(idle);
      pump();
    },
    drain: () => idle ?? Promise.resolve(),
    pendingReports: () => active + queue.length,
  };
}
