import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CliIo, type CommandRun, EXIT, UsageError } from './command.js';

/** One subcommand: its one-line summary for `telemeter --help`, and its module, loaded only when run. */
export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ run: CommandRun }>;
}

/**
 * The subcommands. Add one by writing `src/cli/<name>.ts` that exports `run(args, io)` and listing it
 * here; modules load lazily, so one command's dependencies never slow down another.
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  demo: {
    summary: 'run the example shop, its metrics server and live dashboard, with synthetic traffic',
    load: () => import('./demo-command.js'),
  },
  grafana: {
    summary: 'print a Grafana dashboard (JSON) generated from your metric definitions',
    load: () => import('./grafana-command.js'),
  },
  rules: {
    summary: 'print Prometheus alerting rules (YAML) for your metric definitions',
    load: () => import('./rules-command.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `Usage: telemeter <command> [options]

Commands:
${lines.join('\n')}

Run \`telemeter <command> --help\` for the options of a command.
`;
}

const PROCESS_IO: CliIo = {
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs the `telemeter` command line with `argv` (the arguments after the program name) and resolves with
 * the exit code; it never calls `process.exit`, so piped output is flushed completely.
 */
export async function main(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  if (io === PROCESS_IO) ignoreClosedPipe();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.stderr(`telemeter: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (error) {
    const usageMistake =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(
      usageMistake
        ? `telemeter ${name}: ${message}\nRun \`telemeter ${name} --help\` for usage.\n`
        : `telemeter ${name}: ${message}\n`,
    );
    return usageMistake ? EXIT.usage : EXIT.failed;
  }
}

let pipeGuarded = false;

/** `telemeter grafana ... | head` closes stdout early; that is the reader's choice, not an error to report. */
function ignoreClosedPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
