// Node only: the PostgreSQL side of the record cache. Every write site NOTIFYs inside its
// transaction (src/db/record-changes.ts); each instance LISTENs on a dedicated connection. While that
// connection is down the cache is bypassed (every verification reads the database), and when it
// comes back the cache starts empty: a change can never be missed, only cost a read.
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { RecordCache } from '../services/record-cache.js';
import { decodeChange, RECORDS_CHANNEL } from './record-changes.js';

export interface RecordListener {
  close(): Promise<void>;
}

export function listenForRecordChanges(url: string, cache: RecordCache, logger: Logger, retryMs = 1_000): RecordListener {
  let client: pg.Client | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

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
    const c = new pg.Client({ connectionString: url });
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
        if (client === c && !closed) cache.setEnabled(true);
      })
      .catch((err: unknown) => {
        logger.warn('record cache listener could not connect', { error: String(err) });
        down(c);
      });
  }

  cache.setEnabled(false);
  connect();
  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      cache.setEnabled(false);
      await c?.end().catch(() => undefined);
    },
  };
}
