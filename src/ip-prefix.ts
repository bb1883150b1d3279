/**
 * The key a per-IP limit counts under. IPv4 addresses count one by one; an IPv6 address counts as
 * its network prefix (default /64, IPV6_RATE_LIMIT_PREFIX), because one subscriber usually holds a
 * whole /64 and could otherwise rotate through 2^64 addresses to escape any per-address limit.
 */
export function rateLimitKey(ip: string | null, ipv6Prefix: number): string | null {
  if (ip === null) return null;
  const addr = ip
    .trim()
    .replace(/%.*$/, '')
    .replace(/^\[|\]$/g, '');
  if (!addr.includes(':')) return addr;
  const hextets = expandIpv6(addr);
  if (hextets === null) return addr;
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, ipv6Prefix - i * 16));
    out.push(keep === 0 ? 0 : hextets[i] & ((0xffff << (16 - keep)) & 0xffff));
  }
  return `${out.map((h) => h.toString(16)).join(':')}/${ipv6Prefix}`;
}

/** The eight 16-bit groups of an IPv6 address (with :: and a trailing dotted IPv4), or null. */
export function expandIpv6(addr: string): number[] | null {
  let s = addr.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return null;
    s = `${s.slice(0, v4.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const nums: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      nums.push(Number.parseInt(g, 16));
    }
    return nums;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}
