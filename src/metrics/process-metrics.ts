import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, heap, handles, GC, event-loop lag), collected once per process.
 * They describe the process, not an app, and each collection starts an event-loop monitor and a GC observer
 * that are never stopped, so building several apps in one process (tests) must not multiply them. Apps add
 * these metric objects to their own registry.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
