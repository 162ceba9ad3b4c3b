/**
 * `npm run bench`: the benchmarks with modest defaults, one after another, each as a child process whose
 * output is shown as it comes. Exits non-zero if any of them fails.
 *
 *   1. node --import tsx bench/tenant-throughput.ts --tenants 200 --duration 5
 *   2. node --import tsx bench/provisioning.ts --engine postgres --count 50   (if that file exists)
 *   3. node --import tsx bench/provisioning.ts --engine pglite --count 10     (if that file exists)
 *
 * Ctrl-C reaches the running benchmark directly (same process group); it cleans up and the rest are skipped.
 * A SIGTERM sent to this process alone is passed on to the running benchmark as SIGINT, which both handle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const runs: { script: string; args: string[] }[] = [
  { script: 'bench/tenant-throughput.ts', args: ['--tenants', '200', '--duration', '5'] },
];
if (existsSync(new URL('provisioning.ts', import.meta.url))) {
  runs.push(
    { script: 'bench/provisioning.ts', args: ['--engine', 'postgres', '--count', '50'] },
    { script: 'bench/provisioning.ts', args: ['--engine', 'pglite', '--count', '10'] },
  );
}

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
if (!existsSync(new URL('provisioning.ts', import.meta.url))) {
  process.stdout.write('(bench/provisioning.ts not found: provisioning benchmark skipped)\n');
}
const failed = interrupted || results.some((r) => r.code !== 0);
process.exit(interrupted ? 130 : failed ? 1 : 0);
