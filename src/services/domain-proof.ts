import { expandIpv6 } from '../ip-prefix.js';

/**
 * Domain ownership proof: the owner publishes the domain's challenge in a DNS TXT record at
 * `_siwe-keys.<name>` or as the body of `<scheme>://<name>/.well-known/siwe-keys.txt`. Runtime-
 * neutral; the Node entry injects a node:dns resolver and an HTTP getter pinned to the checked
 * address (domain-proof-node.ts), Workers use DNS-over-HTTPS and fetch.
 */

export interface DomainResolver {
  /** TXT records of `name`, each record's strings joined; [] when there are none. */
  txt(name: string): Promise<string[]>;
  /** A and AAAA addresses of `name`; [] when there are none. */
  addresses(name: string): Promise<string[]>;
}

export interface ProofResponse {
  status: number;
  /** At most MAX_PROOF_BYTES of the body. */
  body: string;
}

/**
 * GETs `url` from `address` (already resolved and checked), following no redirects. Implementations
 * that can connect to a given address (Node) must, so the name cannot resolve elsewhere between the
 * check and the connection (DNS rebinding).
 */
export type ProofFetcher = (url: URL, address: string, timeoutMs: number) => Promise<ProofResponse>;

export type ProofResult = { ok: true; method: 'dns' | 'http' } | { ok: false; reasons: string[] };

export interface DomainChecker {
  check(name: string, challenge: string): Promise<ProofResult>;
}

export const PROOF_TXT_PREFIX = '_siwe-keys.';
export const PROOF_PATH = '/.well-known/siwe-keys.txt';
export const MAX_PROOF_BYTES = 4096;

export interface DomainCheckOptions {
  allowPrivate: boolean;
  httpScheme: 'https' | 'http';
  httpPort: number | undefined;
  timeoutMs: number;
}

/** True for addresses that are not on the public internet: loopback, private, link-local, CGNAT, ... */
export function isPrivateAddress(ip: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const [a, b, c] = [Number(v4[1]), Number(v4[2]), Number(v4[3])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      a >= 224 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0 && c === 0) ||
      (a === 198 && (b === 18 || b === 19))
    );
  }
  const h = expandIpv6(ip.replace(/%.*$/, ''));
  // Unparseable: treat as private (refuse) rather than guess.
  if (h === null) return true;
  if (h.every((x) => x === 0)) return true; // ::
  if (h.slice(0, 7).every((x) => x === 0) && h[7] === 1) return true; // ::1
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): judge the embedded IPv4 address.
  if ((h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) || (h[0] === 0x64 && h[1] === 0xff9b)) {
    return isPrivateAddress(`${h[6] >> 8}.${h[6] & 255}.${h[7] >> 8}.${h[7] & 255}`);
  }
  return (h[0] & 0xfe00) === 0xfc00 || (h[0] & 0xffc0) === 0xfe80 || (h[0] & 0xff00) === 0xff00 || (h[0] === 0x2001 && h[1] === 0xdb8);
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 200);

/** The proof matches when the TXT record, or the file (trimmed, or one of its lines), is exactly the challenge. */
const carries = (text: string, challenge: string): boolean =>
  text.trim() === challenge || text.split(/\r?\n/).some((l) => l.trim() === challenge);

