import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/server-process.js';

// A copy of the bin in a fake package: which of src/ and dist/ it runs decides whether a checkout can run stale code.
const root = mkdtempSync(join(tmpdir(), 'tenantry-bin-'));
after(() => rmSync(root, { recursive: true, force: true }));
writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tenantry', type: 'module' }));
mkdirSync(join(root, 'bin'));
copyFileSync(join(REPO_ROOT, 'bin', 'tenantry.mjs'), join(root, 'bin', 'tenantry.mjs'));
symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');

function writeEntry(relative: string, text: string) {
  mkdirSync(join(root, relative, '..'), { recursive: true });
  writeFileSync(join(root, relative), text);
}

function runBin() {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'tenantry.mjs'), 'a', '--b'], {
    cwd: root,
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bin/tenantry.mjs', () => {
  it('runs the TypeScript source in a checkout even when a dist/ build is there', () => {
    // TypeScript-only syntax: this runs only through tsx.
    writeEntry(
      'src/cli/index.ts',
      `const from: string = 'source'; console.log(from, process.argv.slice(2).join(' '));`,
    );
    writeEntry('dist/cli/index.js', `console.log('dist');`);
    const run = runBin();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'source a --b');
  });

  it('runs dist/ only in a packaged install without src/', () => {
    rmSync(join(root, 'src'), { recursive: true });
    const run = runBin();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'dist');
  });

  it('says what is missing when there is neither', () => {
    rmSync(join(root, 'dist'), { recursive: true });
    const run = runBin();
    assert.equal(run.code, 2);
    assert.match(run.stderr, /neither src\/cli\/index\.ts nor dist\/cli\/index\.js/);
  });

  it('is what `npx tenantry` and `npm run cli` run', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.equal(pkg.bin.tenantry, 'bin/tenantry.mjs');
    assert.equal(pkg.scripts.cli, 'node bin/tenantry.mjs');
  });
});
