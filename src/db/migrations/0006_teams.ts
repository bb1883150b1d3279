import type { Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.
// Teams: several wallets sharing network keys, domains and a balance. A team is also a billing
// principal: it has an `accounts` row whose address is the team id (plan network, credits NULL
// until an admin grants some), so its keys (api_keys.account = team id) are charged, metered and
// rolled up by the same statements as a wallet's. `created_by` names the member wallet that made
// a team key or domain (NULL for personal ones: the account itself).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('teams')
    .addColumn('id', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(42)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('team_members')
    .addColumn('team_id', 'varchar(42)', (c) => c.notNull())
    .addColumn('address', 'varchar(42)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull()) // owner | admin | member | viewer
    .addColumn('status', 'varchar(16)', (c) => c.notNull()) // invited | active
    .addColumn('invited_by', 'varchar(42)', (c) => c.notNull())
    .addColumn('invited_at', 'bigint', (c) => c.notNull())
    .addColumn('joined_at', 'bigint')
    .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'address'])
    .execute();
  // "Which teams does this wallet belong to / is it invited to" (GET /v1/teams).
  await db.schema.createIndex('team_members_address').on('team_members').columns(['address', 'team_id']).execute();

  await db.schema.alterTable('api_keys').addColumn('created_by', 'varchar(42)').execute();
  await db.schema.alterTable('domains').addColumn('created_by', 'varchar(42)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('domains').dropColumn('created_by').execute();
  await db.schema.alterTable('api_keys').dropColumn('created_by').execute();
  await db.schema.dropTable('team_members').ifExists().execute();
  await db.schema.dropTable('teams').ifExists().execute();
}
