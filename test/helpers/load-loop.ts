/** One request of a load run, as the client saw it. */
export interface Sample {
  op: string;
  status: number;
  code?: string;
  retryAfter?: string;
  /** How long the request took; a request still unanswered after `hangMs` is recorded with status 0. */
  ms: number;
  /** When it was sent, in ms since the load started. */
  at: number;
  /** What the op wrote, if it answered success (e.g. the email of a registration that got 201). */
  wrote?: string;
}

export type Op = () => Promise<Omit<Sample, 'ms' | 'at' | 'op'>>;

/**
 * `workers` concurrent loops, each running the ops round-robin until stopped. A request that has not answered
 * within `hangMs` is recorded as hung (status 0) and left behind, so one hang cannot stall the load or the test.
 */
export function startLoad(ops: Record<string, Op>, options: { workers: number; hangMs: number }) {
  const samples: Sample[] = [];
  const t0 = Date.now();
  let running = true;
  const names = Object.keys(ops);
  const worker = async (offset: number) => {
    for (let i = offset; running; i++) {
      const op = names[i % names.length] as string;
      const at = Date.now() - t0;
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), options.hangMs)));
      const result = await Promise.race([
        (ops[op] as Op)().catch((error: Error) => ({ status: -1, code: error.message })),
        hung,
      ]);
      clearTimeout(timer);
      samples.push({ op, at, ms: Date.now() - t0 - at, ...(result ?? { status: 0, code: 'HUNG' }) });
    }
  };
  const loops = Array.from({ length: options.workers }, (_, i) => worker(i));
  return {
    samples,
    /** Milliseconds since the load started. */
    now: () => Date.now() - t0,
    async stop(): Promise<Sample[]> {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Waits until `check` holds (polling every 50 ms), or throws after `withinMs`. Returns how long it took. */
export async function eventually(
  check: () => Promise<boolean>,
  withinMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
