import { describe, expect, it } from 'vitest';
import {
  KeyServiceError,
  KeyServiceUnavailable,
  type UsageBatchResult,
  type UsageReport,
  type Verifier,
} from '../../packages/client/src/index.js';
import { createLogger } from '../logger.js';
import { createKeyService, type KeyServiceOptions } from './key-service.js';

/** A @siwe-keys/client stand-in whose answers the test scripts, one per call. */
function scripted(): { client: Verifier; calls: string[]; verify: (() => unknown)[]; batch: (() => unknown)[]; single: (() => unknown)[] } {
  const calls: string[] = [];
  const verify: (() => unknown)[] = [];
  const batch: (() => unknown)[] = [];
  const single: (() => unknown)[] = [];
  const next = async <T>(queue: (() => unknown)[]): Promise<T> => {
    const f = queue.shift();
    if (!f) throw new Error('unscripted call');
    return f() as T;
  };
  const client: Verifier = {
    verify: async (req) => {
      calls.push(`verify ${req.model ?? ''}`);
      return next(verify);
    },
    reportUsage: async (u: UsageReport) => {
      calls.push(`usage ${u.request_id}`);
      return next(single);
    },
    reportUsageBatch: async (records) => {
      calls.push(`batch ${records.map((r) => r.request_id).join(',')}`);
      return next<UsageBatchResult[]>(batch);
    },
  };
  return { client, calls, verify, batch, single };
}

const options = (client: Verifier, over: Partial<KeyServiceOptions> = {}): KeyServiceOptions => ({
  client,
  logger: createLogger('error', () => undefined),
  now: () => 1_000,
  cacheTtlMs: 0,
  cacheMaxEntries: 10,
  usageAttempts: 3,
  usageRetryBaseMs: 1,
  usageTimeoutMs: 1000,
  usageConcurrency: 1,
  usageBatchSize: 2,
  usageBatchMs: 1,
  ...over,
});

const VALID = { valid: true, code: 'valid', key_id: 'key_1' };
const fail = (err: Error) => (): never => {
  throw err;
};

describe('the gateway key service over @siwe-keys/client', () => {
  it('maps the client errors: 401 -> domain token refused, timeout, unreachable, a bad answer', async () => {
    const s = scripted();
    const ks = createKeyService(options(s.client));
    s.verify.push(
      fail(new KeyServiceError('verify failed: 401', 401, 'invalid_domain_token')),
      fail(new KeyServiceUnavailable('slow', 'timeout')),
      fail(new KeyServiceUnavailable('down', 'unreachable')),
      fail(new KeyServiceUnavailable('bad', 'server_error', 502)),
      fail(new KeyServiceUnavailable('bad', 'bad_answer', 200)),
      () => VALID,
    );
    const reasons = [];
    for (let i = 0; i < 5; i++) reasons.push(await ks.verify({ key: 'sk_x', scope: 'inference:write' }));
    expect(reasons).toEqual([
      { kind: 'unavailable', reason: 'domain_token_refused' },
      { kind: 'unavailable', reason: 'timeout' },
      { kind: 'unavailable', reason: 'unreachable' },
      { kind: 'unavailable', reason: 'unreachable' },
      { kind: 'unavailable', reason: 'bad_answer' },
    ]);
    expect(await ks.verify({ key: 'sk_x', scope: 'inference:write' })).toEqual({ kind: 'answer', answer: VALID, bridged: false });
  });

  it('bridges an outage with the last valid answer for that key, scope and model only, and never a refusal', async () => {
    const s = scripted();
    const ks = createKeyService(options(s.client, { cacheTtlMs: 60_000 }));
    const down = fail(new KeyServiceUnavailable('down', 'unreachable'));
    s.verify.push(
      () => VALID,
      down,
      down,
      down,
      () => ({ valid: false, code: 'disabled' }),
      down,
    );
    const req = { key: 'sk_a', scope: 'inference:write', model: 'm' };
    await ks.verify(req);
    expect(await ks.verify(req)).toEqual({ kind: 'answer', answer: VALID, bridged: true });
    expect(await ks.verify({ ...req, key: 'sk_b' })).toEqual({ kind: 'unavailable', reason: 'unreachable' });
    expect(await ks.verify({ ...req, model: 'other' })).toEqual({ kind: 'unavailable', reason: 'unreachable' });
    await ks.verify(req); // a refusal evicts the cached answer
    expect(await ks.verify(req)).toEqual({ kind: 'unavailable', reason: 'unreachable' });
  });

  it('sends usage in batches, retries a failed batch whole, and falls back to single reports on 400 and on 404', async () => {
    const s = scripted();
    const ks = createKeyService(options(s.client));
    const ok = (ids: string[]) => (): UsageBatchResult[] =>
      ids.map((id) => ({ recorded: true, request_id: id, id: `use_${id}`, charged: 0, uncharged: 0, credits_remaining: null }));
    const receipt = () => ({ recorded: true, charged: 0, credits_remaining: null });
    s.batch.push(
      fail(new KeyServiceUnavailable('busy', 'server_error', 503)),
      ok(['r1', 'r2']),
      fail(new KeyServiceError('usage batch failed: 400', 400, 'invalid_request')),
      fail(new KeyServiceError('usage batch failed: 404', 404)),
    );
    s.single.push(receipt, receipt, receipt, receipt, receipt);
    for (const id of ['r1', 'r2']) ks.reportUsage({ key_id: 'key_1', request_id: id, cost: 1 });
    await ks.drain();
    for (const id of ['r3', 'r4']) ks.reportUsage({ key_id: 'key_1', request_id: id, cost: 1 });
    await ks.drain();
    for (const id of ['r5', 'r6']) ks.reportUsage({ key_id: 'key_1', request_id: id, cost: 1 });
    await ks.drain();
    // After a 404 the service is known to lack the batch route: single reports from then on.
    ks.reportUsage({ key_id: 'key_1', request_id: 'r7', cost: 1 });
    await ks.drain();
    expect(s.calls).toEqual([
      'batch r1,r2',
      'batch r1,r2',
      'batch r3,r4',
      'usage r3',
      'usage r4',
      'batch r5,r6',
      'usage r5',
      'usage r6',
      'usage r7',
    ]);
    expect(ks.pendingReports()).toBe(0);
  });
});
