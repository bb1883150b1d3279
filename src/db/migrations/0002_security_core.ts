import { sql, type Kysely } from 'kysely';

// Frozen once landed. Dialect-neutral: SQLite, PostgreSQL and D1 all run it.

export async function up(db: Kysely<any>): Promise<void> {
  // What the account has accumulated (verification charges plus reported usage costs), bounded at
  // 2^53 - 1 by the charging statements so sums of it stay exact as JSON numbers.
  await db.schema
    .alterTable('accounts')
    .addColumn('usage_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  // Start from what the account's keys already count (each capped, so the sum cannot overflow).
  await sql`UPDATE accounts SET usage_total = (SELECT COALESCE(SUM(CASE WHEN k.total_used > 9007199254740991 THEN 9007199254740991 ELSE k.total_used END), 0) FROM api_keys k WHERE k.account = accounts.address)`.execute(
    db,
  );
  // Why a key was disabled by the service rather than by its owner (e.g. 'trial_approved').
  await db.schema.alterTable('api_keys').addColumn('disabled_reason', 'varchar(32)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('disabled_reason').execute();
  await db.schema.alterTable('accounts').dropColumn('usage_total').execute();
}
