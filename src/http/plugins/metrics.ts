import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { createAppMetrics } from '../../metrics/app-metrics.js';
import { ClusterMetricsClient } from '../../metrics/cluster-metrics.js';
import { namedPlugin } from './named-plugin.js';
import { ROUTE_INFO } from './route-info.js';

export interface MetricsOptions {
  /** This app is one node:cluster worker of several: /metrics answers with every worker's series summed. */
  clusterWorker?: boolean;
}

/** Requests no route matched share one label value, so scanners cannot create series. */
const UNMATCHED_ROUTE = 'unmatched';

function bearerMatches(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.toLowerCase().startsWith('bearer ')) return false;
  const given = Buffer.from(header.slice(7).trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * GET /metrics in the Prometheus text format, from a registry of this app's own: request counts and latency by
 * route pattern and status, tenant connection gauges, provisioning durations, and the process's default metrics
 * (event-loop lag included). With METRICS_TOKEN set it needs `Authorization: Bearer <token>`. Register on the
 * root instance so the onResponse hook sees every route.
 */
export const prometheusMetrics = namedPlugin<MetricsOptions>(
  async (app, options) => {
    const metrics = createAppMetrics({
      connectionStats: () => app.services.connections.stats(),
      maxConnections: app.config.tenantConnections.maxConnections,
    });
    const unsubscribe = app.services.provisioner.runs.subscribe((run) =>
      metrics.provisioning.observe({ outcome: run.outcome }, run.seconds),
    );
    app.addHook('onClose', async () => unsubscribe());
    const cluster = options.clusterWorker ? new ClusterMetricsClient(metrics.registry) : null;
    if (cluster) app.addHook('onClose', async () => cluster.close());

    // Synchronous: an async hook costs a promise on every request.
    app.addHook('onResponse', (request, reply, done) => {
      const labels = {
        method: request.method,
        route: request.routeInfo?.url ?? UNMATCHED_ROUTE,
        status_code: String(reply.statusCode),
      };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
      done();
    });

    const token = app.config.metricsToken;
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description:
            'Prometheus text format. Needs `Authorization: Bearer <METRICS_TOKEN>` when that is set.',
          ...(token ? { security: [{ bearer: [] }] } : {}),
        },
      },
      async (request, reply) => {
        if (token !== null) {
          if (request.headers.authorization === undefined) throw new AppError('NOT_AUTHENTICATED');
          if (!bearerMatches(request, token)) throw new AppError('TOKEN_INVALID');
        }
        let text: string;
        try {
          text = cluster ? await cluster.collect() : await metrics.registry.metrics();
        } catch (error) {
          request.log.warn({ err: error }, 'metrics could not be collected');
          throw new AppError('SERVICE_UNAVAILABLE', 'Metrics are unavailable, try again shortly', {
            headers: { 'retry-after': '5' },
          });
        }
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  },
  { name: 'tenantry-metrics', dependencies: [ROUTE_INFO], decorators: { fastify: ['config', 'services'] } },
);
