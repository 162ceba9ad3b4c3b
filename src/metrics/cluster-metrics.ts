import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'tenantry:cluster-metrics-request';
const RESPONSE = 'tenantry:cluster-metrics-response';
/** prom-client's primary gives up on silent workers after 5 s; the asking worker waits a little longer. */
const WORKER_TIMEOUT_MS = 6_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/**
 * In the cluster primary: answers a worker's request for everyone's metrics. prom-client's AggregatorRegistry
 * asks every worker for its registry over IPC and merges them (counters and histograms summed, gauges summed
 * unless the metric says otherwise, e.g. event-loop lag averaged). Without this, a scrape through the shared
 * port would see one random worker's counters each time.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const reply = (response: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...response });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/**
 * In a cluster worker: offers `registry` to the primary's aggregation, and fetches the aggregate of all
 * workers for this worker's /metrics answer. `close()` stops listening.
 */
export class ClusterMetricsClient {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  private readonly onMessage = (message: unknown) => {
    if (!isMessage<MetricsResponse>(message, RESPONSE)) return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.text !== undefined) waiter.resolve(message.text);
    else waiter.reject(new Error(`cluster metrics: ${message.error ?? 'no answer'}`));
  };

  constructor(registry: Registry) {
    AggregatorRegistry.setRegistries([registry]);
    // Constructing one installs prom-client's listener that answers the primary with this worker's metrics.
    new AggregatorRegistry();
    process.on('message', this.onMessage);
  }

  /** Every worker's metrics, aggregated by the primary, in the Prometheus text format. */
  collect(): Promise<string> {
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('cluster metrics: the primary did not answer in time'));
      }, WORKER_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
  }

  close(): void {
    process.off('message', this.onMessage);
  }
}
