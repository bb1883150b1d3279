import type { Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('url', 'varchar(2048)', (c) => c.notNull())
    .addColumn('description', 'varchar(1024)')
    .addColumn('events', 'text', (c) => c.notNull()) // JSON array of event types
    // The signing secret itself (whsec_...): the sender needs it to sign, so it cannot be a hash.
    .addColumn('secret', 'varchar(128)', (c) => c.notNull())
    // The secret before the last rotation, still signing (a second v1 signature) until prev_expires_at.
    .addColumn('prev_secret', 'varchar(128)')
    .addColumn('prev_expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_endpoints_account_id').on('webhook_endpoints').columns(['account', 'id']).execute();

  // The outbox: one row per event, written in the same batch as the change that causes it.
  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey()) // the webhook-id header
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull()) // the exact body that is signed and sent
    // Events that must happen once (per key and window, per grant, per threshold) carry a key
    // here; INSERT ... ON CONFLICT DO NOTHING makes a repeat a no-op.
    .addColumn('dedupe_key', 'varchar(255)', (c) => c.unique())
    .addColumn('endpoint_id', 'varchar(64)') // set for webhook.test: that endpoint only
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('dispatched_at', 'bigint') // NULL until fanned out into deliveries
    .execute();
  await db.schema.createIndex('webhook_events_dispatched').on('webhook_events').columns(['dispatched_at', 'id']).execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('endpoint_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull()) // pending | succeeded | failed
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    // When the next attempt is due; while an attempt is in flight, when its lease runs out.
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('lease_token', 'varchar(64)')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'varchar(255)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('webhook_deliveries_event_endpoint', ['event_id', 'endpoint_id'])
    .execute();
  await db.schema.createIndex('webhook_deliveries_endpoint_id').on('webhook_deliveries').columns(['endpoint_id', 'id']).execute();
  await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();

  // Credit grants (trial approval, admin top-ups): account.credits_low compares the balance with
  // the last one and fires once per grant.
  await db.schema
    .createTable('webhook_credit_grants')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_credit_grants_account_id').on('webhook_credit_grants').columns(['account', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['webhook_credit_grants', 'webhook_deliveries', 'webhook_events', 'webhook_endpoints']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