export function createDomainChecker(resolver: DomainResolver, fetcher: ProofFetcher, opts: DomainCheckOptions): DomainChecker {
  return {
    async check(name, challenge) {
      const reasons: string[] = [];
      // 1. DNS TXT at _siwe-keys.<name>.
      try {
        const records = await withTimeout(resolver.txt(`${PROOF_TXT_PREFIX}${name}`), opts.timeoutMs, 'DNS lookup');
        if (records.some((r) => carries(r, challenge))) return { ok: true, method: 'dns' };
        reasons.push(
          records.length
            ? `no TXT record at ${PROOF_TXT_PREFIX}${name} carries the challenge`
            : `no TXT record at ${PROOF_TXT_PREFIX}${name}`,
        );
      } catch (e) {
        reasons.push(`DNS: ${errText(e)}`);
      }
      // 2. HTTP file, from an address that is checked first and then used for the connection.
      const url = new URL(`${opts.httpScheme}://${name}${opts.httpPort ? `:${opts.httpPort}` : ''}${PROOF_PATH}`);
      try {
        const addresses = await withTimeout(resolver.addresses(name), opts.timeoutMs, 'DNS lookup');
        if (addresses.length === 0) {
          reasons.push(`HTTP: ${name} has no address`);
          return { ok: false, reasons };
        }
        // Why: the check must not become a way to probe the service's own network (SSRF).
        const blocked = addresses.filter(isPrivateAddress);
        if (!opts.allowPrivate && blocked.length > 0) {
          reasons.push(`HTTP: ${name} resolves to a private or loopback address (${blocked[0]}), which is not checked`);
          return { ok: false, reasons };
        }
        const res = await withTimeout(fetcher(url, addresses[0], opts.timeoutMs), opts.timeoutMs, 'HTTP request');
        // Redirects are never followed: a redirect could point the check at an internal address.
        if (res.status >= 300 && res.status < 400) reasons.push(`HTTP: ${url} answered a redirect (${res.status}), which is not followed`);
        else if (res.status !== 200) reasons.push(`HTTP: ${url} answered ${res.status}`);
        else if (carries(res.body, challenge)) return { ok: true, method: 'http' };
        else reasons.push(`HTTP: ${url} does not carry the challenge`);
      } catch (e) {
        reasons.push(`HTTP: ${errText(e)}`);
      }
      return { ok: false, reasons };
    },
  };
}

interface DohAnswer {
  Status?: number;
  Answer?: { type: number; data: string }[];
}

/** DNS over HTTPS, JSON API (Cloudflare / Google style), so Workers can read TXT records too. */
export function dohResolver(endpoint: string, timeoutMs: number, fetchFn: typeof fetch = fetch): DomainResolver {
  async function query(name: string, type: 'TXT' | 'A' | 'AAAA'): Promise<string[]> {
    const url = new URL(endpoint);
    url.searchParams.set('name', name);
    url.searchParams.set('type', type);
    // 'manual', not 'error': Workers' fetch knows only follow and manual. A redirect is refused below.
    const res = await fetchFn(url, {
      headers: { accept: 'application/dns-json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`DNS-over-HTTPS answered ${res.status}`);
    }
    const body = (await res.json()) as DohAnswer;
    // 3 = NXDOMAIN: no records.
    if (body.Status !== undefined && body.Status !== 0 && body.Status !== 3) throw new Error(`DNS lookup failed (status ${body.Status})`);
    const code = { TXT: 16, A: 1, AAAA: 28 }[type];
    return (body.Answer ?? []).filter((a) => a.type === code).map((a) => a.data);
  }
  return {
    async txt(name) {
      // TXT data comes quoted, possibly as several quoted strings: join them as one record.
      return (await query(name, 'TXT')).map((d) => {
        const parts = [...d.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
        return parts.length ? parts.join('') : d;
      });
    },
    async addresses(name) {
      const [a, aaaa] = await Promise.all([query(name, 'A'), query(name, 'AAAA')]);
      return [...a, ...aaaa];
    },
  };
}

/**
 * fetch-based getter for runtimes that cannot pin the address (Workers): no redirects are followed
 * and the body is cut at MAX_PROOF_BYTES. Cloudflare's edge does not reach private networks.
 */
export const fetchProofFetcher: ProofFetcher = async (url, _address, timeoutMs) => {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' } });
  let body = '';
  if (res.status === 200 && res.body) {
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (size < MAX_PROOF_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
    await reader.cancel().catch(() => undefined);
    const all = new Uint8Array(Math.min(size, MAX_PROOF_BYTES));
    let off = 0;
    for (const c of chunks) {
      const part = c.subarray(0, all.length - off);
      all.set(part, off);
      off += part.length;
      if (off >= all.length) break;
    }
    body = new TextDecoder().decode(all);
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  return { status: res.status, body };
};
