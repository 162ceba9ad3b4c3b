import type { Command } from 'commander';
import { databaseNameFromUrl } from '../../tenancy/placement/placement-names.js';
import { ServerAdmin, ServerAdminError } from '../../tenancy/servers/server-admin.js';
import { withCliContext, type CliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { leaf, wholeNumber } from '../command.js';
import { table } from '../output.js';

const EXIT_OF: Record<ServerAdminError['reason'], number> = {
  invalid: EXIT.USAGE,
  'not-found': EXIT.NOT_FOUND,
  conflict: EXIT.FAILED,
  unreachable: EXIT.FAILED,
};

/** Runs `fn` with a ServerAdmin of this deployment; its refusals become one-line CLI errors. */
function withAdmin<T>(fn: (admin: ServerAdmin, context: CliContext) => Promise<T>): Promise<T> {
  return withCliContext(async (context) => {
    const core = context.config.databaseUrl ? databaseNameFromUrl(context.config.databaseUrl) : 'tenantry';
    const admin = new ServerAdmin(context.servers.registry, context.servers.rows, core);
    try {
      return await fn(admin, context);
    } catch (error) {
      if (error instanceof ServerAdminError) throw new CliError(error.message, EXIT_OF[error.reason]);
      throw error;
    }
  });
}

const POLICY = `
Placement: a new organization goes to the active server with the fewest live tenants per unit of weight (ties: the
name that sorts first); draining servers keep their tenants and get no new one. "default" is the configured server
(TENANT_DATABASE_URL, else the core's server; the embedded engine's "pglite"). Passwords are never printed.`;

export function registerServers(program: Command): void {
  const servers = program
    .command('servers')
    .summary('add, list, drain and remove the PostgreSQL servers tenants are placed on')
    .description('Manage the tenant servers new organizations are spread over.')
    .addHelpText('after', `${POLICY}\nExit codes: 0 done, 1 failed, 2 bad usage, 4 no such server.`);

  leaf<{ weight: number }, [string, string]>(
    servers,
    'add <name> <url>',
    'register a tenant server (its URL is checked, and the server must answer)',
    (command) =>
      command.option(
        '--weight <n>',
        'relative capacity: a server of weight 2 receives twice the tenants of one of weight 1',
        wholeNumber(1, 1000),
        1,
      ),
    async ({ args: [name, url], options, out }) =>
      withAdmin(async (admin) => {
        const server = await admin.add(name, url, options.weight);
        out.result(
          server,
          () => `added tenant server ${server.name} (${server.address}, weight ${server.weight})`,
        );
        return EXIT.OK;
      }),
  );

  leaf<object, []>(
    servers,
    'list',
    'every tenant server: state, weight, tenants, databases, connections in use',
    (command) =>
      command.addHelpText(
        'after',
        `
connections: tenant sessions of this deployment on each server, all app processes together, from the server's
pg_stat_activity ("open", of which "active" are running a statement). "-" when it cannot be seen: the embedded
engine keeps its connections inside the app process (see its /metrics), or the server did not answer.`,
      ),
    async ({ out }) =>
      withAdmin(async (admin) => {
        const report = await admin.list();
        out.result(report, () =>
          table([
            ['name', 'state', 'weight', 'tenants', 'databases', 'connections', 'address', 'url'],
            ...report.map((s) => [
              s.name,
              s.reachable === false ? `${s.state} (unreachable)` : s.state,
              s.weight,
              s.tenants,
              s.databases,
              s.connections ? `${s.connections.open} open, ${s.connections.active} active` : null,
              s.address,
              s.url,
            ]),
          ]),
        );
        return EXIT.OK;
      }),
  );

  leaf<object, [string]>(
    servers,
    'drain <name>',
    'stop placing new organizations on a server (its tenants stay)',
    (command) => command,
    async ({ args: [name], out }) =>
      withAdmin(async (admin) => {
        const server = await admin.drain(name);
        out.result(server, () => `tenant server ${server.name} is draining: no new organization goes there`);
        return EXIT.OK;
      }),
  );

  leaf<object, [string]>(
    servers,
    'activate <name>',
    'let the placement policy choose a drained server again',
    (command) => command,
    async ({ args: [name], out }) =>
      withAdmin(async (admin) => {
        const server = await admin.activate(name);
        out.result(server, () => `tenant server ${server.name} is active`);
        return EXIT.OK;
      }),
  );

  leaf<object, [string]>(
    servers,
    'remove <name>',
    'unregister a server (refused while organizations live there)',
    (command) => command,
    async ({ args: [name], out }) =>
      withAdmin(async (admin) => {
        await admin.remove(name);
        out.result({ removed: name }, () => `removed tenant server ${name}`);
        return EXIT.OK;
      }),
  );
}
