import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { ConfigError } from '../config.js';
import { CliError, EXIT } from './cli-error.js';
import type { Command } from './command.js';
import { migrate, migrateDown, migrateStatus } from './commands/migrate.js';
import { migrationNew } from './commands/migration-new.js';
import { provisionReconcile } from './commands/reconcile.js';
import { tenants } from './commands/tenants.js';
import { createOutput } from './output.js';

const COMMANDS: readonly Command[] = [
  migrate,
  migrateStatus,
  migrateDown,
  migrationNew,
  tenants,
  provisionReconcile,
];

const HELP = `Usage: tenantry <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(20)} ${command.summary}`).join('\n')}

Every command takes --json (machine-readable output) and --help.
Configuration comes from the environment or .env, as for the server (DATABASE_URL, DATA_DIR, ...).
Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 3 busy (locked), 4 not found.
`;

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new CliError(`Unknown command "${name}".\n\n${HELP}`, EXIT.USAGE);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...command.options,
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${command.help}`, EXIT.USAGE);
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.help}\n`);
    return EXIT.OK;
  }
  loadDotenv({ quiet: true });
  return command.run({
    values: parsed.values,
    positionals: parsed.positionals,
    out: createOutput(parsed.values.json === true),
  });
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT.USAGE);
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT.FAILED);
  },
);
