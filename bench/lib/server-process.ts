import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { onCleanup, throwIfAborted } from './cleanup.js';
import { janitorForget, janitorWatch } from './janitor.js';

/** The repository root: servers run from it, as `npm start` does. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const LOG_TAIL = 40;
const STOP_GRACE_MS = 12_000;
const live = new Set<ChildProcess>();

// Last resort when the benchmark exits without cleaning up (an uncaught error): no server outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (asked from the OS, then released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface ServerProcess {
  readonly name: string;
  readonly baseUrl: string;
  readonly pid: number;
  /** The last lines the server wrote (stdout and stderr). */
  logTail(): string[];
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** A TypeScript entry point, relative to the repository root, run with `node --import tsx`. */
  script: string;
  /** The whole environment of the child (PATH and HOME are added); nothing else is inherited. */
  env: Record<string, string>;
  port: number;
  /** Polled until it answers 200. */
  readyPath: string;
  timeoutMs?: number;
  /** Extra Node.js flags, before `--import tsx` (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

/** Starts a server as a child process on 127.0.0.1 and waits until `readyPath` answers 200. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  throwIfAborted();
  const env: Record<string, string> = { ...options.env, HOST: '127.0.0.1', PORT: String(options.port) };
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined && env[name] === undefined) env[name] = value;
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', options.script], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const pid = child.pid;
  if (pid !== undefined) janitorWatch(pid);
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line);
      if (tail.length > LOG_TAIL) tail.shift();
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }).then(() => {
    live.delete(child);
    if (pid !== undefined) janitorForget(pid);
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      unregister();
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
    await waitReady(child, `${baseUrl}${options.readyPath}`, options.timeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    const log = tail.length > 0 ? `\n--- last lines of ${options.name} ---\n${tail.join('\n')}` : '';
    throw new Error(`${options.name} did not become ready: ${String(error)}${log}`);
  }
  return server;
}

async function waitReady(child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
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
