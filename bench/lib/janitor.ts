import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';

/** What a janitor cleans up after a benchmark process that could not (see janitor-process.ts). */
export interface JanitorSpec {
  serverUrl: string;
  /** The core database: it and every `<core>_*` database are dropped. */
  coreName: string;
  dataDir: string;
}

let channel: Writable | null = null;

/**
 * Starts a detached janitor process that outlives this one: when this process ends in any way (even SIGKILL,
 * which `tsx`'s own launcher sends when a Ctrl-C is not acknowledged within ~60 ms on a busy machine), it kills
 * the servers still alive and drops the databases still there. After a normal clean-up it finds nothing to do.
 */
export function startJanitor(spec: JanitorSpec): void {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('janitor-process.ts', import.meta.url)), JSON.stringify(spec)],
    // Its own process group, so a Ctrl-C meant for the benchmark does not stop it.
    {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      detached: true,
      stdio: ['pipe', 'ignore', 'inherit'],
    },
  );
  child.once('error', (error) => {
    channel = null;
    process.stderr.write(`warning: no janitor (${error.message}); a killed run may leave databases behind\n`);
  });
  child.stdin.on('error', () => (channel = null));
  child.unref();
  (child.stdin as unknown as Socket).unref();
  channel = child.stdin;
}

/** The janitor kills this server process if the benchmark dies before stopping it. */
export function janitorWatch(pid: number): void {
  channel?.write(`+${pid}\n`);
}

/** The server process has exited: the janitor forgets it (its pid may be reused). */
export function janitorForget(pid: number): void {
  channel?.write(`-${pid}\n`);
}
