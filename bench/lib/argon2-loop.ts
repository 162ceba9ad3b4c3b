/**
 * The bare argon2id baseline of bench/login.ts, run as a process of its own: hashes one password with the
 * server's own parameters (src/auth/passwords.ts), then verifies it with `--concurrency` verifications in flight
 * for `--seconds`, and prints `{"verifiesPerSecond": …}` as one JSON line. @node-rs/argon2 verifies on libuv's
 * thread pool, so this uses every core, as the server does.
 */
import { parseArgs } from 'node:util';
import { verify } from '@node-rs/argon2';
import { hashPassword } from '../../src/auth/passwords.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
  },
});
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
