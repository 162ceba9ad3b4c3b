import { Option, type Command } from 'commander';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MIGRATIONS_DIR_ENV, type MigrationScope } from '../../db/migrator.js';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from '../cli-error.js';
import { leaf } from '../command.js';

const TEMPLATE = `import type { Kysely } from 'kysely';

// Migrations are frozen history: an untyped handle, so later schema changes never break them.
export async function up(db: Kysely<unknown>): Promise<void> {
  // e.g. await db.schema.alterTable('tenant_users').addColumn('nickname', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Undo exactly what up() did, e.g. await db.schema.alterTable('tenant_users').dropColumn('nickname').execute();
}
`;

/** `YYYY_MM_DD_HHMM` in UTC, moved a minute later until no migration of the folder has it. */
export function migrationPrefix(now: Date, taken: readonly string[]): string {
  const at = new Date(now);
  at.setUTCSeconds(0, 0);
  for (;;) {
    const pad = (n: number) => String(n).padStart(2, '0');
    const prefix = `${at.getUTCFullYear()}_${pad(at.getUTCMonth() + 1)}_${pad(at.getUTCDate())}_${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}`;
    const latest = [...taken].sort().at(-1) ?? '';
    if (!taken.some((name) => name.startsWith(prefix)) && prefix > latest.slice(0, prefix.length))
      return prefix;
    at.setUTCMinutes(at.getUTCMinutes() + 1);
  }
}

/**
 * Where migrations of `scope` are written: the folder TENANTRY_<SCOPE>_MIGRATIONS_DIR names (as the migrator reads
 * it), else the source tree of the checkout this code belongs to (never dist/, whose files are compiled).
 */
export function migrationFolder(scope: MigrationScope): string {
  const override = process.env[MIGRATIONS_DIR_ENV[scope]];
  if (override) return resolve(override);
  // src/cli/commands/ and dist/cli/commands/ are both three levels below the package root.
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  return join(root, 'src', 'db', 'migrations', scope);
}

export function registerMigrationNew(program: Command): void {
  leaf<{ scope: 'core' | 'tenant' }, [string]>(
    program,
    'migration:new <name>',
    'scaffold a migration file (aerich migrate --name)',
    (command) =>
      command
        .addOption(
          new Option('--scope <scope>', 'core or tenant migrations')
            .choices(['core', 'tenant'])
            .makeOptionMandatory(),
        )
        .addHelpText(
          'after',
          `
Creates src/db/migrations/<scope>/<YYYY_MM_DD_HHMM>_<name>.ts with empty up() and down(), named after the
current UTC time so files sort in the order they were written. <name>: lower-case letters, digits, underscores.`,
        ),
    async ({ args: [name], options, out }) => {
      if (!/^[a-z][a-z0-9_]{0,60}$/.test(name)) {
        throw new CliError(
          '<name> must be lower-case letters, digits and underscores, starting with a letter',
          EXIT.USAGE,
        );
      }
      const folder = migrationFolder(options.scope);
      if (!existsSync(folder)) {
        throw new CliError(
          `migration:new writes TypeScript into a source checkout's src/db/migrations/${options.scope}/, and ${folder} does not exist (a packaged install has only dist/)`,
          EXIT.USAGE,
        );
      }
      const file = join(folder, `${migrationPrefix(new Date(), readdirSync(folder))}_${name}.ts`);
      writeFileSync(file, TEMPLATE, { flag: 'wx' });
      out.result({ file }, () => `created ${file}`);
      return EXIT.OK;
    },
  );
}
