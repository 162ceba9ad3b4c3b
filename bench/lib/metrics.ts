/** The connection manager's counters and gauges, as Tenantry's GET /metrics exposes them. */
export interface ManagerView {
  opened: number;
  evictions: number;
  timeouts: number;
  connections: number;
  openTenants: number;
  budget: number;
  inUse: number;
  waiters: number;
}

const SERIES: Record<keyof ManagerView, string> = {
  opened: 'tenantry_tenant_connections_opened_total',
  evictions: 'tenantry_tenant_connection_evictions_total',
  timeouts: 'tenantry_tenant_connection_timeouts_total',
  connections: 'tenantry_tenant_connections',
  openTenants: 'tenantry_tenant_databases_open',
  budget: 'tenantry_tenant_connections_max',
  inUse: 'tenantry_tenant_connections_in_use',
  waiters: 'tenantry_tenant_connection_waiters',
};

/** Every unlabelled series of Tenantry's /metrics (no METRICS_TOKEN is set in the benchmarks); null when it cannot. */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number> | null> {
  try {
    const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (response.status !== 200) return null;
    const values = new Map<string, number>();
    for (const line of (await response.text()).split('\n')) {
      const match = /^([a-z_]+) (\S+)$/.exec(line);
      if (match) values.set(match[1] as string, Number(match[2]));
    }
    return values;
  } catch {
    return null;
  }
}

/** The connection manager's view from Tenantry's /metrics; null when it cannot be scraped. */
export async function scrapeManager(baseUrl: string): Promise<ManagerView | null> {
  const values = await scrapeMetrics(baseUrl);
  if (!values) return null;
  const view = {} as ManagerView;
  for (const [key, series] of Object.entries(SERIES) as [keyof ManagerView, string][]) {
    const value = values.get(series);
    if (value === undefined) return null;
    view[key] = value;
  }
  return view;
}

/**
 * Waits (up to `timeoutMs`) until no request holds or waits for a tenant connection: autocannon drops its
 * sockets at the end of a run, but the server still finishes the requests it had queued.
 */
export async function waitIdle(baseUrl: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = await scrapeManager(baseUrl);
    if (!view || (view.inUse === 0 && view.waiters === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
