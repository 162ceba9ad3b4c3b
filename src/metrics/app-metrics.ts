import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { ConnectionStats } from '../tenancy/connections/connection-manager.js';
import { processMetrics } from './process-metrics.js';

/** Labels of the HTTP series: bounded by the routes and status codes, never by tenant, user or raw URL. */
export type HttpLabels = 'method' | 'route' | 'status_code';

/** One app's metrics, in a registry of its own (never prom-client's global one). */
export interface AppMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<HttpLabels>;
  readonly httpDuration: Histogram<HttpLabels>;
  readonly provisioning: Histogram<'outcome'>;
}

export interface AppMetricsSources {
  /** Read at every scrape, so the gauges are never stale. */
  connectionStats(): ConnectionStats;
  /** This process's tenant connection budget (its share of TENANT_MAX_CONNECTIONS under WEB_CONCURRENCY). */
  maxConnections: number;
}

/**
 * Builds the registry of one app: the process's default metrics, HTTP series, tenant connection gauges read
 * from the connection manager at scrape time, and provisioning durations.
 *
 * @example
 * const metrics = createAppMetrics({ connectionStats: () => manager.stats(), maxConnections: 40 });
 * const text = await metrics.registry.metrics();
 */
export function createAppMetrics(sources: AppMetricsSources): AppMetrics {
  const registry = new Registry();
  // getMetricsAsArray() is typed as plain objects but returns the metric instances themselves.
  for (const metric of processMetrics().getMetricsAsArray())
    registry.registerMetric(metric as unknown as Metric);
  const registers = [registry];

  const httpRequests = new Counter<HttpLabels>({
    name: 'tenantry_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    registers,
  });
  const httpDuration = new Histogram<HttpLabels>({
    name: 'tenantry_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const provisioning = new Histogram<'outcome'>({
    name: 'tenantry_tenant_provisioning_duration_seconds',
    help: 'Duration of tenant provisioning runs (database copy, migrations, owner), by outcome.',
    labelNames: ['outcome'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  });

  const gauge = (name: string, help: string, read: (stats: ConnectionStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(sources.connectionStats()));
      },
    });
  // Cumulative values kept by the connection manager: exposed as counters so rate() applies.
  const counter = (name: string, help: string, read: (stats: ConnectionStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(sources.connectionStats()));
      },
    });
  gauge(
    'tenantry_tenant_databases_open',
    'Tenant databases with at least one open connection.',
    (s) => s.openTenants,
  );
  gauge(
    'tenantry_tenant_connections',
    'Open connections to tenant databases (including opening).',
    (s) => s.connections,
  );
  gauge('tenantry_tenant_connections_in_use', 'Tenant connections checked out by requests.', (s) => s.inUse);
  gauge('tenantry_tenant_connections_idle', 'Tenant connections open and idle.', (s) => s.idle);
  gauge('tenantry_tenant_connection_waiters', 'Requests waiting for a tenant connection.', (s) => s.waiters);
  counter(
    'tenantry_tenant_connection_evictions_total',
    'Idle tenant connections closed to make room for another tenant.',
    (s) => s.evictions,
  );
  counter(
    'tenantry_tenant_connection_timeouts_total',
    'Requests refused (503) because no tenant connection became free in time or the wait queue was full.',
    (s) => s.timeouts,
  );
  counter('tenantry_tenant_connections_opened_total', 'Tenant connections opened.', (s) => s.opened);
  new Gauge({
    name: 'tenantry_tenant_connections_max',
    help: 'Tenant connection budget of this process; summed over workers, the whole server budget.',
    registers,
  }).set(sources.maxConnections);

  return { registry, httpRequests, httpDuration, provisioning };
}
