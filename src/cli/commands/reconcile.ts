import type { Command } from 'commander';
import { withCliContext } from '../cli-context.js';
import { EXIT } from '../cli-error.js';
import { leaf, wholeNumber } from '../command.js';

export function registerReconcile(program: Command): void {
  leaf<{ graceSeconds: number }, []>(
    program,
    'provision:reconcile',
    'finish or roll back provisioning left unfinished, drop orphan databases',
    (command) =>
      command
        .option(
          '--grace-seconds <n>',
          'only organizations untouched this long are considered',
          wholeNumber(0, 999_999),
          30,
        )
        .addHelpText(
          'after',
          `
Organizations stuck in provisioning are completed (or marked failed, their database dropped); deletions stuck in
deleting are finished; databases no live organization names are dropped. Only organizations untouched for
--grace-seconds are considered, so a provisioning running right now in a server is left alone; pass 0 when no
server is running. Moves left half-done are settled first: rolled back before their switch, finished after it
(exactly one copy of the tenant is left). Exit code 1 when some organization could not be completed.`,
        ),
    async ({ options, out }) =>
      withCliContext(async ({ provisioner }) => {
        const report = await provisioner.reconcile({ graceMs: options.graceSeconds * 1000 });
        out.result(report, () =>
          [
            `completed: ${report.completed.join(', ') || 'none'}`,
            `failed: ${report.failed.join(', ') || 'none'}`,
            `deletions finished: ${report.deleted.join(', ') || 'none'}`,
            `orphan databases dropped: ${report.orphansDropped.join(', ') || 'none'}`,
            `moves rolled back: ${report.movesRolledBack.join(', ') || 'none'}`,
            `moves finished: ${report.movesFinished.join(', ') || 'none'}`,
          ].join('\n'),
        );
        return report.failed.length > 0 ? EXIT.FAILED : EXIT.OK;
      }),
  );
}
