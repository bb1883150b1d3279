// Node only: the PostgreSQL side of the record cache. Every write site NOTIFYs inside its
// transaction (src/db/record-changes.ts); each instance LISTENs on a dedicated connection. While that
// connection is down the cache is bypassed (every verification reads the database), and when it
// comes back the cache starts empty: a change can never be missed, only cost a read.
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { RecordCache } from '../services/record-cache.js';
import { decodeChange, RECORDS_CHANNEL } from './record-changes.js';

export interface RecordListener {
  /** Resolves when the first LISTEN is in place (the cache is on); never rejects. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * A connection can also die silently (a network partition sends no error): a heartbeat query every
 * `heartbeatMs` that does not answer within `heartbeatMs` counts as a lost connection. So a change
 * reaches this instance at once while connected, and otherwise the cache is off within 2 x heartbeatMs.
 */
export function listenForRecordChanges(
  url: string,
  cache: RecordCache,
  logger: Logger,
  opts: { retryMs?: number; heartbeatMs?: number } = {},
): RecordListener {
  const retryMs = opts.retryMs ?? 1_000;
  const heartbeatMs = opts.heartbeatMs ?? 5_000;
  let client: pg.Client | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const heartbeat = setInterval(() => {
    const c = client;
    if (!c || !cache.active) return;
    const deadline = setTimeout(() => {
      logger.warn('record cache listener stopped answering; verifying from the database until it is back');
      down(c);
    }, heartbeatMs);
    deadline.unref();
    c.query('SELECT 1').then(
      () => clearTimeout(deadline),
      () => undefined,
    );
  }, heartbeatMs);
  heartbeat.unref();

  const down = (c: pg.Client): void => {
    if (client !== c) return;
    client = null;
    cache.setEnabled(false);
    c.end().catch(() => undefined);
    if (!closed) {
      timer = setTimeout(connect, retryMs);
      timer.unref();
    }
  };

  function connect(): void {
    // Named per process, so an operator (or a test) can tell the listeners apart in pg_stat_activity.
    const c = new pg.Client({ connectionString: url, application_name: `siwe-keys-listener-${process.pid}` });
    client = c;
    c.on('error', (err) => {
      logger.warn('record cache listener lost its connection; verifying from the database until it is back', { error: String(err) });
      down(c);
    });
    c.on('end', () => down(c));
    c.on('notification', (n) => {
      const change = n.channel === RECORDS_CHANNEL && n.payload ? decodeChange(n.payload) : null;
      if (change) cache.apply(change);
    });
    c.connect()
      .then(() => c.query(`LISTEN ${RECORDS_CHANNEL}`))
      .then(() => {
        // Listening from now on: start from an empty cache (changes before this were not heard).
        if (client === c && !closed) {
          cache.setEnabled(true);
          markReady();
        }
      })
      .catch((err: unknown) => {
        logger.warn('record cache listener could not connect', { error: String(err) });
        down(c);
      });
  }

  cache.setEnabled(false);
  connect();
  return {
    ready,
    close: async () => {
      closed = true;
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      cache.setEnabled(false);
      await c?.end().catch(() => undefined);
    },
  };
}
