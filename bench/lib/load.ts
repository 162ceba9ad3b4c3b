import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aborted, throwIfAborted } from './cleanup.js';
import { onPath } from './on-path.js';
import { REPO_ROOT } from './server-process.js';

/** One request of the load; each request sent is a random one of the list (a random tenant, typically). */
export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What bench/lib/load-worker.ts runs (written to a file for it). */
export interface LoadSpec {
  baseUrl: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  requests: LoadRequest[];
}

export interface LoadResult {
  /** Mean of autocannon's per-second request counts. */
  requestsPerSecond: number;
  /** Responses received (any status). */
  responses: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Response count by status code. */
  statusCodes: Record<string, number>;
}

export interface LoadOptions extends LoadSpec {
  /** CPUs of the load generator (`taskset -c` list), away from the server's. */
  cpuList?: string;
  /** Called when the warm-up is over and the measured window starts (e.g. to read the server's CPU time). */
  onWarm?: () => Promise<void> | void;
}

/**
 * Runs the load generator (autocannon) in a child process of its own against 127.0.0.1: warm-up, then the
 * measured window; `onWarm` runs between the two. Bounded: the child is killed 30 s after it should have ended.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (new URL(options.baseUrl).hostname !== '127.0.0.1') throw new Error('load only targets 127.0.0.1');
  throwIfAborted();
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-load-'));
  try {
    const specFile = join(dir, 'spec.json');
    const { cpuList, onWarm, ...spec } = options;
    writeFileSync(specFile, JSON.stringify(spec));
    const node = [process.execPath, '--import', 'tsx', 'bench/lib/load-worker.ts', specFile];
    const taskset = cpuList === undefined ? null : onPath('taskset');
    const [command, ...args] = taskset && cpuList !== undefined ? [taskset, '-c', cpuList, ...node] : node;
    const child = spawn(command as string, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const bound = setTimeout(
      () => child.kill('SIGKILL'),
      (options.warmupSeconds + options.durationSeconds + 30) * 1000,
    );
    const stop = () => child.kill('SIGINT');
    aborted.addEventListener('abort', stop, { once: true });
    let stdout = '';
    let stderr = '';
    let warmed: Promise<void> = Promise.resolve();
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
    child.stdout.on('data', (chunk: Buffer) => {
      const before = stdout;
      stdout += chunk.toString();
      if (!before.includes('warm\n') && stdout.includes('warm\n')) warmed = Promise.resolve(onWarm?.());
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(bound);
    aborted.removeEventListener('abort', stop);
    await warmed;
    const last = stdout.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !last.startsWith('{')) {
      throw new Error(`load generator failed (exit ${code}): ${stderr.trim().slice(-1_000)}`);
    }
    return JSON.parse(last) as LoadResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
