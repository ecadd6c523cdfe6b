import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TelemeterTypeError } from '../errors.js';

/** Where a command writes, so tests and other hosts can capture it. */
export interface CliIo {
  readonly cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A subcommand's entry point: the arguments after its name; resolves with the exit code. */
export type CommandRun = (args: readonly string[], io: CliIo) => Promise<number>;

/**
 * A mistake in how the command was called: printed with a hint to `--help`, exit code 2. Its code is
 * `ERR_TELEMETER_INVALID_ARGUMENT`, as for any other invalid argument.
 */
export class UsageError extends TelemeterTypeError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('ERR_TELEMETER_INVALID_ARGUMENT', message);
  }
}

/** Exit codes: 0 done, 1 failed (a module that does not load, invalid definitions), 2 wrong usage. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/**
 * Writes a command's result: to stdout, or to `output` (relative to the working directory) with a one-line
 * note on stderr, so the file can be generated and the note still seen.
 */
export async function writeResult(
  io: CliIo,
  output: string | undefined,
  text: string,
  note: string,
): Promise<void> {
  if (output === undefined) {
    io.stdout(text);
    return;
  }
  await writeFile(resolve(io.cwd, output), text);
  io.stderr(`${note}\n`);
}
