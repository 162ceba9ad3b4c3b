import { runLoad, type LoadOptions, type LoadRequest, type LoadResult } from './load.js';
import { scrapeManager, waitIdle, type ManagerView } from './metrics.js';
import type { PgConnectionWatch } from './pg-connections.js';
import { processCpuSeconds } from './process-cpu.js';
import { mean } from './report.js';
import type { ServerProcess } from './server-process.js';

/** Lines of a server's own output shown after its segment (BENCH_TAIL_LINES, default 5). */
const TAIL_LINES = Number(process.env.BENCH_TAIL_LINES ?? 5);

/** One server configuration under one load, measured once per round. */
export interface Scenario {
  key: string;
  label: string;
  kind: 'baseline' | 'peer' | 'tenantry';
  /** Tenants the load spreads over. */
  warm: number;
  /** Starts a fresh server for a segment (`segment` names it, e.g. for per-segment profiles or logs). */
  start(segment: string): Promise<ServerProcess>;
  requests: LoadRequest[];
  segments: Segment[];
}

export interface Segment {
  load: LoadResult;
  /** Server CPU (user + system) in the measured window, per response. */
  cpuMicrosPerRequest: number | null;
  /** Sessions PostgreSQL saw opened to the benchmark's databases in the window. */
  pgOpened: number;
  /** Most connections to the benchmark's databases held at once in the window (sampled every 100 ms). */
  pgPeak: number;
  /** Tenantry's own connection manager counters over the window. */
  manager: { opened: number; evictions: number; timeouts: number } | null;
}

export interface SegmentContext {
  load: Omit<LoadOptions, 'baseUrl' | 'requests' | 'onWarm'>;
  watch: PgConnectionWatch;
  /** The user id every answer must carry (the owner's tenant user). */
  expectUserId: number;
}

/** One request before any load: the server answers 200 with the expected user, or the benchmark stops here. */
async function checkAnswer(server: ServerProcess, request: LoadRequest, userId: number): Promise<void> {
  const response = await fetch(`${server.baseUrl}${request.path}`, {
    headers: request.headers,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  let id: unknown;
  try {
    id = (JSON.parse(body) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  if (response.status !== 200 || id !== userId) {
    throw new Error(`${server.name}: GET ${request.path} answered ${response.status} ${body.slice(0, 300)}`);
  }
}

/** Starts the scenario's server, checks it, runs warm-up and measured load, reads its costs, and stops it. */
export async function measureSegment(
  scenario: Scenario,
  name: string,
  context: SegmentContext,
): Promise<Segment> {
  const server = await scenario.start(name);
  try {
    const first = scenario.requests[0];
    if (!first) throw new Error(`${scenario.key}: no request to send`);
    await checkAnswer(server, first, context.expectUserId);
    const tenantry = scenario.kind === 'tenantry';
    let cpuBefore: number | null = null;
    let sessionsBefore = 0;
    let managerBefore: ManagerView | null = null;
    const load = await runLoad({
      ...context.load,
      baseUrl: server.baseUrl,
      requests: scenario.requests,
      onWarm: async () => {
        cpuBefore = processCpuSeconds(server.pid);
        context.watch.startSampling();
        [sessionsBefore, managerBefore] = await Promise.all([
          context.watch.sessions({ settle: false }),
          tenantry ? scrapeManager(server.baseUrl) : null,
        ]);
      },
    });
    const cpuAfter = processCpuSeconds(server.pid);
    const pgPeak = await context.watch.stopSampling();
    const managerAfter = tenantry ? await scrapeManager(server.baseUrl) : null;
    // Let the server finish what the load generator left queued, so stopping it refuses no request.
    if (tenantry) await waitIdle(server.baseUrl);
    const pgOpened = (await context.watch.sessions({ settle: true })) - sessionsBefore;
    const before = managerBefore as ManagerView | null;
    return {
      load,
      cpuMicrosPerRequest:
        cpuBefore !== null && cpuAfter !== null && load.responses > 0
          ? ((cpuAfter - cpuBefore) * 1e6) / load.responses
          : null,
      pgOpened,
      pgPeak,
      manager:
        before && managerAfter
          ? {
              opened: managerAfter.opened - before.opened,
              evictions: managerAfter.evictions - before.evictions,
              timeouts: managerAfter.timeouts - before.timeouts,
            }
          : null,
    };
  } finally {
    await server.stop();
    const tail = server.logTail();
    if (tail.length > 0) {
      process.stderr.write(
        `  ${server.name} logged (last ${Math.min(TAIL_LINES, tail.length)} lines):\n    ${tail.slice(-TAIL_LINES).join('\n    ')}\n`,
      );
    }
  }
}

export interface ScenarioSummary {
  key: string;
  label: string;
  kind: Scenario['kind'];
  warm: number;
  requestsPerSecond: number;
  ratioToBaseline: number;
  ratiosPerRound: number[];
  cpuMicrosPerRequest: number | null;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers plus connection errors and timeouts. */
  errors: number;
  serverErrors: number;
  openedPerRequest: number | null;
  peakConnections: number | null;
  managerOpened: number | null;
  managerEvictions: number | null;
}

/** A scenario's segments in one row: means of the rounds, sums of counts, ratios to the same-run baseline. */
export function summarize(scenario: Scenario, baseline: Scenario): ScenarioSummary {
  const loads = scenario.segments.map((s) => s.load);
  const responses = loads.reduce((sum, l) => sum + l.responses, 0);
  const cpu = scenario.segments.map((s) => s.cpuMicrosPerRequest);
  const managers = scenario.segments.map((s) => s.manager);
  const rps = mean(loads.map((l) => l.requestsPerSecond));
  const baseRps = mean(baseline.segments.map((s) => s.load.requestsPerSecond));
  return {
    key: scenario.key,
    label: scenario.label,
    kind: scenario.kind,
    warm: scenario.warm,
    requestsPerSecond: rps,
    ratioToBaseline: rps / baseRps,
    ratiosPerRound: scenario.segments.map(
      (s, i) => s.load.requestsPerSecond / (baseline.segments[i]?.load.requestsPerSecond ?? NaN),
    ),
    cpuMicrosPerRequest: cpu.every((c) => c !== null)
      ? scenario.segments.reduce((sum, s) => sum + (s.cpuMicrosPerRequest ?? 0) * s.load.responses, 0) /
        Math.max(1, responses)
      : null,
    p50Ms: mean(loads.map((l) => l.p50Ms)),
    p99Ms: mean(loads.map((l) => l.p99Ms)),
    errors: loads.reduce((sum, l) => sum + l.non2xx + l.errors, 0),
    serverErrors: loads.reduce(
      (sum, l) =>
        sum + Object.entries(l.statusCodes).reduce((n, [code, c]) => n + (code.startsWith('5') ? c : 0), 0),
      0,
    ),
    openedPerRequest: scenario.segments.reduce((sum, s) => sum + s.pgOpened, 0) / Math.max(1, responses),
    peakConnections: Math.max(...scenario.segments.map((s) => s.pgPeak)),
    managerOpened: managers.every((m) => m !== null)
      ? managers.reduce((sum, m) => sum + (m?.opened ?? 0), 0)
      : null,
    managerEvictions: managers.every((m) => m !== null)
      ? managers.reduce((sum, m) => sum + (m?.evictions ?? 0), 0)
      : null,
  };
}
