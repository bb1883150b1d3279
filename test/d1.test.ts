import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startWorkerDev, stopWorkerDev, type WorkerProcess } from './support/harness.js';

// The D1 dialect and src/db/tx.ts on a real local D1 under workerd (a probe Worker, see
// test/support/d1-probe/worker.ts), with the generated schema/d1 migrations applied.
describe.skipIf(process.env.TEST_WORKERS !== '1')('D1 dialect on workerd', () => {
  let w: WorkerProcess;
  beforeAll(async () => {
    w = await startWorkerDev({}, { config: 'test/support/d1-probe/wrangler.toml' });
  });
  afterAll(async () => {
    if (w) await stopWorkerDev(w);
  });

  /** Runs one probe of the worker (test/support/d1-probe) and answers what it reports. */
  const run = async <T = unknown>(name: string): Promise<T> => {
    const res = await fetch(`${w.base}/run/${name}`, { method: 'POST' });
    const body = await json<T>(res);
    if (res.status !== 200) throw new Error(`${name}: ${JSON.stringify(body)}`);
    return body;
  };

  it('is recognised as D1', async () => {
    expect(await run('is-d1')).toEqual({ isD1: true });
  });

  it('reports affected rows and RETURNING rows as kysely expects', async () => {
    expect(await run('affected-rows')).toEqual({
      inserted: 2,
      updated: 2,
      deletedNone: 0,
      returned: { issued_at: 1, ip: 'x' },
      remaining: 1,
    });
  });

  it('binds booleans, null, undefined and bigints', async () => {
    expect(await run('binds-values')).toEqual({ row: { t: 1, f: 0, nul: null, big: 2 ** 40 }, ip: null });
  });

  it('inBatch applies every statement and returns each result', async () => {
    expect(await run('batch-commits')).toEqual({
      affected: [1, 1, null],
      rowsOfLast: [{ credits: 70 }],
      credits: 70,
      audit: 'test.charge',
    });
  });

  it('inBatch undoes the whole batch when a later statement fails a CHECK', async () => {
    const out = await run<{ error: string; credits: number; auditWritten: boolean }>('batch-rolls-back');
    expect(out.error).toMatch(/CHECK constraint failed/i);
    expect(out.credits).toBe(100);
    expect(out.auditWritten).toBe(false);
  });

  it('inBatch undoes every step when a mustChange step changes no row, and names that step', async () => {
    expect(await run('batch-condition')).toEqual({
      failed: { name: 'BatchConditionFailed', index: 2 },
      credits: 40, // 100, untouched by the failed batch, then 30 + 30 by the good one
      auditWritten: false,
      okRows: [{ credits: 70 }],
      okAffected: [1, 1],
    });
  });

  it('never overspends: 50 concurrent charge batches against 200 credits, exactly 20 valid, windows exact', async () => {
    expect(await run('charge-race')).toEqual({ valid: 20, others: ['refused:1'], credits: 0, totalUsed: 200 });
  });

  it('refuses db.transaction() loudly instead of pretending', async () => {
    const out = await run<{ refused: boolean }>('transaction-refused');
    expect(out.refused).toBe(true);
  });

  it('a conditional UPDATE never overspends under concurrent charges', async () => {
    expect(await run('conditional-update')).toEqual({ succeeded: 2, credits: 5 });
  });
});
