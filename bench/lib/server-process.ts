import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnHttpServer } from './spawn-http-server.js';

/** The repository root: servers run from it, as `npm start` does. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
  /** The server's own process (not a wrapper): its CPU time is read from /proc/<pid>/stat. */
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
  /** CPUs the server may run on (`taskset -c` list). */
  cpuList?: string;
  /** Where stdout (the request log) goes; default: the log tail. */
  stdoutFile?: string;
}

/** Starts a Node.js server (`node --import tsx <script>`) on 127.0.0.1 and waits until `readyPath` answers 200. */
export function startServer(options: StartOptions): Promise<ServerProcess> {
  return spawnHttpServer({
    name: options.name,
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), '--import', 'tsx', options.script],
    cwd: REPO_ROOT,
    env: options.env,
    port: options.port,
    readyPath: options.readyPath,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.cpuList === undefined ? {} : { cpuList: options.cpuList }),
    ...(options.stdoutFile === undefined ? {} : { stdoutFile: options.stdoutFile }),
  });
}
