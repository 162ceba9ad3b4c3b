import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { acquireDirLock, DirectoryLockedError } from '../../src/db/dir-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'tenantry-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('acquireDirLock', () => {
  it('holds the lock with our pid and refuses a second holder until released', () => {
    const file = join(dir, 'a.lock');
    const release = acquireDirLock(file);
    assert.equal(readFileSync(file, 'utf8'), String(process.pid));
    assert.throws(
      () => acquireDirLock(file),
      (error: unknown) => {
        assert.ok(error instanceof DirectoryLockedError);
        assert.equal(error.holderPid, process.pid);
        assert.match(error.message, /another Tenantry process is using this embedded database/);
        return true;
      },
    );
    release();
    assert.equal(existsSync(file), false);
    acquireDirLock(file)();
  });

  it('takes over a lock left by a dead process', () => {
    const file = join(dir, 'b.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(file, dead.stdout.toString());
    const release = acquireDirLock(file);
    assert.equal(readFileSync(file, 'utf8'), String(process.pid));
    release();
  });
});
