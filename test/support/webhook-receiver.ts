import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver does with the n-th request (0-based): answer a status, or hang (never answer). */
export type Behaviour = (n: number, req: ReceivedWebhook) => number | 'hang';

/** A real local HTTP server that receives webhooks (the test's "customer endpoint"). */
export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  behave(b: Behaviour): void;
  /** Resolves when at least n requests arrived (polls; bounded). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(behaviour: Behaviour = () => 204, opts: { delayMs?: number } = {}): Promise<Receiver> {
  let behave = behaviour;
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedWebhook = {
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const n = received.length;
      received.push(r);
      const b = behave(n, r);
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      res.statusCode = b;
      if (opts.delayMs) setTimeout(() => res.end(), opts.delayMs);
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    behave: (b) => {
      behave = b;
    },
    waitFor: async (n, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} of ${n} requests`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
