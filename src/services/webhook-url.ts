// SSRF guard for webhook targets. Runtime-neutral: the Node sender adds a DNS check at connect time.

/** Why a URL was refused, or null when it is acceptable. */
export type UrlRefusal = 'invalid_url' | 'scheme_not_allowed' | 'credentials_in_url' | 'private_address';

function ipv4Parts(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function privateV4([a, b]: number[]): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 || // loopback
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata lives here)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

/** Expands an IPv6 literal (no brackets) to 8 16-bit groups, or null if it is not one. */
function ipv6Groups(host: string): number[] | null {
  if (!host.includes(':')) return null;
  let h = host.toLowerCase();
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  // A trailing dotted IPv4 (::ffff:1.2.3.4) becomes two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (v4) {
    const p = ipv4Parts(v4[2]);
    if (!p) return null;
    h = `${v4[1]}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const halves = h.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

function privateV6(g: number[]): boolean {
  const allZero = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (allZero(0, 8)) return true; // ::
  if (allZero(0, 7) && g[7] === 1) return true; // ::1
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
  const embedded = [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff];
  if (allZero(0, 5) && (g[5] === 0xffff || g[5] === 0)) return privateV4(embedded);
  if (g[0] === 0x64 && g[1] === 0xff9b && allZero(2, 6)) return privateV4(embedded);
  if ((g[0] & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/** True for loopback, private, link-local and other non-public IP address literals. */
export function isPrivateAddress(address: string): boolean {
  const v4 = ipv4Parts(address);
  if (v4) return privateV4(v4);
  const v6 = ipv6Groups(address);
  if (v6) return privateV6(v6);
  return false;
}

/** Host names that always mean "this machine or its network", whatever DNS says. */
function privateName(host: string): boolean {
  const h = host.replace(/\.$/, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h.endsWith('.local') ||
    h.endsWith('.internal') ||
    h.endsWith('.home.arpa') ||
    !h.includes('.')
  );
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Checks a webhook URL without DNS: the scheme (https only; http to a local host when private URLs
 * are allowed), no
 * credentials, and no private address literal or private name. A DNS name that resolves to a private
 * address is caught by the sender at connect time (and by the registration check on Node).
 */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): { url: URL; refusal: null } | { url: null; refusal: UrlRefusal } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { url: null, refusal: 'invalid_url' };
  }
  const host = hostOf(url);
  const local = isPrivateAddress(host) || (!ipv4Parts(host) && !ipv6Groups(host) && privateName(host));
  // Plain http only to a local receiver, and only when private URLs are allowed: never in the clear over the internet.
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:' && local))
    return { url: null, refusal: 'scheme_not_allowed' };
  if (url.username || url.password) return { url: null, refusal: 'credentials_in_url' };
  if (!allowPrivate && local) return { url: null, refusal: 'private_address' };
  return { url, refusal: null };
}

export const REFUSAL_MESSAGES: Record<UrlRefusal, string> = {
  invalid_url: 'The url is not a valid absolute URL.',
  scheme_not_allowed: 'The url must use https://.',
  credentials_in_url: 'The url must not contain a user name or password.',
  private_address: 'The url points at a private, loopback or link-local address, which is not allowed.',
};
