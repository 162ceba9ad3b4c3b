import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { CoreDatabase } from '../db/core-schema.js';
import {
  claimDueMail,
  insertMail,
  markFailed,
  markSent,
  releaseLease,
  type ClaimedMail,
} from './outbox-repository.js';
import { createMailTransport, type MailTransport } from './transports.js';

/** An email to send. `text` is required (every client can show it); `html` is the optional rich version. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** Durable, retrying email delivery through the core `mail_outbox` table. */
export interface Mailer {
  /**
   * Durably records the mail in the core table `mail_outbox` using the given Kysely handle or transaction
   * (so it commits atomically with the caller's writes), then wakes the sender.
   * Never throws because of SMTP problems (only if the insert itself fails).
   */
  enqueue(mail: OutgoingMail, db?: Kysely<CoreDatabase>): Promise<void>;
  /**
   * Adds work that turns durable requests into outbox mail (e.g. "email a reset link to this address"); every
   * delivery pass runs the producers first, so their mail goes out in the same pass.
   */
  addProducer(producer: () => Promise<unknown>): void;
  /** Runs a delivery pass soon: call after recording something a producer will turn into mail. */
  wake(): void;
  /** Sends every due mail now; returns how many were delivered. Used by the background loop and by tests. */
  flush(): Promise<number>;
  /** Starts the background loop (polls due mail every few seconds, plus immediately after enqueue). */
  start(): void;
  /** Stops the loop and waits for an in-flight send to finish. */
  stop(): Promise<void>;
}

export interface MailerOptions {
  config: Config;
  /** The core database handle; claims and results are recorded through it (never inside a caller's transaction). */
  core: Kysely<CoreDatabase>;
  log: FastifyBaseLogger;
  /** How often the background loop looks for due mail (default 5 s); mostly for tests. */
  pollIntervalMs?: number;
}

/** After this many failed attempts a mail is left unsent, with its last error, for an operator to look at. */
export const MAX_ATTEMPTS = 10;
const BASE_DELAY_MS = 5_000;
const MAX_DELAY_MS = 3_600_000;
const POLL_INTERVAL_MS = 5_000;
/** Few rows per claim: a claimed row waits for the ones before it, and a slow server makes that costly. */
const BATCH_SIZE = 5;
/** How long a claimed row stays invisible to other claimers while this process sends it. */
const LEASE_MS = 60_000;
/**
 * Hard cap on one send, below the lease, so the outcome is recorded before another process may take the
 * row over. The SMTP socket timeouts normally end a bad send long before this.
 */
const SEND_DEADLINE_MS = 45_000;
/** A second wake after an enqueue inside a transaction, which the immediate wake may run before commit. */
const AFTER_COMMIT_WAKE_MS = 250;

/**
 * Delay before the next try after `attempts` failures: 5 s, 10 s, 20 s, … capped at one hour.
 *
 * @example
 * backoffMs(1); // 5000
 * backoffMs(3); // 20000
 */
