const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Uniform base62 string from the CSPRNG (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const b of bytes) {
      // 248 = 62 * 4: values at or above it would bias the low digits.
      if (b < 248) out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * Time-ordered id (ULID layout: 48-bit ms time + 80 random bits, Crockford base32), so "newest
 * first" is ORDER BY id DESC and an id is a stable pagination cursor. Monotonic within a process:
 * ids made in the same millisecond increment the random part instead of drawing a new one.
 */
export function newId(prefix: string, at: Date): string {
  let t = Math.max(at.getTime(), lastTime);
  if (t === lastTime) {
    let i = lastRandom.length - 1;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]++;
  } else {
    lastTime = t;
    lastRandom = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b % 32);
    // Leave headroom so increments within one millisecond never wrap.
    lastRandom[0] &= 15;
  }
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${lastRandom.map((d) => CROCKFORD[d]).join('')}`;
}

export { BASE62 };
