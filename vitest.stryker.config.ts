import { defineConfig } from 'vitest/config';

/**
 * The suites that `npm run mutate` runs against each mutant: fast, in-process ones that cover the mutated modules.
 * One project only (Stryker drives a single Vitest config); no real Prometheus, no browser, no end-to-end runs, and
 * nothing that measures allocations or timing, which instrumented code changes.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: [
      'test/compile.test.ts',
      'test/logger.test.ts',
      'test/options.test.ts',
      'test/events/**/*.test.ts',
      'test/metrics/**/*.test.ts',
      'test/exposition/**/*.test.ts',
      'test/reporter/**/*.test.ts',
      'test/server/access.test.ts',
      'test/server/access-policy.test.ts',
      'test/server/auth-wire.test.ts',
      'test/server/browser-session.test.ts',
      'test/server/serve-metrics.test.ts',
      'test/http/options.test.ts',
      'test/http/route-templates.test.ts',
    ],
    exclude: [
      // Counts heap bytes per event: instrumented code allocates, so it cannot pass under Stryker.
      'test/reporter/allocation.test.ts',
      // Child processes and a cluster merge: seconds per run.
      'test/reporter/plain-path-process.test.ts',
    ],
  },
});
