import { onCleanup } from './cleanup.js';
import { PgConnectionWatch } from './pg-connections.js';
import { fixed } from './report.js';
import { measureSegment, summarize, type Scenario, type ScenarioSummary } from './segments.js';

export interface RoundsOptions {
  serverUrl: string;
  /** The run's core database: connections to it and its tenant databases are watched. */
  coreName: string;
  rounds: number;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  loadCpus: string | undefined;
  /** The user id every answer must carry (a check that the right rows were read). */
  expectUserId: number;
  out: (line: string) => void;
}

/**
 * Measures every scenario once per round, rounds in alternating order (A B C …, … C B A) so that machine noise
 * hits all of them alike, printing each segment as it ends; returns each scenario's summary against the first
 * (the baseline).
 */
export async function runRounds(scenarios: Scenario[], options: RoundsOptions): Promise<ScenarioSummary[]> {
  const watch = new PgConnectionWatch(options.serverUrl, options.coreName);
  await watch.connect();
  onCleanup('close the connection watch', () => watch.close());
  const load = {
    connections: options.connections,
    warmupSeconds: options.warmupSeconds,
    durationSeconds: options.durationSeconds,
    ...(options.loadCpus === undefined ? {} : { cpuList: options.loadCpus }),
  };
  const width = Math.max(...scenarios.map((s) => s.label.length));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      const segment = await measureSegment(scenario, `${scenario.key}-round${round + 1}`, {
        load,
        watch,
        expectUserId: options.expectUserId,
      });
      scenario.segments.push(segment);
      options.out(
        `  round ${round + 1}/${options.rounds}  ${scenario.label.padEnd(width)} ` +
          `${fixed(segment.load.requestsPerSecond, 0).padStart(6)} req/s  ` +
          `${fixed(segment.cpuMicrosPerRequest ?? NaN, 0)} µs CPU/req  ` +
          `p99 ${fixed(segment.load.p99Ms)} ms  errors ${segment.load.non2xx + segment.load.errors}`,
      );
    }
  }
  const baseline = scenarios[0] as Scenario;
  return scenarios.map((s) => summarize(s, baseline));
}
