import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.js';

export type OptionValues = Record<string, string | boolean | undefined>;

/** One CLI command: its help text, its options, and what it does. Returns an exit code. */
export interface Command {
  name: string;
  summary: string;
  /** Full help: usage line, description, options (without the common --json/--help). */
  help: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  run(input: { values: OptionValues; positionals: string[]; out: Output }): Promise<number>;
}

/** A string option's value, or undefined. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}
