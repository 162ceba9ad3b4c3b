import { InvalidArgumentError, type Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { createOutput, type Output } from './output.js';

/** The exit code of the command that ran (set by `act`). */
let exitCode: number | undefined;

export function takeExitCode(): number | undefined {
  const code = exitCode;
  exitCode = undefined;
  return code;
}

/** Options every command has besides its own. */
export interface CommonOptions {
  json?: boolean;
}

/**
 * Adds a command under `parent` with `--json`, and wires its action: `.env` is loaded (configuration as for the
 * server), the action gets its arguments, its options and an Output, and returns the exit code.
 */
export function leaf<O extends object, A extends unknown[] = string[]>(
  parent: Command,
  nameAndArgs: string,
  summary: string,
  configure: (command: Command) => Command,
  run: (input: { args: A; options: O & CommonOptions; out: Output }) => Promise<number>,
): Command {
  const command = configure(parent.command(nameAndArgs).summary(summary).description(summary)).option(
    '--json',
    'machine-readable output: one JSON document on stdout',
  );
  command.action(async (...received: unknown[]) => {
    // commander passes the declared arguments, then the options object, then the command.
    const options = received[received.length - 2] as O & CommonOptions;
    const args = received.slice(0, -2) as A;
    loadDotenv({ quiet: true });
    exitCode = await run({ args, options, out: createOutput(options.json === true) });
  });
  return command;
}

/** An option parser for a whole number within bounds, with the complaint in CLI words. */
export function wholeNumber(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    return Number(raw);
  };
}

/** `--concurrency N`: tenants worked on at once. */
export const concurrency = wholeNumber(1, 9999);
