import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { onPath } from './on-path.js';
import { onCleanup, throwIfAborted } from './cleanup.js';
import { janitorForget, janitorWatch } from './janitor.js';
import type { ServerProcess } from './server-process.js';

/**
 * The generic half of server-process.ts's `startServer`: any command (not only a Node.js script) started as a
 * child process serving HTTP on 127.0.0.1, polled until `readyPath` answers 200, stopped by SIGTERM then
 * SIGKILL, registered with the run's clean-up and with the janitor. Same `ServerProcess` contract.
 */

const LOG_TAIL = 40;
const live = new Set<ChildProcess>();

// Last resort when the benchmark exits without cleaning up (an uncaught error): no server outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface SpawnHttpServerOptions {
  name: string;
  /** The executable (an absolute path, or a name looked up on PATH). */
  command: string;
  args: readonly string[];
  cwd: string;
  /** The whole environment of the child (PATH, HOME, LANG and TMPDIR are added; HOST and PORT are set). */
  env: Record<string, string>;
  port: number;
  /** Polled on http://127.0.0.1:<port> until it answers 200. */
  readyPath: string;
  /** How long the server may take to become ready (default 30 s). */
  timeoutMs?: number;
  /** SIGKILL this long after SIGTERM if the process is still alive (default 12 s). */
  stopGraceMs?: number;
  /** Runs once the process is gone, on every way of stopping (e.g. removes a temp file the server read). */
  afterStop?: () => void | Promise<void>;
  /**
   * CPUs the process may run on (`taskset -c` list, e.g. "0"): pins the server away from the load generator.
   * Ignored, with a line in the log tail, where taskset is missing. taskset execs the command: `pid` stays its pid.
   */
  cpuList?: string;
  /** Where stdout goes (appended): a file, as a log collector would take it; default: kept in the log tail. */
  stdoutFile?: string;
}

/** Starts `command args…` as a child process and waits until `readyPath` answers 200. */
export async function spawnHttpServer(options: SpawnHttpServerOptions): Promise<ServerProcess> {
  throwIfAborted();
  const env: Record<string, string> = { ...options.env, HOST: '127.0.0.1', PORT: String(options.port) };
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined && env[name] === undefined) env[name] = value;
  }
  const taskset = options.cpuList === undefined ? null : onPath('taskset');
  const [command, args] =
    taskset && options.cpuList !== undefined
      ? [taskset, ['-c', options.cpuList, options.command, ...options.args]]
      : [options.command, [...options.args]];
  const stdoutFd = options.stdoutFile === undefined ? null : openSync(options.stdoutFile, 'a');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  if (stdoutFd !== null) closeSync(stdoutFd); // the child has its own copy
  live.add(child);
  const pid = child.pid;
  if (pid !== undefined) janitorWatch(pid);
  const tail: string[] =
    options.cpuList !== undefined && !taskset
      ? [`warning: taskset not found, cpuList ${options.cpuList} ignored`]
      : [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line);
      if (tail.length > LOG_TAIL) tail.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // A command that cannot be started (ENOENT) emits 'error' and no 'exit'.
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  }).then(() => {
    live.delete(child);
    if (pid !== undefined) janitorForget(pid);
  });
  const gone = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        if (!gone()) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs ?? 12_000);
          await exited;
          clearTimeout(timer);
        }
      } finally {
        unregister();
        await options.afterStop?.();
      }
    })();
    return stopping;
  };
  const unregister = onCleanup(`stop ${options.name}`, stop);

  const baseUrl = `http://127.0.0.1:${options.port}`;
  const server: ServerProcess = {
    name: options.name,
    baseUrl,
    pid: pid ?? -1,
    logTail: () => [...tail],
    stop,
  };
  try {
    await waitReady(
      gone,
      () => spawnError,
      child,
      `${baseUrl}${options.readyPath}`,
      options.timeoutMs ?? 30_000,
    );
  } catch (error) {
    await stop();
    const log = tail.length > 0 ? `\n--- last lines of ${options.name} ---\n${tail.join('\n')}` : '';
    throw new Error(`${options.name} did not become ready: ${String(error)}${log}`, { cause: error });
  }
  return server;
}

async function waitReady(
  gone: () => boolean,
  spawnError: () => Error | undefined,
  child: ChildProcess,
  url: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (gone()) {
      const error = spawnError();
      throw new Error(
        error ? `could not start: ${error.message}` : `exited with ${child.exitCode ?? child.signalCode}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms (${last})`);
}
