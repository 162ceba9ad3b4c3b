/**
 * The janitor of one benchmark run (started by janitor.ts, detached). It reads `+pid` / `-pid` lines on stdin
 * for the server processes alive; when stdin ends, the benchmark process has ended, however: it then kills the
 * servers still alive, drops `<core>` and `<core>_*` databases still there and removes the data directory.
 * After a normal run all that is already done, and it exits quietly after one look.
 */
import { rmSync } from 'node:fs';
import type { JanitorSpec } from './janitor.js';
import { dropDatabaseFamily } from './postgres.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as JanitorSpec;
const pids = new Set<number>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killServers(): Promise<number> {
  const running = [...pids].filter(alive);
  for (const pid of running) process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 12_000 && running.some(alive); waited += 100) await sleep(100);
  for (const pid of running.filter(alive)) process.kill(pid, 'SIGKILL');
  return running.length;
}

async function finish(): Promise<void> {
  const killed = await killServers();
  let dropped = 0;
  // Again after a pause: a CREATE DATABASE sent just before the benchmark died may still be committing.
  for (let pass = 0; pass < 5; pass++) {
    const n = await dropDatabaseFamily(spec.serverUrl, spec.coreName);
    dropped += n;
    if (n === 0) break;
    await sleep(2_000);
  }
  rmSync(spec.dataDir, { recursive: true, force: true });
  if (killed > 0 || dropped > 0) {
    process.stderr.write(
      `bench janitor: the benchmark ended without cleaning up; stopped ${killed} server(s), ` +
        `dropped ${dropped} database(s) of ${spec.coreName}\n`,
    );
  }
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    const pid = Number(line.slice(1));
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (line.startsWith('+')) pids.add(pid);
    else pids.delete(pid);
  }
});
let finishing = false;
const onEnd = () => {
  if (finishing) return;
  finishing = true;
  finish().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `bench janitor failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
};
process.stdin.on('end', onEnd);
process.stdin.on('error', onEnd);
