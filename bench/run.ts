/**
 * `npm run bench`: the benchmarks one after another, each as a child process whose output is shown as it comes.
 * Exits non-zero if any of them fails. Results land in bench/results/.
 *
 *   npm run bench                  tenant throughput (full), login, provisioning (PostgreSQL and PGlite),
 *                                  embedded-engine memory
 *   npm run bench -- --quick       tenant throughput only, one short round (about a minute)
 *
 * Ctrl-C reaches the running benchmark directly (same process group); it cleans up and the rest are skipped.
 * A SIGTERM sent to this process alone is passed on to the running benchmark as SIGINT, which both handle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const quick = process.argv.includes('--quick');
const runs: { script: string; args: string[] }[] = quick
  ? [{ script: 'bench/tenant-throughput.ts', args: ['--quick'] }]
  : [
      { script: 'bench/tenant-throughput.ts', args: [] },
      { script: 'bench/shared-throughput.ts', args: [] },
      { script: 'bench/shared-provisioning.ts', args: ['--engine', 'postgres', '--count', '10000'] },
      { script: 'bench/shared-provisioning.ts', args: ['--engine', 'pglite', '--count', '300'] },
      { script: 'bench/login.ts', args: [] },
      { script: 'bench/provisioning.ts', args: ['--engine', 'postgres', '--count', '50'] },
      { script: 'bench/provisioning.ts', args: ['--engine', 'pglite', '--count', '10'] },
      { script: 'bench/embedded-memory.ts', args: [] },
    ];

let current: ChildProcess | undefined;
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});
process.on('SIGTERM', () => {
  interrupted = true;
  current?.kill('SIGINT');
});

function run(script: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    current = child;
    child.once('error', (error) => {
      process.stderr.write(`could not start ${script}: ${error.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

const results: { command: string; code: number; seconds: number }[] = [];
for (const { script, args } of runs) {
  if (interrupted) break;
  // Run with `node --import tsx` rather than the `tsx` launcher, which SIGKILLs a child that is slow to
  // acknowledge a Ctrl-C (and so would skip its clean-up).
  const command = `node --import tsx ${script} ${args.join(' ')}`;
  process.stdout.write(`\n=== ${command}\n`);
  const started = performance.now();
  const code = await run(script, args);
  results.push({ command, code, seconds: (performance.now() - started) / 1000 });
}

process.stdout.write('\n=== summary\n');
for (const { command, code, seconds } of results) {
  process.stdout.write(
    `${code === 0 ? 'ok    ' : `FAILED (exit ${code})`}  ${command}  (${seconds.toFixed(0)} s)\n`,
  );
}
const failed = interrupted || results.some((r) => r.code !== 0);
process.exit(interrupted ? 130 : failed ? 1 : 0);
