import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 30_000,
  // The Workers target starts wrangler + workerd in beforeAll: slow on a busy 2-core machine.
  hookTimeout: 180_000,
  pool: 'forks' as const,
};

/**
 * `npm test` runs every project; `npm run test:unit` only the in-process unit tests (seconds: the
 * inner loop). The http project is the three-target matrix (SQLite, and PostgreSQL / Workers+D1
 * when TEST_POSTGRES_URL / TEST_WORKERS are set).
 */
export default defineConfig({
  test: {
    ...shared,
    projects: [
      { test: { ...shared, name: 'unit', include: ['src/**/*.test.ts', 'packages/*/test/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'http',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**', 'test/property.test.ts', 'test/teams-property.test.ts'],
          // The spawned-process suites run the compiled service (dist/): rebuild it when a source is newer.
          globalSetup: ['test/support/compiled.ts'],
        },
      },
      { test: { ...shared, name: 'browser', include: ['test/browser/**/*.test.ts'] } },
      { test: { ...shared, name: 'property', include: ['test/property.test.ts', 'test/teams-property.test.ts'] } },
    ],
  },
});
