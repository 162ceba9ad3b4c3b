import { readFile } from 'node:fs/promises';

/** Resident memory of one process, from `/proc/<pid>/status` (Linux), in MiB. */
export interface ProcessMemory {
  /** VmRSS: what the process holds in RAM now. */
  rss: number;
  /** VmHWM: the highest VmRSS so far. */
  peak: number;
  /** RssAnon: heap, WebAssembly memories, stacks (RSS minus mapped files and shared memory). */
  anon: number;
}

const KIB_FIELDS = { rss: 'VmRSS', peak: 'VmHWM', anon: 'RssAnon' } as const;

/** Reads the memory of `pid`; throws where `/proc` is missing (the benchmark is Linux-only). */
export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const read = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) / 1024;
  };
  return { rss: read(KIB_FIELDS.rss), peak: read(KIB_FIELDS.peak), anon: read(KIB_FIELDS.anon) };
}

/** The command line of `pid` and the pids of its children, to show which process is measured. */
export async function processTree(pid: number): Promise<{ command: string; children: number[] }> {
  const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  let children: number[] = [];
  try {
    const list = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    children = list.split(' ').filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: nothing to show.
  }
  return { command, children };
}
