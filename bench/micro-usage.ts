// In-process CPU cost of recording usage (POST /v1/usage/batch through app.request, no sockets) on a
// SQLite file in WAL mode, per record, for batches of 1, 20 and 100 records: the key service's share
// of every gateway request (issue 11). Measured in CPU time, so it stays meaningful on a busy machine.
// Run: npx tsx bench/micro-usage.ts   (MICRO_RECORDS, default 20000 records per batch size)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcessService } from './session.js';

const RECORDS = Number(process.env.MICRO_RECORDS ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-micro-usage-'));
const { svc, req, session } = await inProcessService(`file:${join(dir, 'keys.db')}`);
const domain = (await session.post('/v1/domains', { name: 'micro.example.org' })) as { token: string };
const key = (await session.post('/v1/keys', { name: 'micro' })) as { key: string; id: string };
// The domain must have verified the key before it may report usage for it.
const verified = (await (await req('/v1/verify', { key: key.key }, domain.token)).json()) as { valid: boolean };
if (!verified.valid) throw new Error('the bench key does not verify');

let seq = 0;
const record = (): Record<string, unknown> => ({
  key_id: key.id,
  request_id: `req_${++seq}`,
  model: 'llama-3-8b',
  input_tokens: 12,
  output_tokens: 3,
  cost: 1,
});

async function cpuPerRecord(batch: number): Promise<number> {
  const send = async (): Promise<void> => {
    const res = await req('/v1/usage/batch', { records: Array.from({ length: batch }, record) }, domain.token);
    if (res.status !== 200) throw new Error(`usage batch: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < Math.max(1, 500 / batch); i++) await send();
  const calls = Math.max(1, Math.round(RECORDS / batch));
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await send();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (calls * batch);
}

const out: string[] = [];
for (const batch of process.env.MICRO_ONLY ? [Number(process.env.MICRO_ONLY)] : [1, 20, 100])
  out.push(`batch ${batch}: ${(await cpuPerRecord(batch)).toFixed(0)} µs`);
console.log(`in-process CPU per usage record (POST /v1/usage/batch, SQLite file): ${out.join(', ')}`);
await svc.close();
if (process.env.MICRO_KEEP) console.log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
