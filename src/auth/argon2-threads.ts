import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';

/**
 * argon2 on threads of its own, at most `limit` at once (one per core by default), each thread running one
 * computation after another.
 *
 * Why not @node-rs/argon2's async functions: they run on libuv's thread pool (4 threads), where more computations
 * than cores, each walking its own 19 MiB, hop between threads and cores and thrash the caches. Measured on a
 * 2-core machine (`bench/login.ts`, and the bare loop of `bench/lib/argon2-loop.ts`): 2 dedicated threads verify
 * ~20 % more per second than the 4 pool threads, and logins went from ~151 to ~171 a second. It also
 * leaves libuv's pool to file system and DNS work while logins queue.
 *
 * The thread's code is evaluated from a string (not a module file) so that it needs no TypeScript loader, from
 * the sources or from `dist/`, and it runs without this process's flags (no tsx, no profiler in each thread);
 * it loads the same @node-rs/argon2 as this process, whether it is evaluated as a script (`require`) or as a
 * module (`process.getBuiltinModule`, which Node 22.0–22.2 lack; there it is always a script).
 */
const THREAD_SOURCE = `
const builtin = (name) => (typeof require === 'function' ? require(name) : process.getBuiltinModule(name));
const { parentPort, workerData } = builtin('node:worker_threads');
const argon2 = builtin('node:module').createRequire(workerData.argon2)(workerData.argon2);
parentPort.on('message', ({ id, op, args }) => {
  try {
    const value = op === 'hash' ? argon2.hashSync(args[0], args[1]) : argon2.verifySync(args[0], args[1]);
    parentPort.postMessage({ id, value });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

const ARGON2_MODULE = createRequire(import.meta.url).resolve('@node-rs/argon2');

type Operation = { op: 'hash'; args: [string, Options] } | { op: 'verify'; args: [string, string] };

interface Task {
  id: number;
  operation: Operation;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface ArgonThread {
  worker: Worker;
  /** The computation it runs now; null when idle. */
  task: Task | null;
}

export class Argon2Threads {
  private readonly threads: ArgonThread[] = [];
  private readonly waiting: Task[] = [];
  private nextId = 1;

  constructor(private limit: number) {
    this.setLimit(limit);
  }

  /** Changes how many threads may run; extra idle threads end, busy ones end after their computation. */
  setLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer: ${limit}`);
    this.limit = limit;
    this.trim();
    this.dispatch();
  }

  /** Threads alive now (started lazily, at most the limit). */
  get threadCount(): number {
    return this.threads.length;
  }

  /** Computations waiting for a thread. */
  get queued(): number {
    return this.waiting.length;
  }

  hash(password: string, options: Options): Promise<string> {
    return this.submit({ op: 'hash', args: [password, options] }) as Promise<string>;
  }

  /** Rejects when the stored hash is malformed (as @node-rs/argon2's verify does). */
  verify(storedHash: string, password: string): Promise<boolean> {
    return this.submit({ op: 'verify', args: [storedHash, password] }) as Promise<boolean>;
  }

  /** Ends every thread; waiting and running computations are rejected. */
  async close(): Promise<void> {
    const closed = new Error('argon2 threads closed');
    for (const task of this.waiting.splice(0)) task.reject(closed);
    await Promise.all(this.threads.splice(0).map((thread) => this.end(thread, closed)));
  }

  private submit(operation: Operation): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, operation, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const thread = this.threads.find((t) => t.task === null) ?? this.spawn();
      if (!thread) return;
      const task = this.waiting.shift() as Task;
      thread.task = task;
      // A busy thread keeps the process alive until its answer (a pending promise alone would not).
      thread.worker.ref();
      thread.worker.postMessage({ id: task.id, ...task.operation });
    }
  }

  private spawn(): ArgonThread | null {
    if (this.threads.length >= this.limit) return null;
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { argon2: ARGON2_MODULE },
    });
    const thread: ArgonThread = { worker, task: null };
    worker.on('message', (message: { id: number; value?: unknown; error?: string }) => {
      const task = thread.task;
      if (!task || task.id !== message.id) return;
      thread.task = null;
      thread.worker.unref();
      if (message.error === undefined) task.resolve(message.value);
      else task.reject(new Error(message.error));
      this.trim();
      this.dispatch();
    });
    const lost = (error: Error) => {
      const index = this.threads.indexOf(thread);
      if (index === -1) return;
      this.threads.splice(index, 1);
      thread.task?.reject(error);
      thread.task = null;
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`argon2 thread exited (code ${code})`)));
    // An idle thread must not keep the process alive. After the listeners: adding a 'message' listener refs the
    // worker again.
    worker.unref();
    this.threads.push(thread);
    return thread;
  }

  /** Ends idle threads above the limit (after a cut). */
  private trim(): void {
    for (const thread of [...this.threads]) {
      if (this.threads.length <= this.limit) return;
      if (thread.task !== null) continue;
      this.threads.splice(this.threads.indexOf(thread), 1);
      void this.end(thread, new Error('argon2 thread ended'));
    }
  }

  private async end(thread: ArgonThread, error: Error): Promise<void> {
    thread.task?.reject(error);
    thread.task = null;
    await thread.worker.terminate();
  }
}
