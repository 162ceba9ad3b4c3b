/**
 * One place that undoes what a benchmark created (child processes, databases, directories), whatever way the
 * run ends: normally, by an error, by Ctrl-C / SIGTERM, or by its own time limit.
 */

type Task = { name: string; run: () => Promise<void> };

const tasks: Task[] = [];
let running: Promise<void> | undefined;

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
      try {
        await task.run();
      } catch (error) {
        process.stderr.write(`cleanup "${task.name}" failed: ${describe(error)}\n`);
      }
    }
  })();
  return running;
}

export function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Ctrl-C, SIGTERM and the time limit all clean up, then exit. Repeated signals are ignored while cleaning up
 * (a second Ctrl-C must not leave databases behind).
 */
export function guardRun(options: { maxSeconds: number }): void {
  const stop = (reason: string, code: number) => {
    if (running) return;
    process.stderr.write(`\n${reason}: stopping servers and dropping benchmark databases…\n`);
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

/** Runs `main`, then cleans up; exits non-zero on failure. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  let code = 0;
  try {
    await main();
  } catch (error) {
    process.stderr.write(`benchmark failed: ${describe(error)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(code);
}
