import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a benchmark's results as `<dir>/<name>-<UTC timestamp>.json` (everything) and `.md` (its table), and
 * returns both paths: a run worth quoting is committed with the numbers it produced.
 */
export function writeResults(
  dir: string,
  name: string,
  results: { markdown: string; [key: string]: unknown },
): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const json = join(dir, `${name}-${stamp}.json`);
  const markdown = join(dir, `${name}-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(markdown, `${results.markdown}\n`);
  return [json, markdown];
}
