import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest files, slowest first (seconds one at a time on the 2-core CI machine, session 4:
 * workerd start-ups, Chromium, the property runs). They start first so that no long file starts
 * last and runs alone while the other worker idles; the rest follow by the last run's duration
 * (vitest's cache, when there is one) or else by size. Only the order depends on this list.
 */
const SLOW_FIRST = [
  'test/worker.test.ts', // 79 s: five workerd start-ups
  'test/teams-property.test.ts', // 63 s
  'test/analytics.test.ts', // 61 s
  'test/siwe-attacks.test.ts', // 54 s
  'test/property.test.ts', // 53 s
  'test/browser/console.test.ts', // 49 s
  'test/teams.test.ts', // 46 s
  'test/keys.test.ts', // 43 s
  'test/browser/teams.test.ts',
  'test/browser/analytics.test.ts',
  'test/teams-resources.test.ts', // 36 s
  'test/usage-batch.test.ts', // 35 s
  'test/verify-fast-path.test.ts', // 33 s
  'test/sessions.test.ts', // 32 s
  'test/domain-ownership.test.ts', // 32 s
  'test/domains.test.ts', // 29 s
  'test/security-core.test.ts', // 28 s
  'test/verify.test.ts', // 27 s
  'test/nonce-flood.test.ts', // 27 s
  'test/webhooks-worker.test.ts', // 26 s
];

/** One queue for every project (vitest's default runs the projects one after another by name). */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const key = (f: TestSpecification): string => `${f.project.name}:${relative(root, f.moduleId)}`;
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(relative(root, f.moduleId));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    const duration = (f: TestSpecification): number => this.ctx.cache.getFileTestResults(key(f))?.duration ?? -1;
    const size = (f: TestSpecification): number => this.ctx.cache.getFileStats(key(f))?.size ?? 0;
    // The unit files last and together: they share one process (isolate: false), which vitest
    // only reuses for the next file in the queue.
    const unit = (f: TestSpecification): number => (f.project.name === 'unit' ? 1 : 0);
    return [...files].sort((a, b) => rank(a) - rank(b) || unit(a) - unit(b) || duration(b) - duration(a) || size(b) - size(a));
  }
}

const shared = {
  testTimeout: 30_000,
  // The Workers target starts wrangler + workerd in beforeAll: slow on a busy 2-core machine.
  hookTimeout: 180_000,
  pool: 'forks' as const,
  // Two files at a time (vitest's default is cores - 1, i.e. one on the 2-core CI machine): most
  // of a file's time is spent waiting on workerd, Chromium, PostgreSQL or a spawned service, not
  // on its own CPU. `--maxWorkers=N` on the command line overrides it.
  maxWorkers: 2,
};

/**
 * `npm test` runs every project; `npm run test:unit` only the in-process unit tests (seconds: the
 * inner loop). The http project is the three-target matrix (SQLite, and PostgreSQL / Workers+D1
 * when TEST_POSTGRES_URL / TEST_WORKERS are set).
 */
export default defineConfig({
  test: {
    ...shared,
    sequence: { sequencer: SlowestFirst },
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          // Pure functions, no mocks or globals: one process for all of them instead of one per
          // file (11.4 s -> 4.5 s for the project on the busy machine; most of it was imports).
          isolate: false,
        },
      },
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
