import { sql, type Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('address', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('plan', 'varchar(16)', (c) => c.notNull().defaultTo('network'))
    .addColumn('credits', 'bigint', (c) => c.check(sql`credits >= 0`))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_sign_in_at', 'bigint')
    .execute();

  await db.schema
    .createTable('nonces')
    .addColumn('nonce', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'varchar(64)')
    .execute();
  await db.schema.createIndex('nonces_expires_at').on('nonces').column('expires_at').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('address', 'varchar(42)', (c) => c.notNull())
    .addColumn('roles', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .execute();
  await db.schema.createIndex('sessions_address').on('sessions').columns(['address', 'expires_at']).execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('alg', 'varchar(16)', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    // 1 for the one key that signs new sessions, NULL for the rest: the unique constraint lets
    // only one instance's freshly generated key win when several start at once.
    .addColumn('active', 'integer', (c) => c.unique())
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('description', 'varchar(1024)')
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('scopes', 'varchar(255)', (c) => c.notNull())
    .addColumn('models', 'text')
    .addColumn('rpm', 'bigint')
    .addColumn('daily_credits', 'bigint')
    .addColumn('monthly_credits', 'bigint')
    .addColumn('hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('hint', 'varchar(64)', (c) => c.notNull())
    .addColumn('prev_hash', 'varchar(64)', (c) => c.unique())
    .addColumn('prev_expires_at', 'bigint')
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('active'))
    .addColumn('expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('day_window', 'varchar(10)', (c) => c.notNull().defaultTo(''))
    .addColumn('day_used', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('month_window', 'varchar(7)', (c) => c.notNull().defaultTo(''))
    .addColumn('month_used', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('total_used', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rpm_window', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rpm_count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint('api_keys_account_name', ['account', 'name'])
    .execute();
  await db.schema.createIndex('api_keys_account_id').on('api_keys').columns(['account', 'id']).execute();

  await db.schema
    .createTable('trial_applications')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('address', 'varchar(42)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('use_case', 'text', (c) => c.notNull())
    .addColumn('contact', 'varchar(255)')
    .addColumn('credits_granted', 'bigint')
    .addColumn('reviewed_by', 'varchar(42)')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('reviewed_at', 'bigint')
    .execute();
  // One open application per account, enforced by the database rather than by a read-then-write.
  await db.schema
    .createIndex('trial_applications_one_pending')
    .on('trial_applications')
    .column('address')
    .unique()
    .where(sql.ref('status'), '=', 'pending')
    .execute();
  await db.schema.createIndex('trial_applications_status_id').on('trial_applications').columns(['status', 'id']).execute();
  await db.schema.createIndex('trial_applications_address_id').on('trial_applications').columns(['address', 'id']).execute();

  await db.schema
    .createTable('domains')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(253)', (c) => c.notNull().unique())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('owner', 'varchar(42)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('token_hint', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('domains_owner_id').on('domains').columns(['owner', 'id']).execute();

  await db.schema
    .createTable('usage_records')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('request_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('model', 'varchar(128)')
    .addColumn('input_tokens', 'bigint')
    .addColumn('output_tokens', 'bigint')
    .addColumn('cost', 'bigint', (c) => c.notNull())
    .addColumn('charged', 'bigint', (c) => c.notNull())
    .addColumn('uncharged', 'bigint', (c) => c.notNull())
    .addColumn('credits_after', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('usage_records_domain_request', ['domain_id', 'request_id'])
    .execute();
  await db.schema.createIndex('usage_records_account_id').on('usage_records').columns(['account', 'id']).execute();
  await db.schema.createIndex('usage_records_account_request').on('usage_records').columns(['account', 'request_id']).execute();
  await db.schema.createIndex('usage_records_key_id').on('usage_records').columns(['key_id', 'id']).execute();

  // Which keys a domain has verified, and when: a domain may report usage only for those, so one
  // operator cannot bill another operator's users. Written once per pair and then at most hourly.
  await db.schema
    .createTable('domain_keys')
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('last_verified_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('domain_keys_pk', ['domain_id', 'key_id'])
    .execute();

  // Deleted keys leave a tombstone so late usage reports still find the account to charge.
  await db.schema
    .createTable('deleted_keys')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account', 'varchar(42)', (c) => c.notNull())
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'varchar(128)', (c) => c.notNull())
    .addColumn('account', 'varchar(42)')
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('target', 'varchar(255)')
    .addColumn('request_id', 'varchar(128)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('audit_events_account_id').on('audit_events').columns(['account', 'id']).execute();
  await db.schema.createIndex('audit_events_actor_id').on('audit_events').columns(['actor', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'audit_events',
    'deleted_keys',
    'domain_keys',
    'usage_records',
    'domains',
    'trial_applications',
    'api_keys',
    'signing_keys',
    'sessions',
    'nonces',
    'accounts',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
