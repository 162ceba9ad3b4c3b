import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { CliError, EXIT } from './cli-error.js';
import { takeExitCode } from './command.js';
import { registerMigrate } from './commands/migrate.js';
import { registerMigrationNew } from './commands/migration-new.js';
import { registerReconcile } from './commands/reconcile.js';
import { registerServers } from './commands/servers.js';
import { registerTenants } from './commands/tenants.js';

const FOOTER = `
Configuration comes from the environment or .env, as for the server (DATABASE_URL, DATA_DIR, ...).
Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 3 busy (locked), 4 not found.`;

export interface ProgramIo {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** The whole CLI as a commander program. Usage errors throw CommanderError (exitOverride) instead of exiting. */
export function buildProgram(io?: ProgramIo): Command {
  const program = new Command('tenantry')
    .description(
      'Operate a Tenantry deployment: migrations, organizations (tenants), provisioning, tenant servers.',
    )
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', FOOTER);
  if (io) program.configureOutput(io);
  registerMigrate(program);
  registerMigrationNew(program);
  registerTenants(program);
  registerReconcile(program);
  registerServers(program);
  return program;
}

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code, never exits itself. */
export async function run(argv: readonly string[], io?: ProgramIo): Promise<number> {
  const write = io ?? {
    writeOut: (text: string) => process.stdout.write(text),
    writeErr: (text: string) => process.stderr.write(text),
  };
  takeExitCode();
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return takeExitCode() ?? EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for (`--help`, `help [command]`) ends with exit code 0; a bare group (`tenantry`, `tenantry
      // tenants`) prints its help as an error, and everything else commander reports (unknown command or option,
      // missing or invalid argument) is bad usage. Commander has written its message already.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (error instanceof CliError) {
      write.writeErr(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      write.writeErr(`${error.message}\n`);
      return EXIT.USAGE;
    }
    write.writeErr(`${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.FAILED;
  }
}
