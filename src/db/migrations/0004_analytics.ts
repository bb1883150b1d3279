import { sql, type Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.

/** One hour in milliseconds: the grain of both roll-up tables. */
const HOUR = 3_600_000;

export async function up(db: Kysely<any>): Promise<void> {
  // Usage records summed per account, UTC hour, key, model ('' for none) and domain. Kept in the
  // same batch as each usage write, so summaries read a few hundred rows instead of every record.
  await db.schema
    .createTable('usage_rollups')
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('model', 'varchar(128)', (c) => c.notNull())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addColumn('input_tokens', 'bigint', (c) => c.notNull())
    .addColumn('output_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cost', 'bigint', (c) => c.notNull())
    .addColumn('charged', 'bigint', (c) => c.notNull())
    .addColumn('uncharged', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_rollups_pk', ['account', 'hour', 'key_id', 'model', 'domain_id'])
    .execute();
  await db.schema.createIndex('usage_rollups_domain_hour').on('usage_rollups').columns(['domain_id', 'hour']).execute();
  await db.schema.createIndex('usage_rollups_hour').on('usage_rollups').column('hour').execute();

  // Verification answers per domain, UTC hour and code, counted in memory and flushed in batches.
  await db.schema
    .createTable('verification_stats')
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('code', 'varchar(32)', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('charged', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('verification_stats_pk', ['domain_id', 'hour', 'code'])
    .execute();
  await db.schema.createIndex('verification_stats_hour').on('verification_stats').column('hour').execute();

  // Summaries read the partial hours at the edges of a range from the records themselves.
  await db.schema.createIndex('usage_records_account_created').on('usage_records').columns(['account', 'created_at']).execute();

  // The admin overview sums credit grants from the audit trail by action and time.
  await db.schema.createIndex('audit_events_action_at').on('audit_events').columns(['action', 'at']).execute();

  // Records written before this migration get their roll-ups now.
  await sql`INSERT INTO usage_rollups (account, hour, key_id, model, domain_id, requests, input_tokens, output_tokens, cost, charged, uncharged)
    SELECT account, created_at - (created_at % ${sql.lit(HOUR)}), key_id, COALESCE(model, ''), domain_id, COUNT(*),
      SUM(COALESCE(input_tokens, 0)), SUM(COALESCE(output_tokens, 0)), SUM(cost), SUM(charged), SUM(uncharged)
    FROM usage_records
    GROUP BY account, created_at - (created_at % ${sql.lit(HOUR)}), key_id, COALESCE(model, ''), domain_id`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_action_at').execute();
  await db.schema.dropIndex('usage_records_account_created').execute();
  await db.schema.dropTable('verification_stats').execute();
  await db.schema.dropTable('usage_rollups').execute();
}
