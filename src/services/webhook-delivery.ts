// The delivery worker: fans outbox events out to endpoints, claims due attempts, signs, sends,
// records, and schedules retries. Runtime-neutral; the sender is injected (Node checks DNS).
import type { Delivery } from '../contract/webhooks.js';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { WebhookConfig } from '../config.js';
import type { Database, WebhookDeliveryRow } from '../db/schema.js';
import {
  claimDueDeliveries,
  findEventPayload,
  findWebhook,
  hasDueDelivery,
  insertDeliveryQuery,
  listEventTargets,
  listUndispatchedEvents,
  markEventDispatchedQuery,
  recordDeliveryAttempt,
} from '../db/repositories/webhooks.js';
import { inBatch } from '../db/tx.js';
import { newId, randomBase62 } from '../ids.js';
import type { Logger } from '../logger.js';
import { checkWebhookUrl } from './webhook-url.js';
import { scheduleExpiryEvents } from './webhook-events.js';
import { webhookHeaders } from './webhook-signing.js';

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** `status` for any HTTP answer (2xx succeeds); `error` when none came (timeout, refused, blocked). */
export type SendResult = { status: number; error?: undefined } | { status?: undefined; error: string };
export type Sender = (req: SendRequest) => Promise<SendResult>;

/**
 * fetch-based sender (Workers, and anywhere without a DNS hook): no redirects followed, a hard
 * timeout, and the URL re-checked before each send. It cannot see what a name resolves to; on
 * Workers, Cloudflare's network does not route to private addresses in any case.
 */
