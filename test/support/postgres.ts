import pg from 'pg';

/**
 * A fresh, empty PostgreSQL database for one suite (created from the server at baseUrl, dropped
 * afterwards), so runs never see each other's rows.
 */
export async function createPgTestDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `siwe_keys_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
