/**
 * The client's IP. Behind a reverse proxy every connection comes from the proxy, so when the
 * socket peer is a trusted proxy (TRUST_PROXY), X-Forwarded-For is read from the right, skipping
 * trusted hops: the first untrusted address is the client. Entries left of it are client-supplied
 * and never believed. Without TRUST_PROXY the header is ignored (a client could forge it).
 */
const IP_SHAPE = /^[0-9a-fA-F:.]{2,45}$/;

export function resolveClientIp(peer: string | null, forwardedFor: string | undefined, trusted: string[]): string | null {
  const norm = (ip: string): string => ip.trim().replace(/^::ffff:/, '');
  const isTrusted = (ip: string): boolean => trusted.includes('*') || trusted.includes(norm(ip));
  if (!peer || trusted.length === 0 || !isTrusted(peer) || !forwardedFor) return peer ? norm(peer) : null;
  const hops = forwardedFor.split(',').map(norm).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    // A hop that is not an IP address was written by the client: stop and use the last good one.
    if (!IP_SHAPE.test(hops[i])) return i === hops.length - 1 ? norm(peer) : hops[i + 1];
    if (!isTrusted(hops[i]) || i === 0) return hops[i];
  }
  return norm(peer);
}
