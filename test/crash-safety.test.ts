import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createDomain } from './support/fixtures.js';
import { ADMIN_ACCOUNT, get, json, post, signIn, TEST_ORIGIN, type Harness, type SignedIn, httpHarness } from './support/harness.js';
import { freePort, startServeProcess } from './support/process.js';
import type { AuditEvent, Key, KeyWithSecret, Page, UsageRecord, UsageRecorded, VerifyResult } from './support/responses.js';

/**
 * What a crash may not lose. The real `siwe-keys serve` process works on a SQLite file while several
 * clients create keys and report usage; it is killed with SIGKILL (no shutdown code runs) in the
 * middle of that, restarted on the same file, and every write the clients were told about (201)
 * must be there, exactly once, in a database that passes its integrity check.
 *
 * The settings under test are in src/db/dialects/sqlite.ts: WAL with synchronous=NORMAL. A commit
 * is in the WAL (in the OS page cache) before the response is sent, so a process crash loses
 * nothing; only an OS crash or power loss could drop the last commits, which a test cannot cause.
 */

const CLIENTS = 6;
/** Kill once this many writes were acknowledged (or after KILL_AFTER_MS). */
const KILL_AFTER_WRITES = 120;
const KILL_AFTER_MS = 20_000;

type Server = Awaited<ReturnType<typeof startServeProcess>>;

interface Client {
  user: SignedIn;
  domainToken: string;
  keys: { id: string; secret: string }[];
  usage: { requestId: string; id: string; keyId: string; cost: number }[];
}

describe('crash safety of the SQLite file under SIGKILL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-crash-'));
  const file = join(dir, 'db.sqlite');
  let server: Server | undefined;

  const env = async (): Promise<NodeJS.ProcessEnv> => ({
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    PUBLIC_URL: TEST_ORIGIN,
    DATABASE_URL: `file:${file}`,
    ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
    MAX_KEYS_PER_ACCOUNT: '100000',
    LOG_LEVEL: 'warn',
  });

  const integrity = (): { integrity: unknown; foreignKeys: unknown } => {
    const db = new SqliteDatabase(file, { readonly: true });
    try {
      return { integrity: db.pragma('integrity_check'), foreignKeys: db.pragma('foreign_key_check') };
    } finally {
      db.close();
    }
  };

  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged key and usage record, once, and an intact database, across a SIGKILL mid-storm', async () => {
    server = await startServeProcess(await env());
    let h = httpHarness(server.url);

    const clients: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const user = await signIn(h);
      const domain = await createDomain(h, user.token, `crash-${i}-${Date.now().toString(36)}.example.org`);
      clients.push({ user, domainToken: domain.token, keys: [], usage: [] });
    }

    // The storm: each client alternates creating a key and reporting usage for one of its keys,
    // recording only what the server acknowledged with 201.
    let acknowledged = 0;
    let inFlight = 0;
    let killed = false;
    let inFlightAtKill = -1;
    const refusedBeforeKill: string[] = [];
    let seq = 0;
    const killNow = async (): Promise<void> => {
      if (killed) return;
      killed = true;
      inFlightAtKill = inFlight;
      await server!.stop('SIGKILL');
    };
    const timer = setTimeout(() => void killNow(), KILL_AFTER_MS);

    const storm = clients.map(async (c, ci) => {
      for (let n = 0; !killed; n++) {
        const id = `${ci}-${n}-${(seq += 1)}`;
        inFlight += 1;
        try {
          if (n % 2 === 0 || c.keys.length === 0) {
            const res = await post(h, '/v1/keys', { name: `crash-${id}` }, c.user.token);
            const body = await json<KeyWithSecret>(res);
            if (res.status === 201) {
              c.keys.push({ id: body.id, secret: body.key });
              // The domain verifies a key before it may report usage for it.
              await post(h, '/v1/verify', { key: body.key }, c.domainToken);
            } else if (!killed) refusedBeforeKill.push(`key ${res.status} ${JSON.stringify(body)}`);
            if (res.status === 201) acknowledged += 1;
          } else {
            const key = c.keys[n % c.keys.length];
            const requestId = `crash-req-${id}`;
            const cost = 1 + (n % 5);
            const res = await post(h, '/v1/usage', { key_id: key.id, request_id: requestId, cost }, c.domainToken);
            const body = await json<UsageRecorded>(res);
            if (res.status === 201) c.usage.push({ requestId, id: body.id, keyId: key.id, cost });
            else if (!killed) refusedBeforeKill.push(`usage ${res.status} ${JSON.stringify(body)}`);
            if (res.status === 201) acknowledged += 1;
          }
        } catch (err) {
          // The connection died with the process: this request's outcome is unknown to the client.
          if (!killed) throw err;
        } finally {
          inFlight -= 1;
        }
        if (acknowledged >= KILL_AFTER_WRITES) await killNow();
      }
    });
    await Promise.all(storm);
    clearTimeout(timer);

    expect(refusedBeforeKill).toEqual([]);
    // It really was mid-storm: requests were on the wire when the process died.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(acknowledged).toBeGreaterThanOrEqual(KILL_AFTER_WRITES);

    // The file as the crash left it (read-only: nothing recovers or checkpoints it before the restart).
    expect(integrity()).toEqual({ integrity: [{ integrity_check: 'ok' }], foreignKeys: [] });

    // Restart on the same file.
    server = await startServeProcess(await env());
    h = httpHarness(server.url);

    for (const c of clients) {
      // Every key whose create returned 201 verifies (sessions and domain tokens survived too).
      for (const k of c.keys) {
        const res = await post(h, '/v1/verify', { key: k.secret }, c.domainToken);
        expect(res.status).toBe(200);
        expect(await json<VerifyResult>(res), k.id).toMatchObject({ valid: true, key_id: k.id });
      }
      // Every usage record that returned 201 exists exactly once, as acknowledged.
      for (const u of c.usage) {
        const res = await get(h, `/v1/usage?request_id=${encodeURIComponent(u.requestId)}`, c.user.token);
        expect(res.status).toBe(200);
        const { data } = await json<Page<UsageRecord>>(res);
        expect(data, u.requestId).toHaveLength(1);
        expect(data[0]).toMatchObject({ id: u.id, key_id: u.keyId, cost: u.cost, charged: u.cost });
      }
      // Nothing half-written: every key that exists (acknowledged or caught in flight) has its audit
      // event, and each key's usage counter equals the sum of its usage records.
      const keys = (await json<Page<Key>>(await get(h, '/v1/keys?limit=100', c.user.token))).data;
      const audit = (await json<Page<AuditEvent>>(await get(h, '/v1/audit?limit=100', c.user.token))).data;
      const created = new Set(audit.filter((e) => e.action === 'key.create').map((e) => e.target));
      expect(keys.length).toBeLessThan(100);
      expect(new Set(keys.map((k) => k.id))).toEqual(created);
      const usage = (await json<Page<UsageRecord>>(await get(h, '/v1/usage?limit=100', c.user.token))).data;
      expect(usage.length).toBeLessThan(100);
      for (const k of keys) {
        const charged = usage.filter((u) => u.key_id === k.id).reduce((sum, u) => sum + u.charged, 0);
        expect(k.usage.total, k.id).toBe(charged);
      }
    }

    await server.stop('SIGTERM');
    server = undefined;
    expect(integrity()).toEqual({ integrity: [{ integrity_check: 'ok' }], foreignKeys: [] });
  }, 120_000);
});
