import { sql, type Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.
// Domain ownership proof (challenge, verified_at, pending claims) and the server secrets table that
// holds the key of stateless sign-in nonces (shared by every instance through the database).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  // Nullable at the DDL level (SQLite cannot add a NOT NULL column without a default); every row
  // gets a challenge: new ones at creation, existing ones here.
  await db.schema.alterTable('domains').addColumn('ownership_challenge', 'varchar(64)').execute();
  await db.schema.alterTable('domains').addColumn('verified_at', 'bigint').execute();
  await db.schema.alterTable('domains').addColumn('verified_by', 'varchar(16)').execute();
  await sql`update domains set ownership_challenge = 'legacy-' || id where ownership_challenge is null`.execute(db);

  await db.schema
    .createTable('domain_claims')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(253)', (c) => c.notNull())
    .addColumn('claimant', 'varchar(42)', (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('challenge', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('domain_claims_name_claimant').on('domain_claims').columns(['name', 'claimant']).unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('domain_claims').ifExists().execute();
  await db.schema.alterTable('domains').dropColumn('verified_by').execute();
  await db.schema.alterTable('domains').dropColumn('verified_at').execute();
  await db.schema.alterTable('domains').dropColumn('ownership_challenge').execute();
  await db.schema.dropTable('server_secrets').ifExists().execute();
}
