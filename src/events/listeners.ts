/**
 * The listeners of one kind of event: what a component emits for observers (metrics, say) to subscribe to,
 * instead of their wrapping its methods. Listeners run synchronously, in subscription order, and must not throw.
 *
 * @example
 * const runs = new Listeners<{ ok: boolean }>();
 * const unsubscribe = runs.subscribe((run) => counter.inc({ ok: String(run.ok) }));
 * runs.emit({ ok: true });
 */
export class Listeners<Event> {
  private readonly listeners = new Set<(event: Event) => void>();

  /** Calls `listener` with every event emitted from now on; returns the function that stops it. */
  subscribe(listener: (event: Event) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: Event): void {
    for (const listener of this.listeners) listener(event);
  }
}
