import type { Kysely } from 'kysely';
import { timingSafeEqual } from 'hono/utils/buffer';
import { pingDatabase } from '../db/repositories/health.js';
import type { Database } from '../db/schema.js';
import { AppError } from '../errors.js';

/** Liveness: the database answers, or service_unavailable. */
export async function checkHealth(db: Kysely<Database>): Promise<void> {
  try {
    await pingDatabase(db);
  } catch {
    throw new AppError('service_unavailable', 'The database does not answer.');
  }
}

/**
 * Who may read /metrics: with METRICS_TOKEN configured, a caller presenting it as the bearer token
 * (compared in constant time, as hono/bearer-auth does); without one, loopback clients only.
 */
export async function authorizeMetrics(metricsToken: string | undefined, bearer: string | null, clientIp: string | null): Promise<void> {
  if (metricsToken) {
    if (!(await timingSafeEqual(bearer ?? '', metricsToken))) {
      throw new AppError('invalid_session', 'The metrics endpoint needs Authorization: Bearer <METRICS_TOKEN>.');
    }
  } else if (!isLoopback(clientIp)) {
    // Why: metrics reveal traffic and refusal patterns; without a token only the host itself reads them.
    throw new AppError('forbidden', 'The metrics endpoint answers only loopback clients unless METRICS_TOKEN is set.');
  }
}

/** 127.0.0.0/8 or ::1 (IPv4-mapped forms arrive already unwrapped by resolveClientIp). */
export function isLoopback(ip: string | null): boolean {
  if (!ip) return false;
  const v = ip.replace(/^::ffff:/i, '');
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v) || v === '::1' || v === '0:0:0:0:0:0:0:1';
}
