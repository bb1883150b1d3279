import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Env } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startNodeServer, type NodeService } from '../../src/node.js';
import { ADMIN_ACCOUNT, TEST_ORIGIN, type Harness } from './harness.js';

/** The real Node server on a free port with a temp SQLite file, plus a Harness that talks HTTP to it. */
export async function startRealServer(env: Env = {}): Promise<{ svc: NodeService; url: string; h: Harness; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-srv-'));
  const logs: string[] = [];
  const config = loadConfig({
    PORT: '0',
    PUBLIC_URL: TEST_ORIGIN,
    DATABASE_URL: `file:${join(dir, 'db.sqlite')}`,
    ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
    LOG_LEVEL: 'debug',
    NONCE_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
    ...env,
  });
  const svc = await startNodeServer(config, { logger: createLogger('debug', (l) => logs.push(l)) });
  const url = svc.url as string;
  const close = async (): Promise<void> => {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const h: Harness = { name: 'node-http', logs, request: (p, init) => fetch(new URL(p, url), init), close };
  return { svc, url, h, close };
}
