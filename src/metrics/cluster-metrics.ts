import type { Worker } from 'node:cluster';
import cluster from 'node:cluster';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';

/** A worker asks the primary for everyone's metrics. */
const REQUEST = 'tenantry:metrics-request';
/** The primary answers it with the aggregate (or an error). */
const RESPONSE = 'tenantry:metrics-response';
/** The primary asks each worker for its own metrics. */
const COLLECT = 'tenantry:metrics-collect';
/** A worker answers with them. */
const COLLECTED = 'tenantry:metrics-collected';

const PRIMARY_TIMEOUT_MS = 5_000;
/** A little longer than the primary's own deadline, so its error (not a guess) reaches the worker. */
const WORKER_TIMEOUT_MS = 6_000;

type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

interface Message {
  type: string;
  id: number;
}
interface Response extends Message {
  text?: string;
  error?: string;
}
interface Collected extends Message {
  metrics: WorkerMetrics;
}

function isMessage<T extends Message>(message: unknown, type: string): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/**
 * In the cluster primary: answers a worker's request for every worker's metrics. It asks each worker that is
 * listening (one still starting has no registry yet) for its series and merges them with prom-client's
 * aggregation: counters and histograms summed, gauges summed unless the metric says otherwise (event-loop lag
 * is averaged). Without this, a scrape through the shared port would see one random worker's counters each time.
 * It is all or nothing: a partial sum would look like a counter reset to Prometheus.
 */
export function serveClusterMetrics(listeningWorkers: () => Worker[]): void {
  let nextId = 0;
  const collections = new Map<number, { add(metrics: WorkerMetrics): void }>();

  const collect = (workers: Worker[]) =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const gathered: WorkerMetrics[] = [];
      const timer = setTimeout(() => {
        collections.delete(id);
        reject(new Error(`${workers.length - gathered.length} worker(s) did not send their metrics in time`));
      }, PRIMARY_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        collections.delete(id);
        AggregatorRegistry.aggregate(gathered).metrics().then(resolve, reject);
      };
      collections.set(id, {
        add(metrics) {
          gathered.push(metrics);
          if (gathered.length === workers.length) finish();
        },
      });
      for (const worker of workers) worker.send({ type: COLLECT, id } satisfies Message);
      if (workers.length === 0) finish();
    });

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage<Collected>(message, COLLECTED)) {
      collections.get(message.id)?.add(message.metrics);
      return;
    }
    if (!isMessage<Message>(message, REQUEST)) return;
    const reply = (answer: Omit<Response, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...answer } satisfies Response);
    };
    const targets = listeningWorkers().filter((w) => w.isConnected());
    collect(targets).then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/**
 * In a cluster worker: sends this worker's registry when the primary collects, and fetches the aggregate of
 * all workers for this worker's /metrics answer. `close()` stops listening.
 */
export class ClusterMetricsClient {
  private nextId = 0;
  private readonly pending = new Map<number, (answer: Response) => void>();
  private readonly onMessage = (message: unknown) => {
    if (isMessage<Message>(message, COLLECT)) {
      void this.registry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics } satisfies Collected));
      return;
    }
    if (isMessage<Response>(message, RESPONSE)) this.pending.get(message.id)?.(message);
  };

  constructor(private readonly registry: Registry) {
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
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (answer.text !== undefined) resolve(answer.text);
        else reject(new Error(`cluster metrics: ${answer.error ?? 'no answer'}`));
      });
      process.send?.({ type: REQUEST, id } satisfies Message);
    });
  }

  close(): void {
    process.off('message', this.onMessage);
  }
}
