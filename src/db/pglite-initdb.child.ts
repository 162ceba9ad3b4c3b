/** Child process entry: creates an embedded database (initdb) in `dataDir`, then exits (see child-process-job.ts). */
import type { PgliteSettings } from '../config.js';
import { runAsChildProcessJob } from './child-process-job.js';
import { openPglite } from './pools.js';

runAsChildProcessJob<{ dataDir: string; settings: PgliteSettings }>(async ({ dataDir, settings }) => {
  const pglite = await openPglite(settings, { dataDir });
  await pglite.close();
});
