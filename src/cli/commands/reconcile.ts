import { withCliContext } from '../cli-context.js';
import { CliError, EXIT } from '../cli-error.js';
import { stringOption, type Command } from '../command.js';

export const provisionReconcile: Command = {
  name: 'provision:reconcile',
  summary: 'finish or roll back provisioning left unfinished, drop orphan databases',
  help: `Usage: tenantry provision:reconcile [--grace-seconds N] [--json]

Organizations stuck in provisioning are completed (or marked failed, their database dropped); deletions stuck in
deleting are finished; databases no live organization names are dropped. Only organizations untouched for
--grace-seconds (default 30) are considered, so a provisioning running right now in a server is left alone;
pass 0 when no server is running. Exit code 1 when some organization could not be completed.`,
  options: { 'grace-seconds': { type: 'string' } },
  async run({ values, out }) {
    const raw = stringOption(values, 'grace-seconds') ?? '30';
    if (!/^\d{1,6}$/.test(raw)) throw new CliError('--grace-seconds must be a whole number', EXIT.USAGE);
    return withCliContext(async ({ provisioner }) => {
      const report = await provisioner.reconcile({ graceMs: Number(raw) * 1000 });
      out.result(report, () =>
        [
          `completed: ${report.completed.join(', ') || 'none'}`,
          `failed: ${report.failed.join(', ') || 'none'}`,
          `deletions finished: ${report.deleted.join(', ') || 'none'}`,
          `orphan databases dropped: ${report.orphansDropped.join(', ') || 'none'}`,
        ].join('\n'),
      );
      return report.failed.length > 0 ? EXIT.FAILED : EXIT.OK;
    });
  },
};
