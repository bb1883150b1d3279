// Node only: POST /v1/verify answered ahead of Hono and the node-server adapter (no web Request,
// no middleware chain, no promise-per-middleware), with the same answers: see src/routes/verify-http.ts.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AppDeps } from './deps.js';
import { fastPathEligible, handleVerify } from './routes/verify-http.js';

const decoder = new TextDecoder();

/** How many requests this process answered on the fast path (the equivalence test checks it was taken). */
export const fastPathStats = { served: 0 };

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (c: Uint8Array) => chunks.push(c));
    req.on('end', () => resolve(decoder.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** Wraps the adapter's listener: verification requests with a declared length take the fast path. */
export function withVerifyFastPath(deps: AppDeps, next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const h = req.headers;
    if (!fastPathEligible(req.method, req.url, h['content-length'], h['transfer-encoding'])) {
      next(req, res);
      return;
    }
    const start = performance.now();
    fastPathStats.served++;
    handleVerify(
      deps,
      {
        authorization: h.authorization,
        contentType: h['content-type'],
        contentLength: h['content-length'] as string,
        requestId: h['x-request-id'] as string | undefined,
        text: () => readText(req),
      },
      start,
    ).then(
      (out) => {
        out.headers['content-length'] = String(Buffer.byteLength(out.body));
        res.writeHead(out.status, out.headers);
        res.end(out.body);
      },
      () => {
        // handleVerify answers every error itself; this is a socket gone mid-request.
        res.destroy();
      },
    );
  };
}
