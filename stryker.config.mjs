// Mutation testing of the core modules: `npm run mutate` (see docs/testing.md). Not part of `npm test`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/exposition/render.ts',
    'src/exposition/number-format.ts',
    'src/reporter/histogram-store.ts',
    'src/reporter/log-sketch.ts',
    'src/reporter/series-table.ts',
    'src/reporter/recorder.ts',
    'src/reporter/summary-store.ts',
    'src/metrics/units.ts',
    'src/metrics/buckets.ts',
    'src/metrics/definitions.ts',
    'src/server/credentials.ts',
    'src/server/access-policy.ts',
    'src/server/address-allowlist.ts',
    'src/http/route-templates.ts',
    'src/events/handler-table.ts',
    'src/events/bus.ts',
    'src/events/span.ts',
    'src/options.ts',
    'src/logger.ts',
    'src/compile.ts',
  ],
  // Mutants that run while modules load (module-level constants) need a fresh environment and every related suite
  // each, and Vitest does not always find the related suites then (it ran none for some): they are left out here and
  // tested on their own with STRYKER_STATIC=1 and --mutate of their lines (docs/testing.md).
  ignoreStatic: process.env.STRYKER_STATIC !== '1',
  // The machine has two cores.
  concurrency: 2,
  // Later runs re-test only mutants whose code or covering tests changed; `npm run mutate -- --force` tests all.
  incremental: true,
  incrementalFile: '.tmp-mutation/incremental.json',
  tempDirName: '.tmp-stryker',
  ignorePatterns: ['/.tmp-*', '/dist', '/coverage', '/test-artifacts'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: '.tmp-mutation/mutation.html' },
  jsonReporter: { fileName: '.tmp-mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  timeoutMS: 10_000,
};
