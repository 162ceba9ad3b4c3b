import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { ConfigError, loadConfig } from '../config.js';
import { openCoreDb } from '../db/core-database.js';
import { migrateToLatest } from '../db/migrator.js';

const HELP = `Usage: tenantry <command> [options]

Commands:
  migrate        apply pending core migrations

Options:
  --json         machine-readable output
  -h, --help     this help
`;

/** Exit codes: 0 success, 1 the command failed, 2 bad usage or configuration. */
async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env);
  switch (command) {
    case 'migrate': {
      const core = await openCoreDb(config);
      try {
        const applied = await migrateToLatest(core.db, 'core');
        if (values.json) process.stdout.write(`${JSON.stringify({ core: { applied } })}\n`);
        else
          process.stdout.write(
            applied.length ? `core: applied ${applied.join(', ')}\n` : 'core: up to date\n',
          );
        return 0;
      } finally {
        await core.close();
      }
    }
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${HELP}`);
      return 2;
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
