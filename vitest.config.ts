import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only fight over them and make the real-server suites flaky.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'] } },
      {
        // The core again, in processes that refuse code generation from strings, as Cloudflare Workers and strict
        // Content-Security-Policies do: every generated hot path must have taken its plain counterpart.
        extends: true,
        test: {
          name: 'no-codegen',
          include: ['test/reporter/**/*.test.ts', 'test/exposition/**/*.test.ts', 'test/events/**/*.test.ts'],
          // The protobuf judge, protobufjs, generates its decoders from strings; the encoder it judges generates none.
          exclude: ['test/exposition/protobuf*.test.ts'],
          execArgv: ['--disallow-code-generation-from-strings'],
        },
      },
    ],
  },
});
