/**
 * One place that undoes what a benchmark created (child processes, databases, directories), whatever way the
 * run ends: normally, by an error, by Ctrl-C / SIGTERM, or by its own time limit.
 *
 * On a signal or the time limit the run is aborted first (`aborted` fires: loads stop, no new server or
 * tenant is started), then the undo steps run, last registered first, then the process exits.
 */

type Task = { name: string; run: () => Promise<void> };

const tasks: Task[] = [];
let running: Promise<void> | undefined;
const controller = new AbortController();
let abortExitCode = 1;

/** Fires when the run is being stopped early; long steps listen to it. */
export const aborted: AbortSignal = controller.signal;

export class AbortedError extends Error {
  constructor() {
    super('benchmark aborted');
    this.name = 'AbortedError';
  }
}

/** Call before creating anything: an aborted run must not start servers or tenants its clean-up would miss. */
export function throwIfAborted(): void {
  if (controller.signal.aborted) throw new AbortedError();
}

/** Registers an undo step; steps run last-registered first. Returns a function that unregisters it. */
export function onCleanup(name: string, run: () => Promise<void>): () => void {
  const task = { name, run };
  tasks.push(task);
  return () => {
    const index = tasks.indexOf(task);
    if (index !== -1) tasks.splice(index, 1);
  };
}

/** Runs every registered step once (later calls share the first run); a failing step does not stop the others. */
export function runCleanup(): Promise<void> {
  running ??= (async () => {
    while (tasks.length > 0) {
      const task = tasks.pop() as Task;
      const started = performance.now();
      try {
        await task.run();
      } catch (error) {
        process.stderr.write(`cleanup "${task.name}" failed: ${describe(error)}\n`);
      }
      const seconds = (performance.now() - started) / 1000;
      if (seconds >= 2) process.stderr.write(`cleanup "${task.name}" took ${seconds.toFixed(1)} s\n`);
    }
  })();
  return running;
}

export function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Ctrl-C, SIGTERM and the time limit abort the run, clean up, then exit. Repeated signals are ignored while
 * cleaning up (a second Ctrl-C must not leave databases behind).
 */
export function guardRun(options: { maxSeconds: number }): void {
  const stop = (reason: string, code: number) => {
    if (controller.signal.aborted) return;
    abortExitCode = code;
    process.stderr.write(`\n${reason}: stopping servers and dropping benchmark databases…\n`);
    controller.abort();
    void runCleanup().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop('interrupted', 130));
  process.on('SIGTERM', () => stop('terminated', 143));
  const deadline = setTimeout(
    () => stop(`time limit of ${options.maxSeconds} s reached`, 1),
    options.maxSeconds * 1000,
  );
  deadline.unref();
}

/** Runs `main`, then cleans up; exits non-zero on failure or abort. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  let code = 0;
  try {
    await main();
  } catch (error) {
    if (!controller.signal.aborted) process.stderr.write(`benchmark failed: ${describe(error)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(controller.signal.aborted ? abortExitCode : code);
}