export function backoffMs(attempts: number): number {
  return Math.min(BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1), MAX_DELAY_MS);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`send did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the mailer: SMTP when `config.smtpUrl` is set, otherwise `.eml` (+ readable `.txt`) files under
 * `DATA_DIR/mail`.
 * Delivery is at-least-once: a process that dies after sending but before recording it resends the mail
 * once its lease expires.
 *
 * @example
 * const mailer = createMailer({ config, core: core.db, log: app.log });
 * mailer.start();
 * await core.db.transaction().execute(async (trx) => {
 *   // ... insert the user and its token with trx ...
 *   await mailer.enqueue(verificationMail(email, link), trx);
 * });
 * await mailer.stop(); // on close, before the core database is closed
 */
export function createMailer(options: MailerOptions): Mailer {
  const { config, core } = options;
  const log = options.log.child({ component: 'mailer' });
  const pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_MS;

  let transport: MailTransport | undefined;
  let started = false;
  let stopping = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let wakeScheduled = false;
  // One drain at a time per process; at most one more is queued behind it, shared by every caller.
  let running: Promise<number> | undefined;
  let queued: Promise<number> | undefined;

  function getTransport(): MailTransport {
    transport ??= createMailTransport(config, log);
    return transport;
  }

  /** Sends one claimed mail and records the outcome; true when it was delivered. */
  async function deliver(mail: ClaimedMail): Promise<boolean> {
    try {
      await withDeadline(getTransport().send(mail), SEND_DEADLINE_MS);
    } catch (error) {
      const attempts = mail.attempts + 1;
      const delayMs = backoffMs(attempts);
      const recorded = await markFailed(core, mail.id, errorMessage(error), delayMs);
      // Ids, counts and the error only: the body holds verification and reset tokens.
      if (recorded && recorded.attempts >= MAX_ATTEMPTS) {
        log.error(
          { outboxId: mail.id, attempts: recorded.attempts, err: errorMessage(error) },
          'mail delivery failed; giving up',
        );
      } else {
        log.warn(
          { outboxId: mail.id, attempts, retryInMs: delayMs, err: errorMessage(error) },
          'mail delivery failed; will retry',
        );
      }
      return false;
    }
    await markSent(core, mail.id);
    log.debug({ outboxId: mail.id }, 'mail delivered');
    return true;
  }

  const producers: (() => Promise<unknown>)[] = [];

  async function drain(): Promise<number> {
    for (const produce of producers) if (!stopping) await produce();
    let delivered = 0;
    while (!stopping) {
      const batch = await claimDueMail(core, {
        limit: BATCH_SIZE,
        leaseMs: LEASE_MS,
        maxAttempts: MAX_ATTEMPTS,
      });
      for (const [index, mail] of batch.entries()) {
        if (stopping) {
          await releaseLease(
            core,
            batch.slice(index).map((m) => m.id),
          );
          return delivered;
        }
        if (await deliver(mail)) delivered += 1;
      }
      // A short batch means nothing else was due; mail enqueued meanwhile has woken a follow-up flush.
      if (batch.length < BATCH_SIZE) break;
    }
    return delivered;
  }

  function flush(): Promise<number> {
    if (!running) {
      running = drain().finally(() => {
        running = undefined;
      });
      return running;
    }
    // A flush asked for while one runs must still see mail that became due after that one's last claim.
    queued ??= running
      .catch(() => 0)
      .then(() => {
        queued = undefined;
        return flush();
      });
    return queued;
  }

  /** Background flush: errors (e.g. the database being briefly unreachable) are logged, the loop goes on. */
  function kick(): void {
    if (!started) return;
    flush().catch((error: unknown) => log.error({ err: errorMessage(error) }, 'mail flush failed'));
  }

  function wake(inTransaction: boolean): void {
    if (!started) return;
    if (!wakeScheduled) {
      wakeScheduled = true;
      setImmediate(() => {
        wakeScheduled = false;
        kick();
      }).unref();
    }
    // The immediate wake may run before the caller commits and find nothing; look again shortly after.
    // (On PGlite it simply waits for the single connection, i.e. for the commit.) The poll covers the rest.
    if (inTransaction) setTimeout(kick, AFTER_COMMIT_WAKE_MS).unref();
  }

  return {
    async enqueue(mail, db = core) {
      if (mail.to.trim() === '') throw new TypeError('mail needs a recipient');
      // Only an insert: the request that enqueues never waits for, or fails because of, SMTP.
      await insertMail(db, mail);
      wake(db.isTransaction);
    },

    addProducer(producer) {
      producers.push(producer);
    },

    wake() {
      wake(false);
    },

    flush,

    start() {
      if (started) return;
      started = true;
      pollTimer = setInterval(kick, pollIntervalMs);
      // The loop must never keep the process alive on its own (tests, CLI, shutdown).
      pollTimer.unref();
      kick(); // mail left over from a previous run goes out now, not after the first interval
    },

    async stop() {
      started = false;
      clearInterval(pollTimer);
      pollTimer = undefined;
      stopping = true;
      try {
        // The queued drain, if any, starts after the running one and returns at once (stopping is set).
        await (queued ?? running)?.catch(() => 0);
      } finally {
        stopping = false;
      }
      transport?.close();
      transport = undefined;
    },
  };
}
