/**
 * The bare argon2id baseline of bench/login.ts, run as a process of its own: hashes one password with the
 * server's own parameters (src/auth/passwords.ts), then verifies it with `--concurrency` verifications in flight
 * for `--seconds`, and prints `{"verifiesPerSecond": …}` as one JSON line. Both runners use every core:
 * - `threads` (the default): one dedicated thread per core (src/auth/argon2-threads.ts), as the server runs it,
 *   the fastest way measured on the 2-core machines;
 * - `libuv`: @node-rs/argon2's own async verify, on libuv's thread pool (4 threads), as the server ran it before.
 * `--threads N` gives the `threads` runner N threads instead (as `PASSWORD_HASH_CONCURRENCY=N` does the server).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { verify as verifyOnLibuvPool } from '@node-rs/argon2';
import { Argon2Threads } from '../../src/auth/argon2-threads.js';
import { hashPassword } from '../../src/auth/passwords.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    runner: { type: 'string', default: 'threads' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
if (values.runner !== 'threads' && values.runner !== 'libuv') throw new Error('--runner is threads or libuv');
const threads = values.runner === 'threads' ? new Argon2Threads(Number(values.threads)) : null;
const verify = threads
  ? (hash: string, password: string) => threads.verify(hash, password)
  : verifyOnLibuvPool;
const password = 'bench-password-1234';
const stored = await hashPassword(password);

async function loop(seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (performance.now() < deadline) {
        if (!(await verify(stored, password))) throw new Error('verification failed');
        done++;
      }
    }),
  );
  return done;
}

await loop(Number(values.warmup));
const started = performance.now();
const verified = await loop(Number(values.seconds));
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ verifiesPerSecond: verified / seconds, verified, seconds })}\n`);
