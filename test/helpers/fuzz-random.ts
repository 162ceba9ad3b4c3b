/**
 * Seeded randomness for the robustness suites, so a failure can be replayed exactly:
 * `FUZZ_SEED=<seed printed by the failure> node scripts/run-tests.mjs <file>`.
 */

/** Soak mode (`SOAK=1`): the same suites, with many more generated inputs and longer load phases. */
export const SOAK = process.env.SOAK === '1' || process.env.SOAK === 'true';

/** Per-test timeout: the runner's default (120 s) is too short for a soak run. */
export const SOAK_TIMEOUT = SOAK ? 60 * 60_000 : undefined;

/** The seed of this run: `FUZZ_SEED`, else a fresh one (printed with every failure). */
export const FUZZ_SEED: number = (() => {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new Error(`FUZZ_SEED must be an integer 0..4294967295 (got "${given}")`);
    return seed;
  }
  return Math.floor(Math.random() * 0x100000000);
})();

/** mulberry32: a tiny, fast 32-bit PRNG; good enough to pick inputs, and the same sequence for a seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random choices over one seeded stream. */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** `count` distinct items (all of them when there are fewer), in a random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, count);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The line to print with any failure of a seeded suite. */
export function replayHint(file: string): string {
  return `replay with: FUZZ_SEED=${FUZZ_SEED} node scripts/run-tests.mjs ${file}`;
}
