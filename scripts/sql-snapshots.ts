// `npm run sql:snapshots`: writes beside every repository (src/**/*.repository.ts, and any other exported
// `*Repository` class) a `.sql` file listing the SQL each public method issues, so a reviewer sees every query a
// change touches in the diff. `--check` (part of `npm run lint`) writes nothing and exits 1 when one is stale.
import { rmSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import {
  checkSnapshots,
  findRepositoryFiles,
  findSnapshotFiles,
  generateSnapshots,
} from './sql-snapshots/snapshots.js';

const projectRoot = resolve(import.meta.dirname, '..');
const sourceDir = resolve(projectRoot, 'src');
const shown = (file: string) => relative(projectRoot, file);

if (process.argv.includes('--check')) {
  const { stale, orphaned } = await checkSnapshots(sourceDir, projectRoot);
  for (const file of stale) console.error(`stale SQL snapshot: ${shown(file)}`);
  for (const file of orphaned) console.error(`SQL snapshot without its repository: ${shown(file)}`);
  if (stale.length + orphaned.length > 0) {
    console.error('Run `npm run sql:snapshots` and commit the result.');
    process.exit(1);
  }
  console.log('SQL snapshots are up to date.');
} else {
  const snapshots = await generateSnapshots(findRepositoryFiles(sourceDir), projectRoot);
  for (const [file, content] of snapshots) writeFileSync(file, content);
  for (const file of findSnapshotFiles(sourceDir).filter((file) => !snapshots.has(file))) {
    rmSync(file);
    console.log(`removed ${shown(file)} (its repository is gone)`);
  }
  console.log(`wrote ${snapshots.size} SQL snapshots`);
}
