import { fixed } from './report.js';
import type { ScenarioSummary } from './segments.js';

/** One scenario's line in the results table. */
export function row(s: ScenarioSummary): string[] {
  return [
    s.label,
    fixed(s.requestsPerSecond, 0),
    fixed(s.ratioToBaseline, 3),
    s.ratiosPerRound.map((r) => fixed(r, 2)).join(', '),
    fixed(s.cpuMicrosPerRequest ?? NaN, 0),
    fixed(s.p50Ms),
    fixed(s.p99Ms),
    String(s.errors),
    s.openedPerRequest === null ? '–' : fixed(s.openedPerRequest, 3),
    s.peakConnections === null ? '–' : String(s.peakConnections),
  ];
}

export const HEADER = [
  'scenario',
  'req/s',
  '× baseline',
  'per round',
  'CPU µs/req',
  'p50 ms',
  'p99 ms',
  'errors',
  'PG opened/req',
  'PG peak',
];

export function markdownTable(summaries: readonly ScenarioSummary[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const s of summaries) lines.push(`| ${row(s).join(' | ')} |`);
  return lines.join('\n');
}
