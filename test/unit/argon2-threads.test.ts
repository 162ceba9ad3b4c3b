import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { Argon2Threads } from '../../src/auth/argon2-threads.js';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';

// Cheap parameters: these tests are about the threads, not about argon2's cost.
const CHEAP = { algorithm: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

describe('Argon2Threads', () => {
  it('hashes and verifies on its threads: the right password true, a wrong one false', async () => {
    const threads = new Argon2Threads(2);
    try {
      const hash = await threads.hash('correct horse', CHEAP);
      assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      assert.equal(await threads.verify(hash, 'correct horse'), true);
      assert.equal(await threads.verify(hash, 'wrong horse'), false);
    } finally {
      await threads.close();
    }
  });

  it('rejects a malformed stored hash (verifyPassword turns that into false)', async () => {
    const threads = new Argon2Threads(1);
    try {
      await assert.rejects(threads.verify('not-a-hash', 'x'));
      assert.equal(await threads.verify(await threads.hash('still works', CHEAP), 'still works'), true);
    } finally {
      await threads.close();
    }
    assert.equal(await verifyPassword('not-a-hash', 'x'), false);
  });

  it('runs at most `limit` computations at once and queues the rest, answering each its own result', async () => {
    const threads = new Argon2Threads(2);
    try {
      const passwords = ['p0-aaaa', 'p1-bbbb', 'p2-cccc', 'p3-dddd', 'p4-eeee'];
      const pending = passwords.map((password) => threads.hash(password, CHEAP));
      assert.equal(threads.threadCount, 2);
      assert.equal(threads.queued, 3);
      const hashes = await Promise.all(pending);
      assert.equal(threads.threadCount, 2, 'no thread beyond the limit was started');
      assert.equal(threads.queued, 0);
      const checks = await Promise.all(hashes.map((hash, i) => threads.verify(hash, passwords[i] as string)));
      assert.deepEqual(checks, [true, true, true, true, true]);
    } finally {
      await threads.close();
    }
  });

  it('ends idle threads above a lowered limit, and starts threads up to a raised one', async () => {
    const threads = new Argon2Threads(3);
    try {
      await Promise.all([1, 2, 3].map((n) => threads.hash(`password-${n}`, CHEAP)));
      assert.equal(threads.threadCount, 3);
      threads.setLimit(1);
      assert.equal(threads.threadCount, 1);
      const pending = [1, 2, 3].map((n) => threads.hash(`password-${n}`, CHEAP));
      assert.equal(threads.queued, 2);
      threads.setLimit(3);
      assert.equal(threads.threadCount, 3, 'a raise starts waiting computations at once');
      assert.equal(threads.queued, 0);
      await Promise.all(pending);
      assert.throws(() => threads.setLimit(0), RangeError);
    } finally {
      await threads.close();
    }
  });

  it('close() rejects computations still waiting; the pool serves again afterwards', async () => {
    const threads = new Argon2Threads(1);
    const running = assert.rejects(threads.hash('first', CHEAP), /closed/);
    const waiting = assert.rejects(threads.hash('second', CHEAP), /closed/);
    assert.equal(threads.queued, 1);
    await threads.close();
    await running;
    await waiting;
    assert.equal(threads.threadCount, 0);
    assert.equal(await threads.verify(await threads.hash('again', CHEAP), 'again'), true);
    await threads.close();
  });

  it('lets the process exit once its threads are idle, and not before their answer', async () => {
    // A process that hashes once and does nothing else must end by itself with the hash printed: an idle thread
    // holding the event loop would hang it, a busy one not holding it would end it before the answer.
    const script = [
      "const { hashPassword } = await import('./src/auth/passwords.ts');",
      "process.stdout.write(await hashPassword('exit-check-password'));",
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 30_000 },
    );
    assert.match(stdout, /^\$argon2id\$/);
  });

  it('hashPassword and verifyPassword go through the threads with the server parameters', async () => {
    const hash = await hashPassword('a-long-enough-password');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(hash, 'a-long-enough-password'), true);
    assert.equal(await verifyPassword(hash, 'another-password'), false);
    assert.equal(await verifyPassword(null, 'any-password'), false);
  });
});
