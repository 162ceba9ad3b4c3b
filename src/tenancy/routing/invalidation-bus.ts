import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

const CHANNEL = 'tenantry:tenants:invalidate';

interface InvalidationMessage {
  origin: string;
  orgId: number;
  slug?: string;
  /** A custom domain attached to or removed from the organization. */
  domain?: string;
}

/** Forgets cached knowledge of an organization (in this process), and of a slug and a domain it took or left. */
export type InvalidateFn = (orgId: number, slug?: string, domain?: string) => void;

/**
 * Spreads "organization changed" (suspended, renamed, settings, deleted) to every process: always to this
 * one at once, and with Redis to the others through pub/sub, typically within milliseconds. Without Redis,
 * or while it is down, other processes converge when their short cache TTL expires.
 */
export class InvalidationBus {
  private readonly origin = randomUUID();
  private subscriber: Redis | null = null;

  constructor(
    private readonly local: InvalidateFn,
    private readonly publisher: Redis | null,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Starts listening for other processes' invalidations (a dedicated connection: subscribers cannot publish). */
  start(): void {
    if (!this.publisher) return;
    const subscriber = this.publisher.duplicate({ enableOfflineQueue: true });
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined); // the publisher connection already reports Redis outages
    subscriber.on('message', (_channel: string, raw: string) => this.receive(raw));
    // Not awaited: with Redis down at start the subscription waits for it instead of blocking the start.
    // ioredis resubscribes by itself after a reconnect.
    subscriber.subscribe(CHANNEL).catch((error: unknown) => {
      this.log.warn({ err: error }, 'could not subscribe to tenant invalidations; relying on cache TTL');
    });
  }

  private receive(raw: string): void {
    try {
      const message = JSON.parse(raw) as InvalidationMessage;
      if (message.origin === this.origin || !Number.isSafeInteger(message.orgId)) return;
      this.local(
        message.orgId,
        typeof message.slug === 'string' ? message.slug : undefined,
        typeof message.domain === 'string' ? message.domain : undefined,
      );
    } catch {
      // Not ours or corrupt: ignore.
    }
  }

  /** Invalidates here at once, then tells the other processes. Never throws: Redis trouble only delays them. */
  invalidate(orgId: number, slug?: string, domain?: string): void {
    this.local(orgId, slug, domain);
    if (!this.publisher) return;
    const message: InvalidationMessage = {
      origin: this.origin,
      orgId,
      ...(slug ? { slug } : {}),
      ...(domain ? { domain } : {}),
    };
    this.publisher.publish(CHANNEL, JSON.stringify(message)).catch((error: unknown) => {
      this.log.warn(
        { err: error, orgId },
        'could not publish a tenant invalidation; other processes rely on cache TTL',
      );
    });
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
