import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A real local HTTP server on 127.0.0.1 with a replaceable handler; `hits` lists requested paths. */
export interface LocalServer {
  port: number;
  url: string;
  hits: string[];
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function startLocalServer(handle: LocalServer['handle'] = (_q, r) => r.writeHead(404).end()): Promise<LocalServer> {
  const s: LocalServer = { port: 0, url: '', hits: [], handle, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    s.hits.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    s.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  s.port = typeof addr === 'object' && addr ? addr.port : 0;
  s.url = `http://127.0.0.1:${s.port}`;
  s.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return s;
}

/**
 * A stub DNS for the service, served as DNS over HTTPS (the JSON API), so every target (Workers
 * included, through DOMAIN_CHECK_DOH_URL) resolves the test's names from `records`.
 */
export interface DohStub extends LocalServer {
  records: Map<string, { TXT?: string[]; A?: string[]; AAAA?: string[] }>;
  endpoint: string;
}

export async function startDohStub(): Promise<DohStub> {
  const records: DohStub['records'] = new Map();
  const codes = { TXT: 16, A: 1, AAAA: 28 } as const;
  const srv = await startLocalServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const name = (u.searchParams.get('name') ?? '').replace(/\.$/, '').toLowerCase();
    const type = (u.searchParams.get('type') ?? 'A') as keyof typeof codes;
    const rec = records.get(name);
    const data = rec?.[type] ?? [];
    const Answer = data.map((d) => ({ name, type: codes[type], TTL: 60, data: type === 'TXT' ? JSON.stringify(d) : d }));
    res.writeHead(200, { 'content-type': 'application/dns-json' });
    res.end(JSON.stringify({ Status: rec ? 0 : 3, Answer }));
  });
  return Object.assign(srv, { records, endpoint: `${srv.url}/dns-query` });
}