export const fetchSender: Sender = async (req) => {
  const checked = checkWebhookUrl(req.url, req.allowPrivate);
  if (!checked.url) return { error: `blocked: ${checked.refusal}` };
  try {
    const res = await fetch(checked.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status };
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    return {
      error:
        name === 'TimeoutError' || name === 'AbortError'
          ? 'timeout'
          : `network error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200),
    };
  }
};

export interface WebhookRuntime {
  db: Kysely<Database>;
  clock: Clock;
  config: WebhookConfig;
  logger: Logger;
  send: Sender;
}

/**
 * How long a claimed attempt is held before another worker may take it (after a crash mid-send):
 * well beyond the send timeout, so a slow but live worker never has its attempt taken over.
 */
export const leaseMs = (c: WebhookConfig): number => c.timeoutMs * 2 + 5000;
const BATCH = 25;

/**
 * Fans undispatched events out into one delivery per subscribed endpoint, each event in one batch
 * (deliveries + dispatched mark). Idempotent: a delivery is unique per (event, endpoint), so two
 * workers fanning out the same event write it once.
 */
export async function dispatchEvents(rt: WebhookRuntime): Promise<number> {
  const now = rt.clock.now();
  const events = await listUndispatchedEvents(rt.db, 100);
  let made = 0;
  for (const ev of events) {
    const targets = (await listEventTargets(rt.db, ev.account, ev.endpoint_id)).filter(
      (e) => ev.endpoint_id !== null || (JSON.parse(e.events) as string[]).includes(ev.type),
    );
    const steps = targets.map((t) =>
      insertDeliveryQuery(rt.db, {
        id: newId('whd', now),
        event_id: ev.id,
        endpoint_id: t.id,
        account: ev.account,
        type: ev.type,
        status: 'pending',
        next_attempt_at: now.getTime(),
        lease_token: null,
        last_status_code: null,
        last_error: null,
        created_at: now.getTime(),
        updated_at: now.getTime(),
      }),
    );
    await inBatch(rt.db, [...steps, markEventDispatchedQuery(rt.db, ev.id, now.getTime())]);
    made += targets.length;
  }
  return made;
}

/**
 * Claims up to `limit` due attempts in one statement: moves next_attempt_at to the end of a lease
 * and stamps a token. PostgreSQL locks the candidates with FOR UPDATE SKIP LOCKED, so concurrent
 * workers take disjoint rows; SQLite and D1 run the single UPDATE atomically (one writer at a time).
 * A worker that dies leaves the row to be claimed again when the lease runs out.
 */
export async function claimDue(db: Kysely<Database>, now: number, limit: number, lease: number): Promise<WebhookDeliveryRow[]> {
  return claimDueDeliveries(db, { now, limit, lease, token: randomBase62(16) });
}

/** Sends one claimed attempt and records the outcome (only while this worker still holds the lease). */
export async function deliverClaimed(rt: WebhookRuntime, d: WebhookDeliveryRow): Promise<'succeeded' | 'retry' | 'failed'> {
  const [endpoint, event] = await Promise.all([findWebhook(rt.db, d.endpoint_id), findEventPayload(rt.db, d.event_id)]);
  const attemptAt = rt.clock.now();
  let result: SendResult;
  if (!endpoint || !event) {
    result = { error: 'endpoint deleted' };
  } else {
    const secrets = [endpoint.secret];
    if (endpoint.prev_secret && endpoint.prev_expires_at !== null && Number(endpoint.prev_expires_at) > attemptAt.getTime())
      secrets.push(endpoint.prev_secret);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'siwe-keys-webhooks/1',
      ...(await webhookHeaders(secrets, event.id, Math.floor(attemptAt.getTime() / 1000), event.payload)),
    };
    result = await rt.send({
      url: endpoint.url,
      headers,
      body: event.payload,
      timeoutMs: rt.config.timeoutMs,
      allowPrivate: rt.config.allowPrivateUrls,
    });
  }
  const done = rt.clock.now().getTime();
  const attempts = Number(d.attempts) + 1;
  const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
  const schedule = rt.config.retrySchedule;
  const gone = !endpoint || !event;
  const outcome = ok ? 'succeeded' : gone || attempts > schedule.length ? 'failed' : 'retry';
  await recordDeliveryAttempt(rt.db, d.id, d.lease_token, {
    status: outcome === 'retry' ? 'pending' : outcome,
    attempts,
    next_attempt_at: outcome === 'retry' ? done + schedule[attempts - 1] * 1000 : null,
    lease_token: null,
    last_status_code: result.status ?? null,
    last_error: result.error ?? (ok ? null : `HTTP ${result.status}`),
    updated_at: done,
  });
  rt.logger.info('webhook delivery', {
    delivery_id: d.id,
    event_id: d.event_id,
    attempt: attempts,
    status: result.status ?? null,
    outcome,
    error: result.error,
  });
  return outcome;
}

export interface RunSummary {
  scheduled: number;
  dispatched: number;
  attempted: number;
}

/**
 * One pass: the expiry scheduler (when `schedule` is set), fan-out, then due attempts in batches,
 * each batch sent in parallel, until none is due (bounded by maxAttempts).
 */
export async function runWebhooksOnce(rt: WebhookRuntime, opts: { schedule?: boolean; maxAttempts?: number } = {}): Promise<RunSummary> {
  const scheduled = opts.schedule ? await scheduleExpiryEvents(rt.db, rt.clock.now()) : 0;
  const dispatched = await dispatchEvents(rt);
  let attempted = 0;
  const max = opts.maxAttempts ?? 500;
  while (attempted < max) {
    // A read first: an idle poll costs one indexed SELECT, not a write lock.
    if (!(await hasDueDelivery(rt.db, rt.clock.now().getTime()))) break;
    const claimed = await claimDue(rt.db, rt.clock.now().getTime(), Math.min(BATCH, max - attempted), leaseMs(rt.config));
    if (claimed.length === 0) break;
    await Promise.all(
      claimed.map((d) =>
        deliverClaimed(rt, d).catch((err: unknown) => rt.logger.warn('webhook delivery failed', { delivery_id: d.id, error: String(err) })),
      ),
    );
    attempted += claimed.length;
  }
  return { scheduled, dispatched, attempted };
}

/** How often the expiry scan runs inside the worker loop. */
export const SCHEDULE_EVERY_MS = 60_000;

/**
 * The Node worker loop, inside `serve`: a pass every poll interval, at once when events were just
 * written (the outbox hint), and the expiry scan at most once a minute. stop() lets the pass in
 * flight finish (each send is bounded by the timeout) and then resolves.
 */
export class WebhookWorker {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private stopped = true;
  private again = false;
  private lastSchedule = -Infinity;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly rt: WebhookRuntime,
    private readonly subscribe: (wake: () => void) => () => void,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.subscribe(() => this.wake());
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
        return;
      }
      this.timer = setTimeout(() => this.wake(), this.rt.config.pollIntervalMs);
      // Node: the poll timer must not keep the process alive (Workers' timers are plain numbers).
      (this.timer as { unref?: () => void }).unref?.();
    });
  }

  private async pass(): Promise<void> {
    try {
      const now = this.rt.clock.now().getTime();
      const schedule = now - this.lastSchedule >= SCHEDULE_EVERY_MS || now < this.lastSchedule;
      if (schedule) this.lastSchedule = now;
      await runWebhooksOnce(this.rt, { schedule });
    } catch (err) {
      this.rt.logger.warn('webhook worker pass failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** A delivery as the API shows it. */
export function deliveryView(d: WebhookDeliveryRow): Delivery {
  return {
    id: d.id,
    event_id: d.event_id,
    type: d.type,
    status: d.status,
    attempts: Number(d.attempts),
    last_status_code: d.last_status_code === null ? null : Number(d.last_status_code),
    last_error: d.last_error,
    next_attempt_at: d.next_attempt_at === null ? null : new Date(Number(d.next_attempt_at)).toISOString(),
    created_at: new Date(Number(d.created_at)).toISOString(),
  };
}
