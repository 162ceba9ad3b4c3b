import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './server-process.js';

/**
 * The Node.js flags `npm start` gives the server (package.json's `start` script, e.g. `--liftoff-only`), so a
 * benchmark of what users run starts the server the same way. `--import tsx` is left out: startServer adds it.
 */
export function npmStartNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const words = pkg.scripts.start.split(/\s+/);
  if (words[0] !== 'node') throw new Error(`npm start does not run node directly: ${pkg.scripts.start}`);
  const flags: string[] = [];
  for (let i = 1; i < words.length && (words[i] as string).startsWith('--'); i++) {
    if (words[i] === '--import') i++;
    else flags.push(words[i] as string);
  }
  return flags;
}
