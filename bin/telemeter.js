#!/usr/bin/env node
// The `telemeter` command: runs the compiled CLI from dist/ (built by `npm run build`, and by `prepare` on install).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(entry))) {
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  process.stderr.write(
    `telemeter: ${fileURLToPath(entry)} is missing; run \`npm run build\` in the telemeter package first\n`,
  );
  process.exitCode = 1;
}
