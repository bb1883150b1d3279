import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    // The Workers target starts wrangler + workerd in beforeAll: slow on a busy 2-core machine.
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
