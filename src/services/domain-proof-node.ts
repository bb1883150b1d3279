// Node-only: node:dns and node:http(s). The Workers entry uses DNS over HTTPS and fetch instead.
import { Resolver } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { MAX_PROOF_BYTES, type DomainResolver, type ProofFetcher } from './domain-proof.js';

/** The system's DNS servers through node:dns (resolveTxt, resolve4/6). */
export function nodeDnsResolver(timeoutMs: number): DomainResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 1 });
  const none = (e: unknown): string[] => {
    const code = (e as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw e;
  };
  return {
    txt: async (name) => (await r.resolveTxt(name).catch(none)).map((parts) => (Array.isArray(parts) ? parts.join('') : String(parts))),
    addresses: async (name) => {
      if (isIP(name)) return [name];
      const [a, aaaa] = await Promise.all([r.resolve4(name).catch(none), r.resolve6(name).catch(none)]);
      return [...a, ...aaaa];
    },
  };
}

/**
 * GET over node:http(s) connected to the already checked address (the Host header and TLS server
 * name stay the domain's), so a second DNS answer cannot send the request elsewhere. No redirects.
 */
export const pinnedProofFetcher: ProofFetcher = (url, address, timeoutMs) =>
  new Promise((resolve, reject) => {
    const family = isIP(address);
    const lookup: LookupFunction = (_host, options, cb) => {
      if (options.all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method: 'GET', lookup, timeout: timeoutMs, headers: { accept: 'text/plain', 'user-agent': 'siwe-keys-domain-check' } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_PROOF_BYTES) chunks.push(c);
          size += c.length;
          if (size >= MAX_PROOF_BYTES) res.destroy();
        });
        const done = (): void =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_PROOF_BYTES).toString('utf8') });
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      },
    );
    req.on('timeout', () => req.destroy(new Error(`HTTP request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
