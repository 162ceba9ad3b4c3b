import { fork } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a failed job's error shows of the child's stderr. */
const STDERR_TAIL = 4_000;

/**
 * A module next to `importMetaUrl`, with the caller's own extension: `.ts` when running from the sources
 * (tsx), `.js` from the compiled `dist/`.
 *
 * @example
 * const entry = siblingModule(import.meta.url, 'pglite-initdb.child');
 */
export function siblingModule(importMetaUrl: string, baseName: string): URL {
  return new URL(`./${baseName}${extname(fileURLToPath(importMetaUrl))}`, importMetaUrl);
}

/**
 * Runs `entry` in a short-lived Node.js process with `input` (JSON) as its only argument, and resolves when it
 * exits with 0; otherwise rejects with the end of its stderr.
 *
 * For one-off work that needs much memory only while it runs, such as creating an embedded database (initdb).
 * Done in the server's own process, that memory would become garbage that V8 has no reason to collect while the
 * server idles (measured: ~150 MB of RSS still held at ready, bench/embedded-memory.ts); a process that exits
 * returns all of it at once.
 *
 * @example
 * await runChildProcessJob(siblingModule(import.meta.url, 'pglite-initdb.child'), { dataDir });
 */
export function runChildProcessJob(entry: URL, input: unknown): Promise<void> {
  const file = fileURLToPath(entry);
  // Sources need tsx in the child too; resolved from here, so it works whatever the working directory.
  // --liftoff-only: PostgreSQL's WebAssembly without V8's optimizing compiler, whose work on PGlite's largest
  // functions peaks at hundreds of MiB (see the README's "Embedded engine memory").
  const execArgv = [
    '--liftoff-only',
    ...(extname(file) === '.ts' ? ['--import', import.meta.resolve('tsx')] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = fork(file, [JSON.stringify(input)], {
      execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} failed (${signal ?? `exit code ${code}`}): ${stderr.trim()}`));
    });
  });
}

/**
 * The child side: parses the JSON argument, runs `job`, and exits 0, or 1 after printing the error to stderr.
 *
 * @example
 * runAsChildProcessJob<{ dataDir: string }>(async ({ dataDir }) => { … });
 */
export function runAsChildProcessJob<T>(job: (input: T) => Promise<void>): void {
  job(JSON.parse(process.argv[2] ?? 'null') as T).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
